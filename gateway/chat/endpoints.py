"""The ``/ws`` chat WebSocket route (thin: policy in protocol.py, I/O in connection.py)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from gateway.chat.connection import ChatConnection
from gateway.chat.protocol import origin_allowed

router = APIRouter()


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket) -> None:
    state = websocket.app.state
    settings = state.settings
    if not origin_allowed(
        websocket.headers.get("origin"), websocket.headers.get("host"), settings.allowed_origin_set
    ):
        # Closing before accept makes the server answer the handshake with HTTP 403.
        await websocket.close(code=1008)
        return
    await websocket.accept()
    await ChatConnection(
        websocket,
        state.chat_service,
        hello_timeout=settings.hello_timeout_seconds,
        idle_timeout=settings.idle_timeout_seconds,
        max_frame_bytes=settings.max_frame_bytes,
    ).run()
