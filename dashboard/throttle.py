"""Login throttling: too many failed sign-ins lock a user name, or an address, for a while.

Every attempt counts against the user name tried and against the client address before its
password is checked (so a burst of parallel guesses counts in full); a success takes its own
attempt back and clears the name's count. Past `per_user` failures of a name, or `per_address`
from an address, within `window_s` (counted from the first), every sign-in of that name or from
that address is refused, the right password too, until the window ends. With a bus the counters are Redis strings (`login:fails:{subject}`, the
subject a digest of the name or address, expiring with the window) shared by every dashboard
process; without one, or while Redis does not answer, they are kept in this process's memory.

The address is the TCP peer (`request.remote_addr`): X-Forwarded-For is not believed, since any
client can write it. Behind a reverse proxy, have the proxy set the peer (werkzeug's ProxyFix).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time

import redis

PER_USER = 5
PER_ADDRESS = 20
WINDOW_S = 15 * 60
TIMEOUT_S = 1.0
MAX_MEMORY = 100_000

log = logging.getLogger(__name__)
# one attempt back, if the window still runs (a DECR of an expired key would make one that
# never expires)
_TAKE_BACK = """
if redis.call('exists', KEYS[1]) == 1 and tonumber(redis.call('get', KEYS[1])) > 0 then
  return redis.call('decr', KEYS[1])
end
return 0
"""


def subject(kind: str, value: str) -> str:
    """The counter name of a user name or address: `user:<digest>` / `addr:<digest>`."""
    return f"{kind}:{hashlib.sha256(value.encode('utf-8', 'replace')).hexdigest()[:32]}"


class LoginThrottle:
    """Failed sign-ins per user name and per address; `wait` says how long a lock lasts."""

    def __init__(self, bus=None, per_user: int = PER_USER, per_address: int = PER_ADDRESS,
                 window_s: float = WINDOW_S, clock=time.time) -> None:
        self.bus = bus.with_timeout(TIMEOUT_S) if bus is not None else None
        self.limits = {"user": int(per_user), "addr": int(per_address)}
        self.window_s, self.clock = float(window_s), clock
        self._memory: dict[str, tuple[int, float]] = {}  # subject -> (failures, window end)
        self._lock = threading.Lock()

    def attempt(self, username: str, address: str) -> int:
        """Count a sign-in attempt before its password is checked: 0 when it may go ahead,
        else the seconds until the name or address is free again (the password is not
        checked then)."""
        counts = self._add(self._subjects(username, address))
        over = [ttl for kind, (n, ttl) in counts.items() if n > self.limits[kind]]
        return int(math.ceil(max(over))) if over else 0

    def wait(self, username: str, address: str) -> int:
        """Seconds until `username` may try to sign in from `address` again (0: now)."""
        return self._wait(self._counts(self._subjects(username, address)))

    def succeeded(self, username: str, address: str) -> None:
        """A right password outside a lock: clear the name's count and take the attempt back
        from the address's (many people may sign in from one office address)."""
        subjects = self._subjects(username, address)
        with self._lock:
            self._memory.pop(subjects["user"], None)
            n, end = self._memory.get(subjects["addr"], (0, 0.0))
            if n > 0:
                self._memory[subjects["addr"]] = (n - 1, end)
        if self.bus is not None:
            try:
                self.bus.redis.delete(self.bus.keys.login_fails(subjects["user"]))
                self.bus.redis.eval(_TAKE_BACK, 1, self.bus.keys.login_fails(subjects["addr"]))
            except (redis.RedisError, OSError):
                pass

    # -- counting ----------------------------------------------------------------------------------
    @staticmethod
    def _subjects(username: str, address: str) -> dict[str, str]:
        return {"user": subject("user", username or ""), "addr": subject("addr", address or "")}

    def _wait(self, counts: dict[str, tuple[int, float]]) -> int:
        left = [ttl for kind, (n, ttl) in counts.items() if n >= self.limits[kind]]
        return int(math.ceil(max(left))) if left else 0

    def _counts(self, subjects: dict[str, str]) -> dict[str, tuple[int, float]]:
        """kind -> (failures, seconds left in the window)."""
        if self.bus is not None:
            try:
                pipe = self.bus.redis.pipeline(transaction=False)
                for name in subjects.values():
                    pipe.get(self.bus.keys.login_fails(name))
                    pipe.ttl(self.bus.keys.login_fails(name))
                got = pipe.execute()
                return {kind: (int(got[2 * i] or 0), max(float(got[2 * i + 1]), 0.0))
                        for i, kind in enumerate(subjects)}
            except (redis.RedisError, OSError) as exc:
                log.warning("login throttle counts in memory: Redis: %s", exc)
        now = self.clock()
        with self._lock:
            return {kind: self._recall(name, now) for kind, name in subjects.items()}

    def _add(self, subjects: dict[str, str]) -> dict[str, tuple[int, float]]:
        if self.bus is not None:
            try:
                pipe = self.bus.redis.pipeline(transaction=True)
                for name in subjects.values():
                    key = self.bus.keys.login_fails(name)
                    pipe.set(key, 0, ex=int(self.window_s), nx=True)  # the window starts here
                    pipe.incr(key)
                    pipe.ttl(key)
                got = pipe.execute()
                return {kind: (int(got[3 * i + 1]), max(float(got[3 * i + 2]), 0.0))
                        for i, kind in enumerate(subjects)}
            except (redis.RedisError, OSError) as exc:
                log.warning("login throttle counts in memory: Redis: %s", exc)
        now = self.clock()
        out = {}
        with self._lock:
            for kind, name in subjects.items():
                n, _ = self._recall(name, now)
                end = self._memory[name][1] if n else now + self.window_s
                self._memory[name] = (n + 1, end)
                out[kind] = (n + 1, end - now)
            if len(self._memory) > MAX_MEMORY:
                self._prune(now)
        return out

    def _recall(self, name: str, now: float) -> tuple[int, float]:
        n, end = self._memory.get(name, (0, now))
        if end <= now:
            self._memory.pop(name, None)
            return 0, 0.0
        return n, end - now

    def _prune(self, now: float) -> None:
        self._memory = {k: v for k, v in self._memory.items() if v[1] > now}
        while len(self._memory) > MAX_MEMORY:
            self._memory.pop(next(iter(self._memory)))
