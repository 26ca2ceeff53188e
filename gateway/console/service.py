"""Staff console logic: the handoff queue, taking a conversation over, agent messages
and giving it back to the bot (reading recorded conversations is ``review/``).

Callers may rely on:
- ``handoffs`` lists the waiting conversations longest-waiting first, each with its
  wait by Redis's clock (the same for every gateway), then the ones staff hold.
- ``accept`` moves a session from ``requested`` to ``accepted`` by this agent and
  sends the customer a ``handoff`` frame ``accepted``; from then on the customer's
  turns go to the console, not to Rasa (``TurnRunner``), until ``end``. A supervisor
  may take over a conversation another agent holds, never silently: the customer and
  the agent see an ``accepted`` frame and an ``agent`` line naming who took over
  from whom (a barge-in).
- ``send`` delivers an ``agent`` frame ``{seq, text, agent}`` to every socket of the
  session, stored for resume like any server frame; only the staff member holding
  the conversation may send (a supervisor takes it over first).
- ``end`` sends ``handoff`` ``ended`` and gives the conversation back to the bot; a
  still-``requested`` handoff may be ended too (declined).
- ``expire`` ends a request nobody took (``expiry.py``): ``handoff`` ``ended`` and a
  ``bot`` line telling the customer the assistant is back.
- Every change is announced on the console feed (``live.py``).
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
from gateway.chat.store import ChatStore
from gateway.chat.store_results import FrameRefused, HandoffState
from gateway.console.live import ConsoleFeed
from gateway.console.schemas import Handoff, Posted
from gateway.console.staff import Staff
from gateway.problems import Problem, StoreUnavailable
from gateway.transcripts.model import CONSOLE_ID_PREFIX
from gateway.transcripts.names import CustomerNames

EXPIRED_NOTICE = (
    "Nobody from our team could join in time, so you're talking to the assistant "
    "again. You can ask for a person again at any time."
)


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
    def __init__(
        self,
        *,
        store: ChatStore,
        hub: SessionHub,
        feed: ConsoleFeed | None = None,
        names: CustomerNames | None = None,
    ) -> None:
        self._store = store
        self._hub = hub
        self._feed = feed
        self._names = names

    async def handoffs(self) -> list[Handoff]:
        found: list[tuple[str, HandoffState]] = []
        async with _store_errors():
            sessions = await self._store.handoff_sessions()
            now = await self._store.clock()
            for session_id in sessions["requested"] + sessions["accepted"]:
                state = await self._store.handoff_state(session_id)
                if state is None or state.state not in ("requested", "accepted"):
                    continue  # expired, or changed since the sets were read
                found.append((session_id, state))
        # Waiting first, longest wait first; then the held ones, longest-held first.
        found.sort(key=lambda f: (f[1].state != "requested", f[1].requested_at or now))
        names = await self._names.of([sid for sid, _ in found]) if self._names else {}
        return [
            Handoff(
                session_id=session_id,
                state=state.state,
                customer_id=_customer(state.owner),
                customer_username=names.get(session_id, (None, None))[0],
                customer_name=names.get(session_id, (None, None))[1],
                agent=state.agent_name,
                agent_sub=state.agent_sub,
                requested_at=state.requested_at,
                waiting_seconds=max(0, int(now - state.requested_at))
                if state.requested_at
                else None,
            )
            for session_id, state in found
        ]

    async def accept(self, session_id: str, staff: Staff) -> Posted:
        async with _store_errors():
            before = await self._store.handoff_state(session_id)
        barge_in = (
            staff.supervisor
            and before is not None
            and before.state == "accepted"
            and before.agent_sub != staff.sub
        )
        posted = await self._post(
            session_id,
            staff,
            frames.handoff(0, "accepted"),
            allowed=("requested", "accepted") if barge_in else ("requested",),
            transition="accepted",
            holder=before.agent_sub if barge_in and before else None,
            state=before,
        )
        if barge_in and before:
            # Said to the customer and the agent alike: the person has changed.
            text = f"{staff.name} (supervisor) has taken over this chat from {before.agent_name}."
            await self._post(
                session_id,
                staff,
                frames.agent(0, text, staff.name),
                allowed=("accepted",),
                transition="",
                holder=staff.sub,
            )
        return posted

    async def send(self, session_id: str, staff: Staff, text: str) -> Posted:
        # Only the holder writes: a supervisor takes over first (``accept``), which
        # everyone in the chat sees, so no one types into a colleague's chat unannounced.
        return await self._post(
            session_id,
            staff,
            frames.agent(0, text, staff.name),
            allowed=("accepted",),
            transition="",
            holder=staff.sub,
        )

    async def expire(self, session_id: str, system: Staff) -> bool:
        """End a request still waiting (False if someone took or ended it meanwhile)."""
        try:
            await self._post(
                session_id,
                system,
                frames.handoff(0, "ended"),
                allowed=("requested",),
                transition="ended",
                holder=None,
            )
        except (SessionNotFound, HandoffConflict):
            return False
        notice = frames.bot(0, "", {"text": EXPIRED_NOTICE})
        with contextlib.suppress(SessionNotFound, HandoffConflict):  # asked again since
            await self._post(session_id, system, notice, allowed=("",), transition="", holder=None)
        return True

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
        if self._feed is not None:
            await self._feed.publish({"type": "queue", "session_id": session_id})
        return Posted(session_id=session_id, seq=result.seq, state=transition or "accepted")
