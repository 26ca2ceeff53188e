"""Drives one accepted WebSocket: feeds ``ChatProtocol`` and performs its actions.

Three tasks per socket: the reader (this ``run``), a writer that is the only one to
touch ``send_*`` (so frames from the hub, the turn worker and the reader never
interleave mid-send), and a turn worker that runs the socket's turns in order.
A turn that is running when the socket drops still finishes (its replies are stored
for resume); the worker then stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from gateway.chat import frames
from gateway.chat.frames import Frame, MessageFrame
from gateway.chat.protocol import (
    Action,
    ChatProtocol,
    Close,
    OpenSession,
    Send,
    StartTurn,
    State,
)
from gateway.chat.service import Caller, ChatService, Opened

log = logging.getLogger(__name__)
MAX_QUEUED_TURNS = 32
_STORED_TYPES = frozenset({"bot", "agent", "handoff"})


@dataclass(frozen=True)
class _CloseSignal:
    code: int


class ChatConnection:
    def __init__(
        self, websocket: WebSocket, service: ChatService, *, hello_timeout: float,
        max_frame_bytes: int, background: set[asyncio.Task[None]],
    ) -> None:
        self._ws = websocket
        self._service = service
        self._hello_timeout = hello_timeout
        self._protocol = ChatProtocol(max_frame_bytes)
        self._outbox: asyncio.Queue[Frame | _CloseSignal] = asyncio.Queue()
        # Unbounded so the stop marker always fits; StartTurn enforces MAX_QUEUED_TURNS.
        self._turns: asyncio.Queue[MessageFrame | None] = asyncio.Queue()
        self._background = background  # owned by the app, so shutdown can cancel them
        self._session_id: str | None = None
        self._caller = Caller()
        # Live hub frames that arrive while welcome + replay are being prepared.
        self._held: list[Frame] | None = []

    def _send(self, frame: Frame) -> None:
        self._outbox.put_nowait(frame)

    def _deliver(self, frame: Frame) -> None:
        if self._held is not None:
            self._held.append(frame)
        else:
            self._send(frame)

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._hello_timeout
        try:
            while self._protocol.state is not State.CLOSED:
                timeout = (deadline - loop.time()
                           if self._protocol.state is State.AWAITING_HELLO else None)
                try:
                    message = await asyncio.wait_for(self._ws.receive(), timeout)
                except TimeoutError:
                    actions = self._protocol.hello_timed_out()
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
            if self._session_id is not None:
                self._service.hub.unregister(self._session_id, self._deliver)
            self._turns.put_nowait(None)  # worker: finish queued turns, then stop
            self._outbox.put_nowait(_CloseSignal(1000))
            await writer

    async def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self._send(action.frame)
            elif isinstance(action, Close):
                self._outbox.put_nowait(_CloseSignal(action.code))
            elif isinstance(action, OpenSession):
                await self._perform(await self._open(action))
            elif isinstance(action, StartTurn):
                if self._turns.qsize() >= MAX_QUEUED_TURNS:
                    self._send(frames.error("rate_limited", "too many turns in flight",
                                            action.message.client_msg_id))
                else:
                    self._turns.put_nowait(action.message)

    async def _open(self, action: OpenSession) -> list[Action]:
        hello = action.hello
        # Listen before reading the stored frames so nothing published in between is
        # lost; duplicates of replayed frames are dropped when the hold is released.
        if hello.session_id is not None:
            self._service.hub.register(hello.session_id, self._deliver)
        outcome = await self._service.open_session(hello)
        if hello.session_id is not None and (
            not isinstance(outcome, Opened) or outcome.session_id != hello.session_id
        ):
            self._service.hub.unregister(hello.session_id, self._deliver)
        if not isinstance(outcome, Opened):
            return self._protocol.session_refused(
                outcome.code, outcome.message, outcome.close_code)
        self._session_id, self._caller = outcome.session_id, outcome.caller
        self._service.hub.register(outcome.session_id, self._deliver)
        actions = self._protocol.session_opened(
            outcome.session_id, resumed=outcome.resumed,
            user=outcome.caller.customer_id, replay=outcome.replay)
        replayed = max((int(f["seq"]) for f in outcome.replay), default=hello.last_seq or 0)
        held, self._held = self._held or [], None
        actions += [Send(f) for f in held
                    if not (f.get("type") in _STORED_TYPES and int(f["seq"]) <= replayed)]
        task = asyncio.create_task(self._work(outcome.session_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return actions

    async def _work(self, session_id: str) -> None:
        while (message := await self._turns.get()) is not None:
            try:
                await self._service.run_turn(session_id, self._caller, message, self._send)
            except Exception:
                log.exception("turn failed")
                self._send(frames.error("internal", "something went wrong",
                                        message.client_msg_id))

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
