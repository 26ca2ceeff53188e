"""Staff console logic: the handoff queue, taking a conversation over, agent messages
and giving it back to the bot (reading recorded conversations is ``review/``).

Callers may rely on:
- ``accept`` moves a session from ``requested`` to ``accepted`` by this agent (a
  supervisor may also take over one another agent holds) and sends the customer a
  ``handoff`` frame ``accepted``; from then on the customer's turns go to the console,
  not to Rasa (``TurnRunner``), until ``end``.
- ``send`` delivers an ``agent`` frame ``{seq, text, agent}`` to every socket of the
  session, stored for resume like any server frame; only the holding agent (or a
  supervisor) may send.
- ``end`` sends ``handoff`` ``ended`` and gives the conversation back to the bot; a
  still-``requested`` handoff may be ended too (declined).
- Every change is one atomic Redis script (``ChatStore.post_server_frame``) and is
  recorded in the transcript stream, so the transcript shows agent messages and
  handoff changes in order with the bot's turns.
- Refusals raise ``Problem``s: 404 unknown session, 409 wrong handoff state or held by
  another agent.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from redis.exceptions import RedisError

from gateway.chat import frames
from gateway.chat.hub import SessionHub
from gateway.chat.store import ChatStore, FrameRefused, HandoffState
from gateway.console.schemas import Handoff, Posted
from gateway.console.staff import Staff
from gateway.problems import Problem, StoreUnavailable
from gateway.transcripts.model import CONSOLE_ID_PREFIX


class SessionNotFound(Problem):
    status, slug, title = 404, "session-not-found", "No such chat session"


class HandoffConflict(Problem):
    status, slug, title = 409, "handoff-conflict", "The conversation is not in that state"


@contextlib.asynccontextmanager
async def _store_errors() -> AsyncIterator[None]:
    try:
        yield
    except RedisError as exc:
        raise StoreUnavailable() from exc


def _customer(owner: str | None) -> str | None:
    return owner.removeprefix("customer:") if owner and owner.startswith("customer:") else None


class ConsoleService:
    def __init__(self, *, store: ChatStore, hub: SessionHub) -> None:
        self._store = store
        self._hub = hub

    async def handoffs(self) -> list[Handoff]:
        out = []
        async with _store_errors():
            sessions = await self._store.handoff_sessions()
            for session_id in sessions["requested"] + sessions["accepted"]:
                state = await self._store.handoff_state(session_id)
                if state is None or state.state not in ("requested", "accepted"):
                    continue  # expired, or changed since the sets were read
                out.append(
                    Handoff(
                        session_id=session_id,
                        state=state.state,
                        customer_id=_customer(state.owner),
                        agent=state.agent_name,
                    )
                )
        return out

    async def accept(self, session_id: str, staff: Staff) -> Posted:
        allowed = ("requested", "accepted") if staff.supervisor else ("requested",)
        return await self._post(
            session_id,
            staff,
            frames.handoff(0, "accepted"),
            allowed=allowed,
            transition="accepted",
            holder=None,
        )

    async def send(self, session_id: str, staff: Staff, text: str) -> Posted:
        return await self._post(
            session_id,
            staff,
            frames.agent(0, text, staff.name),
            allowed=("accepted",),
            transition="",
            holder=None if staff.supervisor else staff.sub,
        )

    async def end(self, session_id: str, staff: Staff) -> Posted:
        # Only the holder (or a supervisor) ends a taken-over conversation; anyone may
        # decline a request. The script re-checks, so a change in between is refused.
        async with _store_errors():
            state = await self._store.handoff_state(session_id)
        holder = None
        if state is not None and state.state == "accepted" and not staff.supervisor:
            holder = staff.sub
        return await self._post(
            session_id,
            staff,
            frames.handoff(0, "ended"),
            allowed=("requested", "accepted"),
            transition="ended",
            holder=holder,
            state=state,
        )

    async def _post(
        self,
        session_id: str,
        staff: Staff,
        frame: dict[str, Any],
        *,
        allowed: tuple[str, ...],
        transition: str,
        holder: str | None,
        state: HandoffState | None = None,
    ) -> Posted:
        async with _store_errors():
            state = state or await self._store.handoff_state(session_id)
            transcript = {
                "session_id": session_id,
                "client_msg_id": CONSOLE_ID_PREFIX + uuid.uuid4().hex,
                "user_text": "",
                "kind": frame["type"],
                "customer_id": _customer(state.owner if state else None),
                "failed": False,
                "handoff": True,
                "latency_ms": 0,
                "created_at": time.time(),
            }
            result = await self._store.post_server_frame(
                session_id,
                frame,
                fanout=self._hub.fanout(session_id),
                allowed_states=allowed,
                holder=holder,
                transition=transition,
                agent=(staff.sub, staff.name),
                transcript=transcript,
            )
        if isinstance(result, FrameRefused):
            if result.reason == "gone":
                raise SessionNotFound()
            if result.reason == "agent":
                raise HandoffConflict("another agent holds this conversation")
            raise HandoffConflict(
                f"the handoff is {result.found or 'not requested'}; "
                f"this needs it {' or '.join(allowed)}"
            )
        self._hub.deliver_local(session_id, {**frame, "seq": result.seq})
        return Posted(session_id=session_id, seq=result.seq, state=transition or "accepted")
