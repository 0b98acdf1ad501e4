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

__all__ = ["ADMIT", "GRANTED", "PAUSE", "STALE"]

GRANTED = 1
STALE = 2

# KEYS: state hash (tat, last, gen), 60-s log zset, pause key, processes zset.
# ARGV: interval_us (0: no rate, pause only), tau_us, limit, window_us, expected gen
# ("" when none yet), gen to create, process id, call sequence, key ttl_ms, then the
# ages (us, oldest first) of this process' grants Redis has not seen (replay).
# Returns {status, delay_us, gen, processes, horizon_us, start_us}.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local ttl = tonumber(ARGV[9])
local function int(x) return string.format('%d', x) end

local gen = redis.call('HGET', KEYS[1], 'gen')
if not gen then
  gen = ARGV[6]
  redis.call('HSET', KEYS[1], 'gen', gen)
end
redis.call('PEXPIRE', KEYS[1], ttl)
if ARGV[5] ~= '' and ARGV[5] ~= gen then
  return {2, 0, gen, 0, 0, 0}
end

redis.call('ZADD', KEYS[4], int(now), ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', int(now - 60000000))
redis.call('PEXPIRE', KEYS[4], ttl)
local processes = redis.call('ZCARD', KEYS[4])

local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
for i = 10, #ARGV do
  local at = now - tonumber(ARGV[i])
  redis.call('ZADD', KEYS[2], int(at), ARGV[7] .. ':' .. ARGV[8] .. ':' .. i)
  if interval > 0 then tat = math.max(tat, at) + interval end
end

local start = math.max(now, last)
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > start then start = paused end
if interval > 0 then
  if tat - tau > start then start = tat - tau end
  if redis.call('ZCARD', KEYS[2]) >= limit then
    local e = redis.call('ZRANGE', KEYS[2], -limit, -limit, 'WITHSCORES')
    local free = tonumber(e[2]) + window
    if free > start then start = free end
  end
  tat = math.max(tat, start) + interval
  redis.call('ZADD', KEYS[2], int(start), ARGV[7] .. ':' .. ARGV[8])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(limit + 1))
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('HSET', KEYS[1], 'tat', int(tat), 'last', int(start))
return {1, start - now, gen, processes, math.max(tat, start) - now, int(start)}
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
