"""How names of other people are shown to a customer."""

from __future__ import annotations


def mask_name(full_name: str) -> str:
    """'Anna Meier' -> 'Anna M.': enough to confirm the payee, not a full identity."""
    parts = full_name.split()
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0][:1] + "***"
    return f"{parts[0]} {parts[-1][:1]}."
