"""The Lua scripts `taskbridge.redis` runs: each admission is one atomic script call.

Why Lua and not a library such as ``limits``: the admission needs the smooth rate
(GCRA: a token bucket kept as one "theoretical arrival time"), the hard 60-second
window, the shared 429 pause, a generation token that reveals a Redis that lost its
data, and the replay of grants Redis did not see, all decided together, on Redis' own
clock (``TIME``) and in one round trip. No library offers that combination; a script
is atomic on the server, so no two processes can read the same state and both act on it.

Times are integer microseconds of Redis' clock; numbers are formatted with ``%d``
because Lua's own number-to-string keeps only 14 digits.
"""

from __future__ import annotations

__all__ = ["ADMIT", "GRANTED", "PAUSE", "STALE", "WAIT"]

GRANTED = 1
STALE = 2
WAIT = 3

# KEYS: state hash (tat, last, gen, lost), 60-s log zset, pause key, processes zset.
# ARGV: interval_us (0: no rate, pause only), tau_us, limit, window_us, lead_us (the
# furthest ahead a start is ever reserved), expected gen ("" when none yet), gen to
# create, process id, call sequence, key ttl_ms, the number of consecutive starts wanted
# (a lease; absent: 1), whether a lease books this process' next turn ('1': it has more
# callers waiting than one lease serves; absent: no), then the ages (us, oldest first,
# negative for a start still ahead) of this process' grants Redis has not seen (replay).
# Returns {status, delay_us, gen, processes, horizon_us, start_us, ...}; WAIT: nothing
# is reserved, ask again delay_us - lead_us from now (for a lease: the 7th element, in us
# from now, which queues the processes told to wait). A lease reserves up to the number
# wanted of the next starts of the smooth schedule, each one as for a single call (rate,
# window, pause), none more than lead_us ahead; the 7th element is when to ask for the
# next lease (us from now; booked in the same queue when asked to, so a saturated
# process is not told to wait first: 0 when not booked), and the delays of the starts
# after the first follow, in order. Each start is one member of the 60-s log.
#
# Why the lead: when Redis loses the budget, the starts already reserved are gone with
# it, and a process that has not called since cannot say so. No start is reserved more
# than lead_us ahead, so a budget recreated by a process that knew the old one (a loss,
# not a first use) restarts empty (no burst) lead_us + one interval later: after every
# start reserved before the loss, so the two never add up to more than one burst.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local lead = tonumber(ARGV[5])
local ttl = tonumber(ARGV[10])
local count = tonumber(ARGV[11] or '1')
local book = ARGV[12] == '1'
local function int(x) return string.format('%d', x) end

local gen = redis.call('HGET', KEYS[1], 'gen')
if not gen then
  gen = ARGV[7]
  redis.call('HSET', KEYS[1], 'gen', gen)
  if ARGV[6] ~= '' and interval > 0 then
    local after = now + lead + interval
    redis.call('HSET', KEYS[1], 'tat', int(after + tau), 'last', int(after), 'lost', int(after))
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
if ARGV[6] ~= '' and ARGV[6] ~= gen then
  return {2, 0, gen, 0, 0, 0}
end

redis.call('ZADD', KEYS[4], int(now), ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', int(now - 60000000))
redis.call('PEXPIRE', KEYS[4], ttl)
local processes = redis.call('ZCARD', KEYS[4])

local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local lost = tonumber(redis.call('HGET', KEYS[1], 'lost') or '0')
for i = 13, #ARGV do
  local at = now - tonumber(ARGV[i])
  redis.call('ZADD', KEYS[2], int(at), ARGV[8] .. ':' .. ARGV[9] .. ':' .. i)
  -- Starts before a loss's restart are in its delay already; later ones (granted
  -- alone while Redis was unreachable) use the budget up.
  if interval > 0 and at >= lost then tat = math.max(tat, at) + interval end
end

local start = math.max(now, last)
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > start then start = paused end
local reply = {1, 0, gen, processes, 0, 0}
if interval > 0 then
  -- The earliest start at or after `from` that the rate and the 60-s window allow.
  local function next_start(from)
    if tat - tau > from then from = tat - tau end
    if redis.call('ZCARD', KEYS[2]) >= limit then
      local e = redis.call('ZRANGE', KEYS[2], -limit, -limit, 'WITHSCORES')
      local free = tonumber(e[2]) + window
      if free > from then from = free end
    end
    return from
  end
  local function reserve(at, member)
    tat = math.max(tat, at) + interval
    redis.call('ZADD', KEYS[2], int(at), member)
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(limit + 1))
  end
  -- A lease whose next start is `from`: ask for it when a whole lease fits within the
  -- lead (or half the lead), and after the leases of the processes queued before (a
  -- queue, only advice: it reserves nothing), never more than one lease per process
  -- later. Each lease in the queue spans what one asked for then gets (the whole
  -- lease, or the starts up to the lead). The time to ask, us from now.
  local function queue_ask(from)
    local early = math.min((count - 1) * interval, math.floor(lead / 2))
    local span = math.min(count * interval, lead - early + interval)
    local ask = from - lead + early
    local queue = tonumber(redis.call('HGET', KEYS[1], 'queue') or '0')
    if queue > ask then ask = math.min(queue, ask + processes * span) end
    redis.call('HSET', KEYS[1], 'queue', int(ask + span))
    return ask - now
  end
  start = next_start(start)
  -- A lease is reserved once at least half of it fits within the lead (a caller
  -- that came before its turn waits for it rather than take a sliver).
  local half = math.ceil(count / 2) - 1
  if start - now + half * interval > lead then
    local reply = {3, start - now, gen, processes, math.max(tat, start) - now, 0}
    if count > 1 then reply[7] = queue_ask(start) end
    redis.call('HSET', KEYS[1], 'tat', int(tat))
    redis.call('PEXPIRE', KEYS[2], ttl)
    return reply
  end
  reserve(start, ARGV[8] .. ':' .. ARGV[9])
  reply[6] = int(start)
  if count > 1 then reply[7] = 0 end
  local later = start
  for j = 2, count do
    local at = next_start(later)
    if at - now > lead then break end
    reserve(at, ARGV[8] .. ':' .. ARGV[9] .. ':L' .. j)
    reply[#reply + 1] = at - now
    later = at
  end
  -- A saturated process takes its turn for the next lease now, as if it had asked
  -- again at once and been told to wait (without that second call).
  if count > 1 and book then reply[7] = queue_ask(next_start(math.max(later, paused))) end
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('HSET', KEYS[1], 'tat', int(tat), 'last', int(later))
  reply[5] = math.max(tat, later) - now
else
  redis.call('HSET', KEYS[1], 'tat', int(tat), 'last', int(start))
  reply[5] = math.max(tat, start) - now
  reply[6] = int(start)
end
reply[2] = start - now
return reply
"""

# KEYS: pause key. ARGV: pause_us. Extends the shared pause to now + pause_us, never
# shortens it; the key expires with the pause.
PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untl = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > current then
  local ttl = math.ceil(tonumber(ARGV[1]) / 1000) + 1
  redis.call('SET', KEYS[1], string.format('%d', untl), 'PX', ttl)
end
return 1
"""
