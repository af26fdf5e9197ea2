"""RateStore: token buckets per source in Redis (`ratelimit:{source}`), shared by every process.

A bucket holds up to `burst` tokens and refills at `rate` tokens a second; taking `cost` tokens
either succeeds at once or says how long to wait until it would. The bucket is read, refilled and
taken from in one Lua script on the server's own clock, so any number of dashboard processes on
any machines share one budget per source and never race. A bucket left alone expires once it
would be full again.
"""

from __future__ import annotations

import hashlib

from layers.live.bus import Bus

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'time')
local tokens = tonumber(b[1]) or burst
local last = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'time', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""


class RateStore:
    """Token buckets of sources (API keys) on a bus."""

    def __init__(self, bus: Bus) -> None:
        self.redis, self.keys = bus.redis, bus.keys

    def take(self, source: str, cost: float, rate: float, burst: float) -> float:
        """Take `cost` tokens from the source's bucket: 0.0 when taken, else the seconds to wait
        before they would be there (nothing is taken then)."""
        if rate <= 0 or burst <= 0:
            raise ValueError(f"a rate limit needs rate > 0 and burst > 0 (got {rate}, {burst})")
        subject = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        wait = self.redis.eval(_TAKE, 1, self.keys.ratelimit(subject), repr(float(rate)),
                               repr(float(burst)), repr(float(cost)))
        return float(wait)
