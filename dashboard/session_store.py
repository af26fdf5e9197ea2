"""The live dashboard sessions, kept on the server so that logging out really ends one.

The signed session cookie only carries a user name and a random session id; a request is
logged in only while that id is live here. With a bus the ids live in Redis (`sessions:{sid}`,
the user name, expiring after `IDLE_S` without use), so every dashboard process sees a logout at
once; without a bus they live in this process's memory.

Redis is asked through a client with short timeouts. While it does not answer, the ids this
process opened or saw alive recently (the memory mirror) keep working, so the wall can show its
"data stale" banner instead of sending its user to the login page; ids closed here stay closed.
After a failure Redis is left alone for `RETRY_S` (logouts still try it): a request must not
wait on a dead Redis twice, or the wall's 1.5 s poll never gets an answer in time. A session
opened while Redis was away is written there when it answers again.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time

import redis

IDLE_S = 12 * 3600.0          # a session unused this long expires
TIMEOUT_S = 1.0               # how long a request waits for Redis
MAX_MEMORY = 100_000          # sessions held in memory (the oldest go first)
RETRY_S = 5.0                 # after Redis failed, how long to use the memory mirror alone

log = logging.getLogger(__name__)


class SessionStore:
    """Session ids -> user names: `open` at login, `user` on every request, `close` at logout."""

    def __init__(self, bus=None, idle_s: float = IDLE_S, clock=time.time) -> None:
        self.bus = bus.with_timeout(TIMEOUT_S) if bus is not None else None
        self.idle_s, self.clock = float(idle_s), clock
        self._memory: dict[str, tuple[str, float]] = {}   # sid -> (user, expires)
        self._closed: dict[str, float] = {}               # sid -> when its tombstone expires
        self._lock = threading.Lock()
        self._down_until = 0.0  # Redis failed: use the memory mirror until then
        self._unsaved: set[str] = set()  # opened while Redis was away: not in Redis yet

    # -- the three operations ----------------------------------------------------------------------
    def open(self, username: str) -> str:
        """A new random session id for `username` (never reuses one: no session fixation)."""
        sid = secrets.token_urlsafe(32)
        self._remember(sid, username)
        if self.bus is not None and not self._save(sid, username):
            log.warning("session of %s kept in this process until Redis answers", username)
        return sid

    def user(self, sid: str | None) -> str | None:
        """The user name of a live session id (refreshing its idle time), else None."""
        if not isinstance(sid, str) or not sid or self._is_closed(sid):
            return None
        if self.bus is None:
            return self._recall(sid, refresh=True)
        if not _well_formed(sid):
            return None
        if not self._redis_up():
            return self._recall(sid, refresh=False)  # Redis silent: trust what we saw alive
        key = self.bus.keys.session(sid)
        try:
            pipe = self.bus.redis.pipeline(transaction=False)
            pipe.get(key)
            pipe.expire(key, int(self.idle_s))
            name, _ = pipe.execute()
        except (redis.RedisError, OSError):
            self._redis_failed()
            return self._recall(sid, refresh=False)
        if name is None:
            mine = self._recall(sid, refresh=False) if sid in self._unsaved else None
            if mine is not None and self._save(sid, mine):  # opened here while Redis was away
                return mine
            self._forget(sid)
            return None
        name = name.decode() if isinstance(name, bytes) else str(name)
        self._remember(sid, name)
        return name

    def close(self, sid: str | None) -> None:
        """End a session everywhere (a tombstone here covers a Redis that does not answer)."""
        if not isinstance(sid, str) or not sid:
            return
        with self._lock:
            self._memory.pop(sid, None)
            self._unsaved.discard(sid)
            self._closed[sid] = self.clock() + self.idle_s
            if len(self._closed) > MAX_MEMORY:
                self._prune()
        if self.bus is not None and _well_formed(sid):
            try:
                self.bus.redis.delete(self.bus.keys.session(sid))
            except (redis.RedisError, OSError) as exc:
                self._redis_failed()
                log.warning("logout: Redis did not answer (%s); the session stays closed in "
                            "this process and expires in Redis after %.0f s", exc, self.idle_s)

    # -- Redis and memory ----------------------------------------------------------------------------
    def _redis_up(self) -> bool:
        return self.bus is not None and self.clock() >= self._down_until

    def _redis_failed(self) -> None:
        self._down_until = self.clock() + RETRY_S

    def _save(self, sid: str, username: str) -> bool:
        """Write a session to Redis; False (and remembered as unsaved) when Redis is away."""
        if self._redis_up():
            try:
                self.bus.redis.set(self.bus.keys.session(sid), username, ex=int(self.idle_s))
                self._unsaved.discard(sid)
                return True
            except (redis.RedisError, OSError):
                self._redis_failed()
        with self._lock:
            self._unsaved.add(sid)
            if len(self._unsaved) > MAX_MEMORY:
                self._unsaved = {s for s in self._unsaved if s in self._memory}
        return False

    def _remember(self, sid: str, username: str) -> None:
        with self._lock:
            self._memory[sid] = (username, self.clock() + self.idle_s)
            if len(self._memory) > MAX_MEMORY:
                self._prune()

    def _recall(self, sid: str, refresh: bool) -> str | None:
        now = self.clock()
        with self._lock:
            found = self._memory.get(sid)
            if found is None or found[1] < now:
                self._memory.pop(sid, None)
                return None
            if refresh:
                self._memory[sid] = (found[0], now + self.idle_s)
            return found[0]

    def _forget(self, sid: str) -> None:
        with self._lock:
            self._memory.pop(sid, None)
            self._unsaved.discard(sid)

    def _is_closed(self, sid: str) -> bool:
        with self._lock:
            until = self._closed.get(sid)
            if until is not None and until < self.clock():
                del self._closed[sid]
                return False
            return until is not None

    def _prune(self) -> None:
        """Drop what has expired, then the oldest entries beyond MAX_MEMORY (lock held)."""
        now = self.clock()
        self._memory = {s: v for s, v in self._memory.items() if v[1] >= now}
        self._closed = {s: until for s, until in self._closed.items() if until >= now}
        for table in (self._memory, self._closed):
            while len(table) > MAX_MEMORY:
                table.pop(next(iter(table)))


_SID = re.compile(r"[A-Za-z0-9_-]{43}")


def _well_formed(sid: str) -> bool:
    """Ids this store makes: 43 URL-safe characters (anything else cannot be live)."""
    return bool(_SID.fullmatch(sid))
