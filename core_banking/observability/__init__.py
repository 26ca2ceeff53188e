"""Logs, traces and metrics of core_banking (contract: JSON log lines, ``GET /metrics``)."""
