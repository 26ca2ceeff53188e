"""Sanic in test mode for every test here that serves the REST channel: Sanic 21 rewrites
its own response code when a server starts, and a second server in one process fails
(KeyError: 'http1_response_header') unless every app is in test mode."""

from sanic import Sanic

Sanic.test_mode = True
