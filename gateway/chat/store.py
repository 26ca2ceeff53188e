"""Redis persistence of chat sessions: owner, seq counter, stored frames, turns, the
per-session turn queue and its worker lease, gift-card references.

Keys (all under REDIS_KEY_PREFIX; session keys expire SESSION_TTL_SECONDS after the
last activity):
- ``chat:{sid}``          hash: ``owner`` (``guest`` | ``customer:<sub>``),
                          ``expect_secret`` (``1`` when the bot's last reply asked for a
                          CVV), ``handoff`` (``requested`` once the bot asked for a human),
                          ``handoff_at`` (Redis TIME, seconds, when it was first asked for)
- ``chat:{sid}:seq``      the per-session seq counter (INCR: starts at 1, never reused)
- ``chat:{sid}:frames``   list of JSON frames that carry a seq (bot/agent/handoff, and
                          ``user``: the customer's own masked turn, for resume),
                          trimmed to the last SESSION_RETENTION_FRAMES
- ``chat:{sid}:t:{id}``   hash for one client_msg_id: ``seq`` (its ack), ``state``
                          (``pending``/``done``/``failed``), ``turn`` (JSON ``QueuedTurn``,
                          masked text only), ``frames`` (JSON replies once answered)
- ``chat:{sid}:q``        list of client_msg_ids waiting, in arrival order (head = next)
- ``chat:{sid}:lease``    token of the one worker (any instance) draining the queue
- ``chat:{sid}:held``     JSON list of requests (masked text) of earlier messages held
                          until the task before them is done (``sequence.py``)
- ``turnq:active``        set of session ids whose queue may be non-empty (sweeper input)
- ``chat:{sid}`` also ``agent_sub``/``agent_name`` while an agent holds the session
  (``handoff`` = ``accepted``; the turn worker then passes turns to the agent, not Rasa)
- ``handoff:requested``   set of session ids that asked for a human (staff console)
- ``handoff:accepted``    set of session ids an agent has taken over
- ``pii:{sid}:{ref}``     a gift-card code behind ``[giftcard:<ref>]`` (PII_REF_TTL_SECONDS)
- ``owner:{owner}:sessions`` set of a customer's session ids (erasure finds them here)
- ``transcripts:erased``  set of erased session ids: the transcript writer drops their
                          entries still in the stream

- ``transcripts``         stream of finished turns (``transcripts/writer.py``), XADDed by
                          ``complete``

Callers may rely on: seqs survive gateway restarts and are strictly increasing per
session; ``submit`` is atomic (dedupe + token buckets + bound + seq + store + enqueue +
publish of the ack), and ``complete`` only takes effect while the caller still holds
the lease, so a worker that lost its lease can never record or pop a turn; frames are
published (to other instances) by the same script that stores them, never before;
every method raises ``RedisError`` when Redis is down. One round trip each: ``submit``
per message, ``claim`` + ``complete`` per turn run. The worker's scripts read the queue
head's turn record by a key built in the script (fine on a single Redis, not Cluster).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from redis.asyncio import Redis

from gateway.chat import frames
from gateway.chat.frames import Frame
from gateway.chat.protocol import GUEST_OWNER, TurnRecord
from gateway.chat.store_results import (
    Admitted,
    Completed,
    Fanout,
    FramePosted,
    FrameRefused,
    HandoffState,
    Known,
    Limited,
    NextTurn,
    QueueFull,
    seq_template,
)
from gateway.chat.store_scripts import (
    CLAIM_LUA,
    COMPLETE_LUA,
    RELEASE_LUA,
    RENEW_LUA,
    SERVER_FRAME_LUA,
    SUBMIT_LUA,
)


def erased_set_key(transcript_stream: str) -> str:
    """Session ids erased by staff; the transcript writer drops their pending entries."""
    return f"{transcript_stream}:erased"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _next_turn(reply: Any) -> NextTurn | None:
    if not reply:
        return None
    cmid, raw = _text(reply[0]), reply[1]
    handoff = _text(reply[2]) if len(reply) > 2 else ""
    return NextTurn(cmid, dict(json.loads(raw)) if raw else None, handoff == "accepted")


class ChatStore:
    def __init__(
        self,
        redis: Redis,
        *,
        key_prefix: str,
        retention: int,
        ttl_seconds: int,
        queue_max: int = 20,
        transcript_stream: str | None = None,
        transcript_max: int = 100_000,
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._retention = retention
        self._ttl = ttl_seconds
        self._queue_max = queue_max
        self._transcripts = transcript_stream
        self._transcript_max = transcript_max
        self._submit = redis.register_script(SUBMIT_LUA)
        self._claim = redis.register_script(CLAIM_LUA)
        self._renew = redis.register_script(RENEW_LUA)
        self._release = redis.register_script(RELEASE_LUA)
        self._complete = redis.register_script(COMPLETE_LUA)
        self._server_frame = redis.register_script(SERVER_FRAME_LUA)

    def _key(self, session_id: str, *parts: str) -> str:
        return ":".join((f"{self._prefix}chat", session_id, *parts))

    @property
    def _active_key(self) -> str:
        return f"{self._prefix}turnq:active"

    @property
    def handoff_key(self) -> str:
        return f"{self._prefix}handoff:requested"

    # --- sessions ---------------------------------------------------------------------

    async def create_session(self, owner: str) -> str:
        session_id = secrets.token_hex(16)  # 128 random bits: unguessable, see may_resume
        key = self._key(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"owner": owner})
            pipe.expire(key, self._ttl)
            if owner != GUEST_OWNER:
                pipe.sadd(self._owner_key(owner), session_id)
                pipe.expire(self._owner_key(owner), self._ttl)
            await pipe.execute()
        return session_id

    def _owner_key(self, owner: str) -> str:
        return f"{self._prefix}owner:{owner}:sessions"

    async def sessions_of(self, owner: str) -> list[str]:
        """The owner's session ids still in Redis (customers only)."""
        return sorted(_text(m) for m in await self._redis.smembers(self._owner_key(owner)))

    async def erase_sessions(self, owners: list[str], session_ids: list[str]) -> None:
        """Delete every key of these sessions (frames, turns, queue, gift-card refs),
        take them off the shared sets, and mark them erased so the transcript writer
        drops what is still on its way. Staff-only and rare: SCANs for the per-turn
        and per-ref keys."""
        keys = [self._owner_key(owner) for owner in owners]
        for sid in session_ids:
            keys.append(self._key(sid))
            for pattern in (self._key(sid, "*"), self._pii_key(sid, "*")):
                keys += [k async for k in self._redis.scan_iter(match=pattern, count=1000)]
        async with self._redis.pipeline(transaction=True) as pipe:
            if keys:
                pipe.delete(*keys)
            if session_ids:
                for shared in (self._active_key, self.handoff_key, self.accepted_key):
                    pipe.srem(shared, *session_ids)
                if self._transcripts is not None:
                    pipe.sadd(erased_set_key(self._transcripts), *session_ids)
            await pipe.execute()

    async def add_transcript_event(self, entry: dict[str, Any]) -> None:
        """Put a customer's feedback or rating on the transcript stream (the writer
        stores it in stream order, so a later one replaces an earlier one)."""
        if self._transcripts is not None:
            await self._redis.xadd(
                self._transcripts,
                {"turn": json.dumps(entry)},
                maxlen=self._transcript_max,
                approximate=True,
            )

    async def get_owner(self, session_id: str) -> str | None:
        owner = await self._redis.hget(self._key(session_id), "owner")
        return owner.decode() if isinstance(owner, bytes) else owner

    async def session_field(self, session_id: str, name: str) -> str | None:
        value = await self._redis.hget(self._key(session_id), name)
        return value.decode() if isinstance(value, bytes) else value

    async def touch(self, session_id: str) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in (
                self._key(session_id),
                self._key(session_id, "seq"),
                self._key(session_id, "frames"),
            ):
                pipe.expire(key, self._ttl)
            await pipe.execute()

    async def held_requests(self, session_id: str) -> list[str]:
        raw = await self._redis.get(self._key(session_id, "held"))
        held = json.loads(raw) if raw else []
        return [str(item) for item in held] if isinstance(held, list) else []

    async def hold_requests(self, session_id: str, requests: list[str]) -> None:
        """Written only by the worker holding the session's lease (one turn at a time)."""
        key = self._key(session_id, "held")
        if requests:
            await self._redis.set(key, json.dumps(requests), ex=self._ttl)
        else:
            await self._redis.delete(key)

    async def stored_frames(self, session_id: str) -> list[Frame]:
        raw = await self._redis.lrange(self._key(session_id, "frames"), 0, -1)
        return [json.loads(item) for item in raw]

    # --- turns and the per-session queue ----------------------------------------------

    async def submit(
        self,
        session_id: str,
        client_msg_id: str,
        turn: dict[str, Any],
        *,
        secret_turn: dict[str, Any] | None,
        buckets: tuple[list[str], list[int]],
        bucket_names: tuple[str, ...],
        refs: dict[str, str],
        ref_ttl: int,
        ack: Frame,
        fanout: Fanout,
    ) -> Admitted | Known | Limited | QueueFull:
        """Admit one user message in one atomic script: a known ``client_msg_id`` is
        answered with its record (nothing charged); otherwise take a token from each
        bucket (``Limits.message_buckets``), enforce TURN_QUEUE_MAX, pick ``turn`` or,
        if the session expects a secret, ``secret_turn``, allocate the ack seq, store
        the pending turn, enqueue it, refresh the session's expiry, store the gift-card
        ``refs`` and publish ``ack`` (its seq filled in) to ``fanout``."""
        bucket_keys, bucket_args = buckets
        ack_head, ack_tail = seq_template(ack)
        user_head, user_tail = seq_template(frames.user(0, client_msg_id, turn["content"]))
        stored = secret_turn or turn
        secret_head, secret_tail = seq_template(frames.user(0, client_msg_id, stored["content"]))
        keys = [
            self._key(session_id, "t", client_msg_id),
            self._key(session_id, "seq"),
            self._key(session_id, "q"),
            self._active_key,
            self._key(session_id),
            self._key(session_id, "frames"),
            *bucket_keys,
            *(self._pii_key(session_id, ref) for ref in refs),
        ]
        args: list[str | int] = [
            client_msg_id,
            json.dumps(turn),
            "" if secret_turn is None else json.dumps(secret_turn),
            self._queue_max,
            self._ttl,
            session_id,
            fanout.channel,
            fanout.head + ack_head,
            ack_tail + fanout.tail,
            len(bucket_keys),
            len(refs),
            ref_ttl,
            *bucket_args,
            *refs.values(),
            user_head,
            user_tail,
            secret_head,
            secret_tail,
            self._retention,
        ]
        reply = await self._submit(keys=keys, args=args)
        kind = _text(reply[0])
        if kind == "ok":
            return Admitted(int(reply[1]))
        if kind == "known":
            state, raw = _text(reply[2]), reply[3]
            return Known(
                TurnRecord(
                    seq=int(reply[1]),
                    done=state in ("done", "failed"),
                    frames=tuple(json.loads(raw)) if raw else (),
                )
            )
        if kind == "limited":
            return Limited(bucket_names[int(reply[1]) - 1])
        return QueueFull()

    def _entry_around_replies(self, transcript: dict[str, Any] | None) -> tuple[str, str]:
        """The transcript entry's JSON split where its ``replies`` go (the scripts put
        the stored frames there); ``("", "")`` when there is no entry to write."""
        if transcript is None or self._transcripts is None:
            return "", ""
        text = json.dumps({**transcript, "replies": None})
        head, _, tail = text.rpartition("null")  # replies is the last key
        return head, tail

    def _turn_prefix(self, session_id: str) -> str:
        return self._key(session_id, "t", "")

    async def claim(
        self, session_id: str, token: str, ttl: float, typing_on: str, fanout: Fanout
    ) -> NextTurn | None:
        """Take the session's lease and read the queue head, in one script. None when
        another worker holds the lease, or when the queue is empty (the lease is then
        given up again). Otherwise ``typing_on`` (a frame's JSON) has been published
        to ``fanout`` for a head whose record exists."""
        keys = [self._key(session_id, "lease"), self._key(session_id, "q"), self._active_key]
        reply = await self._claim(
            keys=keys,
            args=[
                token,
                int(ttl * 1000),
                self._turn_prefix(session_id),
                session_id,
                fanout.channel,
                fanout.head + typing_on + fanout.tail,
            ],
        )
        return _next_turn(reply) if reply else None

    async def active_sessions(self) -> list[str]:
        members = await self._redis.smembers(self._active_key)
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    async def lease_held(self, session_id: str) -> bool:
        return bool(await self._redis.exists(self._key(session_id, "lease")))

    async def renew_lease(self, session_id: str, token: str, ttl: float) -> bool:
        return bool(
            await self._renew(keys=[self._key(session_id, "lease")], args=[token, int(ttl * 1000)])
        )

    async def release_lease(self, session_id: str, token: str) -> int:
        """Give the lease up; returns how many turns are still queued."""
        return int(
            await self._release(
                keys=[self._key(session_id, "lease"), self._key(session_id, "q"), self._active_key],
                args=[token, session_id],
            )
        )

    async def complete(
        self,
        session_id: str,
        client_msg_id: str,
        lease_token: str,
        replies: list[Frame],
        *,
        fanout: Fanout,
        typing_off: str,
        typing_on: str,
        failed: bool = False,
        expect_secret: bool = False,
        handoff: bool = False,
        transcript: dict[str, Any] | None = None,
    ) -> Completed | None:
        """Only if ``lease_token`` still holds the lease (None otherwise), in one script:
        allocate consecutive seqs for ``replies`` (their ``seq`` values are replaced),
        record them on the turn, append them to the frame log, pop the turn, update the
        session flags, XADD ``transcript`` plus ``{"replies": [...]}`` to the transcript
        stream, publish the replies and then ``typing_off`` (JSON, '' for none) to
        ``fanout``; then, like ``claim``, read the next queue head (publishing
        ``typing_on`` for it) or give the lease up when the queue is empty."""
        keys = [
            self._key(session_id, "lease"),
            self._key(session_id, "q"),
            self._active_key,
            self._key(session_id, "t", client_msg_id),
            self._key(session_id, "frames"),
            self._key(session_id),
            self.handoff_key,
            self._key(session_id, "seq"),
            self._transcripts or self._key(session_id, "no-transcripts"),
        ]
        entry_head, entry_tail = self._entry_around_replies(transcript)
        templates = [part for frame in replies for part in seq_template(frame)]
        args: list[str | int] = [
            lease_token,
            client_msg_id,
            "failed" if failed else "done",
            self._retention,
            self._ttl,
            "1" if expect_secret else "0",
            "1" if handoff else "0",
            session_id,
            fanout.channel,
            fanout.head,
            fanout.tail,
            typing_off,
            fanout.head + typing_on + fanout.tail,
            self._turn_prefix(session_id),
            entry_head,
            entry_tail,
            self._transcript_max,
            len(replies),
            *templates,
        ]
        reply = await self._complete(keys=keys, args=args)
        if not reply:
            return None
        return Completed(int(reply[0]), _next_turn(reply[1]))

    # --- handoff to a person (the staff console) ----------------------------------------

    @property
    def accepted_key(self) -> str:
        return f"{self._prefix}handoff:accepted"

    async def handoff_sessions(self) -> dict[str, list[str]]:
        """Session ids waiting for a person (``requested``) and taken over (``accepted``)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.smembers(self.handoff_key)
            pipe.smembers(self.accepted_key)
            requested, accepted = await pipe.execute()
        return {
            "requested": sorted(_text(m) for m in requested),
            "accepted": sorted(_text(m) for m in accepted),
        }

    async def queue_position(self, session_id: str) -> tuple[int, int]:
        """(place, waiting): where this session stands among the sessions waiting for a
        person, longest wait first (1 = next), and how many wait. A session not yet in
        the queue is placed after everyone waiting now (the turn asking for a person
        queues it when its replies are stored)."""
        waiting = [_text(m) for m in await self._redis.smembers(self.handoff_key)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid in waiting:
                pipe.hget(self._key(sid), "handoff_at")
            since = await pipe.execute()
        order = sorted(
            (float(at) if at else float("inf"), sid) for sid, at in zip(waiting, since, strict=True)
        )
        ranked = [sid for _, sid in order]
        if session_id in ranked:
            return ranked.index(session_id) + 1, len(ranked)
        return len(ranked) + 1, len(ranked) + 1

    async def handoff_state(self, session_id: str) -> HandoffState | None:
        """None when the session does not exist (or expired)."""
        owner, state, sub, name, at = await self._redis.hmget(
            self._key(session_id), ["owner", "handoff", "agent_sub", "agent_name", "handoff_at"]
        )
        if owner is None:
            return None
        return HandoffState(
            _text(owner),
            _text(state) if state else "",
            _text(sub) if sub else None,
            _text(name) if name else None,
            float(at) if at else None,
        )

    async def stamp_handoff(self, session_id: str) -> None:
        """Stamp a request made before requests carried their time: from now."""
        now = await self.clock()
        await self._redis.hsetnx(self._key(session_id), "handoff_at", f"{now:.6f}")

    async def clock(self) -> float:
        """Redis's time (epoch seconds): the clock ``handoff_at`` was stamped with."""
        seconds, micros = await self._redis.time()
        return seconds + micros / 1_000_000

    async def post_server_frame(
        self,
        session_id: str,
        frame: Frame,
        *,
        fanout: Fanout,
        allowed_states: tuple[str, ...],
        holder: str | None = None,
        transition: str = "",
        agent: tuple[str, str] = ("", ""),
        transcript: dict[str, Any] | None = None,
    ) -> FramePosted | FrameRefused:
        """Atomically, only if the session exists, its handoff state is one of
        ``allowed_states`` ('' = none) and (given ``holder``) that agent holds it:
        apply ``transition`` (``accepted``: record ``agent`` (sub, display name), move
        the session from the
        requested set to the accepted set; ``ended``: clear both), give ``frame`` the
        next seq, store it for resume, XADD ``transcript`` plus ``{"replies": [frame]}``
        to the transcript stream and publish it to ``fanout``. The caller delivers the
        frame to local sockets (``SessionHub.deliver_local``)."""
        head, tail = seq_template(frame)
        entry_head, entry_tail = self._entry_around_replies(transcript)
        if entry_head:
            entry_head, entry_tail = entry_head + "[", "]" + entry_tail
        keys = [
            self._key(session_id),
            self._key(session_id, "seq"),
            self._key(session_id, "frames"),
            self.handoff_key,
            self.accepted_key,
            self._transcripts or self._key(session_id, "no-transcripts"),
        ]
        args: list[str | int] = [
            "|" + "|".join(allowed_states) + "|",
            holder or "",
            transition,
            agent[0],
            agent[1],
            session_id,
            head,
            tail,
            self._retention,
            self._ttl,
            fanout.channel,
            fanout.head,
            fanout.tail,
            entry_head,
            entry_tail,
            self._transcript_max,
        ]
        reply = await self._server_frame(keys=keys, args=args)
        if _text(reply[0]) == "ok":
            return FramePosted(int(reply[1]))
        return FrameRefused(_text(reply[0]), _text(reply[1]))

    # --- gift-card references ---------------------------------------------------------

    def _pii_key(self, session_id: str, ref: str) -> str:
        return f"{self._prefix}pii:{session_id}:{ref}"

    async def resolve_ref(self, session_id: str, ref: str) -> str | None:
        value = await self._redis.get(self._pii_key(session_id, ref))
        return value.decode() if isinstance(value, bytes) else value
