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
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from gateway.chat import frames
from gateway.chat.frames import Frame
from gateway.chat.limits import TAKE_TOKENS_LUA
from gateway.chat.protocol import GUEST_OWNER, TurnRecord

# Frames whose seq Redis allocates are sent to the scripts as JSON templates: the text
# before and after the seq value (``seq_template``); the script splices the number in.
SEQ_SENTINEL = 7_340_032_000_000_001

# Admission, one round trip. KEYS: turn, seq, queue, active, session, frames,
# buckets..., pii refs...  ARGV: 1 client_msg_id, 2 turn json, 3 turn json to store
# instead when the session expects a secret ('' = same), 4 queue max, 5 ttl, 6 sid,
# 7 channel, 8-9 ack envelope around its seq, 10 bucket count, 11 ref count, 12 ref ttl,
# then (capacity, window ms) per bucket, then one value per ref, then the ``user`` frame
# around its seq (as given, then as stored when the secret form is taken), retention.
_SUBMIT = (
    TAKE_TOKENS_LUA
    + """
local rec = redis.call('HMGET', KEYS[1], 'seq', 'state', 'frames')
if rec[1] then return {'known', rec[1], rec[2] or '', rec[3] or ''} end
local nb, nrefs = tonumber(ARGV[10]), tonumber(ARGV[11])
local hit = take_tokens(7, 13, nb)
if hit > 0 then return {'limited', tostring(hit)} end
if redis.call('LLEN', KEYS[3]) >= tonumber(ARGV[4]) then return {'full'} end
local turn = ARGV[2]
if ARGV[3] ~= '' and redis.call('HGET', KEYS[5], 'expect_secret') == '1' then
  turn = ARGV[3]
end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'seq', seq, 'state', 'pending', 'turn', turn)
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[6])
for _, i in ipairs({1, 2, 3, 5, 6}) do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
for i = 1, nrefs do
  redis.call('SET', KEYS[6 + nb + i], ARGV[12 + 2 * nb + i], 'EX', ARGV[12])
end
-- The customer's own turn, masked as stored, for resume (a ``user`` frame).
local u = 12 + 2 * nb + nrefs
local user_frame = ARGV[u + 1] .. seq .. ARGV[u + 2]
if turn ~= ARGV[2] then user_frame = ARGV[u + 3] .. seq .. ARGV[u + 4] end
redis.call('RPUSH', KEYS[6], user_frame)
redis.call('LTRIM', KEYS[6], -tonumber(ARGV[u + 5]), -1)
redis.call('PUBLISH', ARGV[7], ARGV[8] .. seq .. ARGV[9])
return {'ok', tostring(seq)}
"""
)
# The worker's next step; KEYS 1-3 are lease, queue, active in both scripts using it.
# Returns {} after giving the lease up (queue empty), else {client_msg_id, turn json}
# ('' when the record expired) after publishing typing-on for it.
_NEXT_TURN = """
local function next_turn(turn_prefix, sid, channel, typing_on)
  local head = redis.call('LINDEX', KEYS[2], 0)
  if not head then
    redis.call('DEL', KEYS[1])
    redis.call('SREM', KEYS[3], sid)
    return {}
  end
  local turn = redis.call('HGET', turn_prefix .. head, 'turn')
  if turn then redis.call('PUBLISH', channel, typing_on) else turn = '' end
  -- the session hash is the turn prefix without its trailing ':t:'
  local handoff = redis.call('HGET', string.sub(turn_prefix, 1, -4), 'handoff') or ''
  return {head, turn, handoff}
end
"""
# KEYS: lease, queue, active  ARGV: token, ttl ms, turn key prefix, sid, channel,
# typing-on envelope.  false when another worker holds the lease.
_CLAIM = (
    _NEXT_TURN
    + """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return next_turn(ARGV[3], ARGV[4], ARGV[5], ARGV[6])
"""
)
# KEYS: lease  ARGV: token, ttl ms
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: lease, queue, active  ARGV: token, sid.  Returns the queue length left.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
local left = redis.call('LLEN', KEYS[2])
if left == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return left
"""
# KEYS: lease, queue, active, turn, frames, session, handoff set, seq, transcripts
# ARGV: 1 token, 2 client_msg_id, 3 state, 4 retention, 5 ttl, 6 expect_secret,
#       7 handoff (0/1), 8 sid, 9 channel, 10-11 envelope around a frame, 12 typing-off
#       frame ('' = none), 13 typing-on envelope, 14 turn key prefix, 15-16 transcript
#       entry around its replies ('' = none), 17 stream max length, 18 reply count n,
#       then n (head, tail) reply templates.
# Returns false if the lease is lost, else {first seq, next_turn(...)}.
_COMPLETE = (
    _NEXT_TURN
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local n = tonumber(ARGV[18])
local first, out = 0, {}
if n > 0 then
  first = redis.call('INCRBY', KEYS[8], n) - n + 1
  for i = 1, n do out[i] = ARGV[17 + 2 * i] .. (first + i - 1) .. ARGV[18 + 2 * i] end
  redis.call('EXPIRE', KEYS[8], ARGV[5])
end
local list = '[' .. table.concat(out, ', ') .. ']'
redis.call('HSET', KEYS[4], 'state', ARGV[3], 'frames', list)
redis.call('EXPIRE', KEYS[4], ARGV[5])
redis.call('LREM', KEYS[2], 1, ARGV[2])
if n > 0 then
  redis.call('RPUSH', KEYS[5], unpack(out))
  redis.call('LTRIM', KEYS[5], -tonumber(ARGV[4]), -1)
  redis.call('EXPIRE', KEYS[5], ARGV[5])
end
redis.call('HSET', KEYS[6], 'expect_secret', ARGV[6])
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[6], 'handoff', 'requested')
  -- when it was first asked for, by Redis's clock (one clock for every gateway)
  local now = redis.call('TIME')
  redis.call('HSETNX', KEYS[6], 'handoff_at', now[1] .. '.' .. string.format('%06d', now[2]))
  redis.call('SADD', KEYS[7], ARGV[8])
end
if ARGV[15] ~= '' then
  redis.call('XADD', KEYS[9], 'MAXLEN', '~', ARGV[17], '*', 'turn',
             ARGV[15] .. list .. ARGV[16])
end
for i = 1, n do redis.call('PUBLISH', ARGV[9], ARGV[10] .. out[i] .. ARGV[11]) end
if ARGV[12] ~= '' then redis.call('PUBLISH', ARGV[9], ARGV[10] .. ARGV[12] .. ARGV[11]) end
return {first, next_turn(ARGV[14], ARGV[8], ARGV[9], ARGV[13])}
"""
)

# A server frame outside any turn (the staff console): check the session's handoff
# state (and agent), apply a transition, allocate the seq, store, XADD a transcript
# entry, publish.  KEYS: session, seq, frames, requested set, accepted set, transcripts
# ARGV: 1 allowed states ('|requested|' ...; '' = none), 2 required agent ('' = any),
# 3 transition ('accepted' | 'ended' | ''), 4 agent sub, 5 agent name, 6 sid,
# 7-8 frame around its seq, 9 retention, 10 ttl, 11 channel, 12-13 envelope,
# 14-15 transcript entry around the frame ('' = none), 16 stream max length.
_SERVER_FRAME = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone', ''} end
local h = redis.call('HMGET', KEYS[1], 'handoff', 'agent_sub')
local state = h[1] or ''
if not string.find(ARGV[1], '|' .. state .. '|', 1, true) then return {'state', state} end
if ARGV[2] ~= '' and (h[2] or '') ~= ARGV[2] then return {'agent', h[2] or ''} end
if ARGV[3] == 'accepted' then
  redis.call('HSET', KEYS[1], 'handoff', 'accepted', 'agent_sub', ARGV[4], 'agent_name', ARGV[5])
  redis.call('SREM', KEYS[4], ARGV[6])
  redis.call('SADD', KEYS[5], ARGV[6])
elseif ARGV[3] == 'ended' then
  redis.call('HDEL', KEYS[1], 'handoff', 'agent_sub', 'agent_name', 'handoff_at')
  redis.call('SREM', KEYS[4], ARGV[6])
  redis.call('SREM', KEYS[5], ARGV[6])
end
local seq = redis.call('INCR', KEYS[2])
local frame = ARGV[7] .. seq .. ARGV[8]
redis.call('RPUSH', KEYS[3], frame)
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[9]), -1)
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[10]) end
if ARGV[14] ~= '' then
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[16], '*', 'turn', ARGV[14] .. frame .. ARGV[15])
end
redis.call('PUBLISH', ARGV[11], ARGV[12] .. frame .. ARGV[13])
return {'ok', tostring(seq)}
"""


@dataclass(frozen=True)
class HandoffState:
    """A session's owner and handoff: ``state`` '' (none), ``requested`` or ``accepted``."""

    owner: str
    state: str
    agent_sub: str | None = None
    agent_name: str | None = None
    requested_at: float | None = None  # Redis clock, epoch seconds


@dataclass(frozen=True)
class FramePosted:
    seq: int


@dataclass(frozen=True)
class FrameRefused:
    """``reason``: ``gone`` (no such session), ``state`` (handoff state not allowed) or
    ``agent`` (another agent holds the conversation); ``found`` is what was there."""

    reason: str
    found: str


def seq_template(frame: Frame) -> tuple[str, str]:
    """The frame's JSON split around its ``seq`` value (``head + str(seq) + tail``).
    Every seq-carrying frame builder puts ``type`` then ``seq`` first, so the first
    ``"seq": `` in the text is the frame's own (one inside a JSON string would read
    ``\\"seq\\"``)."""
    text = json.dumps({**frame, "seq": SEQ_SENTINEL})
    head, found, tail = text.partition(f'"seq": {SEQ_SENTINEL}')
    if not found:
        raise ValueError(f"frame has no top-level seq: {frame!r}")
    return head + '"seq": ', tail


@dataclass(frozen=True)
class Fanout:
    """Where a session's frames are published, and the text around each frame there
    (``hub.SessionHub.fanout``)."""

    channel: str
    head: str
    tail: str = "}"

    def envelope(self, frame: Frame) -> str:
        return self.head + json.dumps(frame) + self.tail


@dataclass(frozen=True)
class Admitted:
    seq: int


@dataclass(frozen=True)
class Known:
    """This client_msg_id was admitted before (its ack seq, its replies once done)."""

    record: TurnRecord


@dataclass(frozen=True)
class Limited:
    limit: str  # "session" | "user"


@dataclass(frozen=True)
class QueueFull:
    pass


@dataclass(frozen=True)
class NextTurn:
    """The queue head the worker runs next (``turn`` None: its record expired;
    ``to_agent``: a support agent has taken the conversation over, so the bot must not
    answer it)."""

    client_msg_id: str
    turn: dict[str, Any] | None
    to_agent: bool = False


@dataclass(frozen=True)
class Completed:
    first_seq: int  # of the replies (0 when there were none)
    next: NextTurn | None  # None: the queue was empty and the lease is given up


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
        self._submit = redis.register_script(_SUBMIT)
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._complete = redis.register_script(_COMPLETE)
        self._server_frame = redis.register_script(_SERVER_FRAME)

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
