"""Drives one accepted WebSocket: feeds ``ChatProtocol`` and performs its actions.

Two tasks per socket: the reader (this ``run``) and a writer that is the only one to
touch ``send_*`` (so frames from the hub and the reader never interleave mid-send).
The reader admits turns itself (``ChatService.submit``: one Redis round trip, which
also gives natural back-pressure); running them is the session worker's job
(``turns.py``), so a turn goes on -- and its replies are stored for resume -- when the
socket that sent it drops.

Timers: the hello deadline (HELLO_TIMEOUT_SECONDS) before ``welcome``; afterwards
IDLE_TIMEOUT_SECONDS without any client frame closes the socket with 1001. Transport
liveness (dead peers) is uvicorn's WebSocket ping/pong (``ws_ping_interval``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from gateway.chat import protocol
from gateway.chat.frames import Frame
from gateway.chat.protocol import (
    Action,
    ChatProtocol,
    Close,
    OpenSession,
    RecordRating,
    Send,
    StartTurn,
    State,
    locale_from_accept_language,
)
from gateway.chat.service import Caller, ChatService, Opened

log = logging.getLogger(__name__)
_STORED_TYPES = frozenset({"bot", "agent", "handoff"})


@dataclass(frozen=True)
class _CloseSignal:
    code: int


class ChatConnection:
    def __init__(
        self,
        websocket: WebSocket,
        service: ChatService,
        *,
        hello_timeout: float,
        idle_timeout: float,
        max_frame_bytes: int,
    ) -> None:
        self._ws = websocket
        self._service = service
        self._hello_timeout = hello_timeout
        self._idle_timeout = idle_timeout
        self._protocol = ChatProtocol(max_frame_bytes)
        self._outbox: asyncio.Queue[Frame | _CloseSignal] = asyncio.Queue()
        self._socket_id = service.new_socket_id()
        self._session_id: str | None = None
        self._caller = Caller()
        # Live hub frames that arrive while welcome + replay are being prepared.
        self._held: list[Frame] | None = []

    def _send(self, frame: Frame) -> None:
        self._outbox.put_nowait(frame)

    def _deliver(self, frame: Frame) -> None:
        if frame.get("type") == protocol.ERASED_SIGNAL:
            for action in self._protocol.session_erased():
                if isinstance(action, Send):
                    self._send(action.frame)
                elif isinstance(action, Close):
                    self._outbox.put_nowait(_CloseSignal(action.code))
            return
        frame = self._service.live(frame)
        if self._held is not None:
            self._held.append(frame)
        else:
            self._send(frame)

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        metrics = self._service.metrics
        metrics.sockets_open.inc()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._hello_timeout
        try:
            while self._protocol.state is not State.CLOSED:
                timeout = (
                    deadline - loop.time()
                    if self._protocol.state is State.AWAITING_HELLO
                    else self._idle_timeout
                )
                try:
                    message = await asyncio.wait_for(self._ws.receive(), timeout)
                except TimeoutError:
                    actions = (
                        self._protocol.hello_timed_out()
                        if self._protocol.state is State.AWAITING_HELLO
                        else self._protocol.idle_timed_out()
                    )
                else:
                    if message["type"] == "websocket.disconnect":
                        break
                    if message.get("text") is not None:
                        actions = self._protocol.receive_text(message["text"])
                    else:
                        actions = self._protocol.receive_bytes(message.get("bytes") or b"")
                await self._perform(actions)
        except WebSocketDisconnect:
            pass
        finally:
            metrics.sockets_open.dec()
            if self._session_id is not None:
                self._service.hub.unregister(self._session_id, self._deliver)
            await self._service.socket_closed(self._socket_id)
            self._outbox.put_nowait(_CloseSignal(1000))
            await writer

    async def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                if action.frame.get("type") == "error":
                    self._service.metrics.error(str(action.frame["code"]))
                self._send(action.frame)
            elif isinstance(action, Close):
                self._outbox.put_nowait(_CloseSignal(action.code))
            elif isinstance(action, OpenSession):
                await self._perform(await self._open(action))
            elif isinstance(action, StartTurn | RecordRating):
                # The socket's own token must still be valid at every turn (the turn
                # itself runs with a short-lived delegated token, see turns.py).
                if not protocol.auth_valid(self._caller.expires_at, time.time()):
                    await self._perform(self._protocol.auth_expired())
                    return
                assert self._session_id is not None
                if isinstance(action, StartTurn):
                    await self._service.submit(
                        self._session_id, self._caller, action.message, self._send
                    )
                else:
                    await self._service.rate(
                        self._session_id, self._caller, action.rating, self._send
                    )

    async def _open(self, action: OpenSession) -> list[Action]:
        hello = action.hello
        # Listen before reading the stored frames so nothing published in between is
        # lost; duplicates of replayed frames are dropped when the hold is released.
        if hello.session_id is not None:
            self._service.hub.register(hello.session_id, self._deliver)
        client = self._ws.client
        outcome = await self._service.open_session(
            hello,
            self._socket_id,
            client.host if client is not None else None,
            locale_from_accept_language(self._ws.headers.get("accept-language")),
        )
        if hello.session_id is not None and (
            not isinstance(outcome, Opened) or outcome.session_id != hello.session_id
        ):
            self._service.hub.unregister(hello.session_id, self._deliver)
        if not isinstance(outcome, Opened):
            return self._protocol.session_refused(outcome.code, outcome.message, outcome.close_code)
        self._session_id, self._caller = outcome.session_id, outcome.caller
        self._service.hub.register(outcome.session_id, self._deliver)
        actions = self._protocol.session_opened(
            outcome.session_id,
            resumed=outcome.resumed,
            user=outcome.caller.customer_id,
            replay=outcome.replay,
        )
        replayed = max((int(f["seq"]) for f in outcome.replay), default=hello.last_seq or 0)
        held, self._held = self._held or [], None
        actions += [
            Send(f)
            for f in held
            if not (f.get("type") in _STORED_TYPES and int(f["seq"]) <= replayed)
        ]
        return actions

    async def _write(self) -> None:
        try:
            while True:
                item = await self._outbox.get()
                if isinstance(item, _CloseSignal):
                    await self._ws.close(code=item.code)
                    return
                await self._ws.send_text(json.dumps(item))
        except Exception:  # the peer went away; nothing left to tell it
            log.debug("writer stopped", exc_info=True)
