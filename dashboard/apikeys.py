"""API keys for the data routes (CAP, the event API; OGC reuses them): the keys file.

A machine that fetches data without a browser session presents a key, `Authorization: Bearer
KEY` or `X-API-Key: KEY` (never in the URL, where proxies and logs would keep it). Each key maps
to a role and, for a grid manager, its grids, and then meets exactly the rules a logged-in user
of that role meets (`dashboard.policy`).

The keys file is `$CITYOPS_API_KEYS`, else `$CITYOPS_HOME/api_keys.yaml`; it must be readable by
its owner only (0600) and holds digests, never keys:

    keys:
      wall-feed:                  # a name for people (logs, revocation)
        sha256: 9f86d0...          # SHA-256 (hex) of the key; the key is shown once, at creation
        role: commander            # admin | commander | grid_manager | planner | producer
        grids: [5, 6]              # grid managers only: the grids the key may read
        revoked: false             # true: refused from the next request on (kept for the record)
        created: 2026-01-01T08:00:00+08:00
      camera-box-7:
        sha256: 2c26b4...
        role: producer             # posts events to POST /api/v1/events/{kind}, reads nothing
        kinds: [video]             # producers only: the kinds it may post (default: every kind)
        rate: 500                  # producers only: events/s ($CITYOPS_EVENTS_RATE by default)
        burst: 5000                # producers only: bucket size ($CITYOPS_EVENTS_BURST)

Manage it with `python -m dashboard.apikeys add NAME --role ROLE [--grids 5,6] [--kinds video
--rate 500 --burst 5000] | revoke NAME | list`. The file is re-read when it changes, so a revocation needs no restart. A presented key is
hashed and compared with every digest in constant time (`hmac.compare_digest`, no early exit).
Open311 keys (`$CITYOPS_OPEN311_KEYS`) are a separate list: they open Open311 and nothing else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from dashboard.policy import KEY_ROLES, User
from layers.keys import KINDS

KEY_PREFIX = "cok_"

log = logging.getLogger(__name__)


class KeysFileError(ValueError):
    """The keys file cannot be used; the message names the file, the key and the field."""


@dataclass(frozen=True)
class ApiKey:
    """One entry of the keys file (the digest of the key, never the key)."""

    name: str
    digest: str
    role: str
    grids: frozenset[int] = frozenset()
    revoked: bool = False
    kinds: frozenset[str] = frozenset()   # producers: the kinds they may post (empty: all)
    rate: float | None = None             # producers: events/s (None: the setting)
    burst: float | None = None            # producers: bucket size (None: the setting)

    def may_post(self, kind: str) -> bool:
        """Whether the key may post events of `kind` (producer keys only)."""
        return self.role == "producer" and (not self.kinds or kind in self.kinds)

    def user(self) -> User:
        """The key as a policy subject: the role's rules, named `key:NAME` in logs."""
        return User(f"key:{self.name}", self.name, self.role, self.grids)


def default_file() -> Path:
    """`$CITYOPS_API_KEYS`, else `$CITYOPS_HOME/api_keys.yaml`."""
    from twin.settings import api_keys_file

    return api_keys_file()


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _entry(path: Path, name: str, raw) -> ApiKey:
    where = f"{path}: key {name!r}"
    if not isinstance(raw, dict):
        raise KeysFileError(f"{where}: expected a mapping with sha256 and role")
    sha = raw.get("sha256")
    if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise KeysFileError(f"{where}: sha256 must be the 64 hex digits of the key's SHA-256; "
                            f"make keys with `python -m dashboard.apikeys add`")
    role = raw.get("role")
    if role not in KEY_ROLES:
        raise KeysFileError(f"{where}: role {role!r} is not one of {', '.join(KEY_ROLES)}")
    try:
        grids = frozenset(int(g) for g in raw.get("grids") or [])
    except (TypeError, ValueError) as exc:
        raise KeysFileError(f"{where}: grids must be a list of grid numbers ({exc})") from exc
    if role == "grid_manager" and not grids:
        raise KeysFileError(f"{where}: a grid_manager key needs `grids: [numbers]`")
    revoked = raw.get("revoked", False)
    if not isinstance(revoked, bool):
        raise KeysFileError(f"{where}: revoked must be true or false")
    return ApiKey(str(name), sha, str(role), grids, revoked, *_producer(where, role, raw))


def _producer(where: str, role: str, raw: dict) -> tuple[frozenset[str], float | None,
                                                         float | None]:
    """The kinds, rate and burst of a producer key (refused on other roles)."""
    given = [k for k in ("kinds", "rate", "burst") if raw.get(k) is not None]
    if given and role != "producer":
        raise KeysFileError(f"{where}: {', '.join(given)} only apply to producer keys")
    kinds = raw.get("kinds") or []
    if not isinstance(kinds, list) or any(k not in KINDS for k in kinds):
        raise KeysFileError(f"{where}: kinds must be a list of {', '.join(KINDS)}")
    limits = []
    for name in ("rate", "burst"):
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not value > 0):
            raise KeysFileError(f"{where}: {name} must be a number of events above 0")
        limits.append(None if value is None else float(value))
    return frozenset(kinds), limits[0], limits[1]


def read(path: Path) -> dict[str, ApiKey]:
    """The keys of a file (none when it does not exist); refused when others may read it."""
    if not path.exists():
        return {}
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise KeysFileError(f"{path}: the keys file must be readable by its owner only: "
                            f"chmod 600 {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KeysFileError(f"cannot read the keys file {path}: {exc}") from exc
    keys = raw.get("keys") if isinstance(raw, dict) else None
    if keys is None:
        keys = {}
    if not isinstance(keys, dict):
        raise KeysFileError(f"{path}: expected a top-level `keys:` mapping of key names")
    return {str(name): _entry(path, str(name), spec) for name, spec in keys.items()}


class KeyRing:
    """The keys of one file, re-read when the file changes; `find` checks a presented key."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_file()
        self._stamp: tuple | None = None
        self._keys: dict[str, ApiKey] = {}
        self._lock = threading.Lock()
        self._keys, self._stamp = read(self.path), self._stat()  # a broken file fails here

    def _stat(self) -> tuple | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode

    def keys(self) -> dict[str, ApiKey]:
        """The entries, re-read when the file changed. A file broken while the app runs (bad
        YAML, made readable by others) refuses every key until it is fixed."""
        stamp = self._stat()
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._keys = read(self.path)
                except KeysFileError as exc:
                    log.error("every API key refused until the keys file is fixed: %s", exc)
                    self._keys = {}
                self._stamp = stamp
            return self._keys

    def find(self, key: str | None) -> ApiKey | None:
        """The live entry of a presented key, or None. Every digest is compared, in constant
        time, whatever matches: the time taken says nothing about which key came close."""
        if not isinstance(key, str) or not key:
            return None
        given = digest(key).encode()
        found = None
        for entry in self.keys().values():
            if hmac.compare_digest(given, entry.digest.encode()) and not entry.revoked:
                found = entry
        return found


def presented(headers) -> str | None:
    """The key a request presents (`Authorization: Bearer KEY` or `X-API-Key: KEY`), or None."""
    auth = headers.get("Authorization") or ""
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return (headers.get("X-API-Key") or "").strip() or None


# -- managing the file -----------------------------------------------------------------------------
def _write(path: Path, keys: dict[str, dict]) -> None:
    """Write the file atomically, 0600 from the start (never readable by others, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("# CityOps API keys: SHA-256 digests only (see dashboard/apikeys.py)\n")
        yaml.safe_dump({"keys": keys}, out, allow_unicode=True, sort_keys=False)
    os.replace(tmp, path)


def _raw(path: Path) -> dict[str, dict]:
    read(path)  # validates (and checks the mode)
    if not path.exists():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(raw.get("keys") or {})


def add(path: Path, name: str, role: str, grids: list[int] | None = None,
        kinds: list[str] | None = None, rate: float | None = None,
        burst: float | None = None) -> str:
    """Create a key: its digest goes into the file; the key itself is returned, once."""
    keys = _raw(path)
    if name in keys:
        raise KeysFileError(f"{path}: a key named {name!r} exists; revoke it or choose another name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    entry = {"sha256": digest(key), "role": role, "revoked": False,
             "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if grids:
        entry["grids"] = sorted(int(g) for g in grids)
    for field, value in (("kinds", list(kinds or []) or None), ("rate", rate),
                         ("burst", burst)):
        if value is not None:
            entry[field] = value
    _entry(path, name, entry)  # the same checks as reading
    keys[name] = entry
    _write(path, keys)
    return key


def revoke(path: Path, name: str) -> None:
    """Mark a key revoked (refused from the next request on; kept for the record)."""
    keys = _raw(path)
    if name not in keys:
        raise KeysFileError(f"{path}: no key named {name!r} (see `python -m dashboard.apikeys "
                            f"list`)")
    keys[name]["revoked"] = True
    _write(path, keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.apikeys",
                                     description="manage the API keys of the data routes")
    parser.add_argument("--file", type=Path, help="keys file (default $CITYOPS_API_KEYS, else "
                                                  "$CITYOPS_HOME/api_keys.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("add", help="create a key and print it once")
    new.add_argument("name")
    new.add_argument("--role", required=True, choices=KEY_ROLES)
    new.add_argument("--grids", default="", help="grid numbers, comma separated (grid managers)")
    new.add_argument("--kinds", default="", help="producers: event kinds it may post, comma "
                                                 "separated (default every kind)")
    new.add_argument("--rate", type=float, help="producers: events/s (default "
                                                "$CITYOPS_EVENTS_RATE)")
    new.add_argument("--burst", type=float, help="producers: bucket size in events (default "
                                                 "$CITYOPS_EVENTS_BURST)")
    gone = sub.add_parser("revoke", help="refuse a key from now on")
    gone.add_argument("name")
    sub.add_parser("list", help="names, roles, grids and state (never keys)")
    args = parser.parse_args(argv)
    path = args.file or default_file()
    try:
        if args.command == "add":
            grids = [int(g) for g in args.grids.split(",") if g.strip()]
            kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
            print(add(path, args.name, args.role, grids, kinds, args.rate, args.burst))
            print(f"# the key above is shown once; its digest is in {path}", file=sys.stderr)
        elif args.command == "revoke":
            revoke(path, args.name)
        else:
            for k in read(path).values():
                print(f"{k.name}\t{k.role}\t{','.join(map(str, sorted(k.grids))) or '-'}\t"
                      f"{'revoked' if k.revoked else 'live'}")
    except (KeysFileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
