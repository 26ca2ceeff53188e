"""The Lua scripts behind gateway.chat.store.ChatStore: each of its one-round-trip
operations is one script, so that what it does to a session's keys is atomic (the key
layout is in gateway/chat/store.py's docstring)."""

from __future__ import annotations

from gateway.chat.limits import TAKE_TOKENS_LUA

# Frames whose seq Redis allocates are sent to the scripts as JSON templates: the text
# before and after the seq value (``seq_template``); the script splices the number in.
SEQ_SENTINEL = 7_340_032_000_000_001

# Admission, one round trip. KEYS: turn, seq, queue, active, session, frames,
# buckets..., pii refs...  ARGV: 1 client_msg_id, 2 turn json, 3 turn json to store
# instead when the session expects a secret ('' = same), 4 queue max, 5 ttl, 6 sid,
# 7 channel, 8-9 ack envelope around its seq, 10 bucket count, 11 ref count, 12 ref ttl,
# then (capacity, window ms) per bucket, then one value per ref, then the ``user`` frame
# around its seq (as given, then as stored when the secret form is taken), retention.
SUBMIT_LUA = (
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
NEXT_TURN_LUA = """
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
CLAIM_LUA = (
    NEXT_TURN_LUA
    + """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return next_turn(ARGV[3], ARGV[4], ARGV[5], ARGV[6])
"""
)
# KEYS: lease  ARGV: token, ttl ms
RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: lease, queue, active  ARGV: token, sid.  Returns the queue length left.
RELEASE_LUA = """
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
COMPLETE_LUA = (
    NEXT_TURN_LUA
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
SERVER_FRAME_LUA = """
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
