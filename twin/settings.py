"""Deployment settings, read in one place: folders, the bus URL, secrets, the city's time zone.

Every part of the product (twin cache, bus, loop, dashboard, CLI) asks this module, so a setting
means the same thing everywhere. Values come from the environment; the time zone comes from the
twin's manifest (`twin.json` -> `timezone`, e.g. Asia/Shanghai for Binhai), since it is a fact
about the city, not about the server the software happens to run on.

| setting              | environment            | default                                   |
| -------------------- | ---------------------- | ----------------------------------------- |
| home folder          | `CITYOPS_HOME`         | `~/.local/share/cityops`                  |
| reference data       | `CITYOPS_DATA`         | the repository's `data/` folder           |
| Redis URL            | `REDIS_URL`            | none: the embedded server under the home  |
| session/HMAC secret  | `CITYOPS_SECRET`       | generated once, `home/secret_key` (0600)  |
| users file           | `CITYOPS_USERS`        | `data/users.yaml` (demo users)            |
| Open311 API keys     | `CITYOPS_OPEN311_KEYS` | none                                      |
| raster basemap       | `CITYOPS_TILE_URL`     | none: the twin's own vector basemap       |
| audit chain key      | `CITYOPS_AUDIT_KEY`    | generated once, `home/audit_key` (0600)   |
| audit anchors file   | `CITYOPS_AUDIT_ANCHORS` | `home/audit-anchors.log` (0600)          |
| audit anchor period  | `CITYOPS_AUDIT_ANCHOR_EVERY` | every 100 audit records             |
| largest twin build   | `CITYOPS_MAX_CELLS`    | 5,000,000 cells                           |
| API keys file | `CITYOPS_API_KEYS` | `home/api_keys.yaml` (0600; digests) |
| Secure cookie flag | `CITYOPS_SECURE_COOKIES` | off: set 1 when served over HTTPS |
| event API body limit | `CITYOPS_HTTP_MAX_BYTES` | 10 MB (10485760 bytes) |
| event API rate per key | `CITYOPS_EVENTS_RATE` / `CITYOPS_EVENTS_BURST` | 10,000 events/s, 100,000 |
| Open311 CORS origins | `CITYOPS_OPEN311_CORS` | none (comma-separated origins, or `*`) |
| Open311 demo key | `CITYOPS_OPEN311_KEYS` unset | `home/open311_key` (made once, 0600) |
| public base URL      | `CITYOPS_PUBLIC_URL`   | `http://127.0.0.1:8050`                   |
| payment gateway      | `CITYOPS_PAYMENT_GATEWAY` | none: the local simulator (`/pay/sim/{payment}`) |
| payment callback key | `CITYOPS_PAYMENT_SECRET` | generated once, `home/payment_secret` (0600) |
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Shanghai"
REPO_DATA = Path(__file__).resolve().parents[1] / "data"


def home() -> Path:
    """`$CITYOPS_HOME`, else `~/.local/share/cityops`: caches, the embedded Redis, runs."""
    return Path(os.environ.get("CITYOPS_HOME") or Path.home() / ".local" / "share" / "cityops")


def data_dir() -> Path:
    """`$CITYOPS_DATA`, else the repository's `data/`: places, rules, templates, users."""
    env = os.environ.get("CITYOPS_DATA")
    return Path(env) if env else REPO_DATA


def redis_url() -> str | None:
    """`$REDIS_URL` (an external Redis or Redis Cluster), else None (the embedded server)."""
    return os.environ.get("REDIS_URL") or None


def users_file() -> Path:
    """`$CITYOPS_USERS`, else the demo users shipped in `data/users.yaml`."""
    env = os.environ.get("CITYOPS_USERS")
    return Path(env) if env else data_dir() / "users.yaml"


def api_keys_file() -> Path:
    """`$CITYOPS_API_KEYS`, else `home/api_keys.yaml`: the keys of the data routes (CAP, ...)."""
    env = os.environ.get("CITYOPS_API_KEYS")
    return Path(env) if env else home() / "api_keys.yaml"


def open311_keys() -> set[str]:
    """API keys accepted by Open311 POST, from `$CITYOPS_OPEN311_KEYS` (comma separated)."""
    return {k.strip() for k in os.environ.get("CITYOPS_OPEN311_KEYS", "").split(",") if k.strip()}


def open311_demo_keys() -> set[str]:
    """The Open311 keys of `cityops demo`: `$CITYOPS_OPEN311_KEYS` when set, else one key made
    once under the home (`home/open311_key`, 0600), which the demo prints."""
    if keys := open311_keys():
        return keys
    made = private_file(home() / "open311_key", lambda: secrets.token_urlsafe(18))
    return {made.read_text().strip()}


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


def flag(env: str, default: bool = False) -> bool:
    """A yes/no setting from `$env` (1/0, true/false, yes/no, on/off); the error names it."""
    value = os.environ.get(env)
    if value is None:
        return default
    text = value.strip().lower()
    if text not in _TRUE | _FALSE:
        raise ValueError(f"${env}={value!r} is not a yes/no value: set it to 1 or 0")
    return text in _TRUE


def secure_cookies() -> bool:
    """`$CITYOPS_SECURE_COOKIES`: mark the session cookie Secure (only sent over HTTPS). Turn it
    on whenever the dashboard is served over HTTPS (directly or behind a TLS proxy)."""
    return flag("CITYOPS_SECURE_COOKIES")


def tile_url() -> str | None:
    """An optional XYZ raster basemap template, `$CITYOPS_TILE_URL`."""
    return os.environ.get("CITYOPS_TILE_URL") or None


def http_max_bytes() -> int:
    """The largest body the HTTP event API reads: `$CITYOPS_HTTP_MAX_BYTES`, default 10 MB."""
    return _positive_int("CITYOPS_HTTP_MAX_BYTES", 10 * 2**20)


def events_rate() -> tuple[float, float]:
    """(events/s, burst) an event API key may send unless its entry says otherwise:
    `$CITYOPS_EVENTS_RATE` (10,000) and `$CITYOPS_EVENTS_BURST` (100,000)."""
    return (float(_positive_int("CITYOPS_EVENTS_RATE", 10_000)),
            float(_positive_int("CITYOPS_EVENTS_BURST", 100_000)))


def open311_cors() -> tuple[str, ...]:
    """Origins a browser may call Open311 from: `$CITYOPS_OPEN311_CORS`, comma separated
    (`https://app.example.org`, or `*` for any); none by default."""
    return tuple(o.strip().rstrip("/") for o in os.environ.get("CITYOPS_OPEN311_CORS",
                                                                "").split(",") if o.strip())


def number(name: str, default: float) -> float:
    """A numeric setting from `$name` (e.g. a size limit), else `default`; a bad value is an
    error naming the variable."""
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"${name}={raw!r} is not a number") from exc
    if not value >= 0:
        raise ValueError(f"${name}={raw!r} must be a non-negative number")
    return value


def private_file(path: Path, make: callable) -> Path:
    """A file only its owner may read (0600), created once with the text `make()` returns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile
            return path
        with os.fdopen(fd, "w") as out:
            out.write(make())
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path


def secret(name: str = "secret_key", env: str = "CITYOPS_SECRET",
           folder: Path | None = None) -> bytes:
    """A secret from `$env`, else random bytes generated once under the home folder (0600)."""
    value = os.environ.get(env)
    if value:
        return value.encode()
    path = private_file((folder or home()) / name, lambda: secrets.token_hex(32))
    return path.read_text().strip().encode()


def audit_key(folder: Path | None = None) -> bytes:
    """The key of the audit chain's HMACs: `$CITYOPS_AUDIT_KEY`, else `folder/audit_key` (0600,
    made once; `folder` defaults to the home). It lives outside Redis on purpose: whoever can
    write Redis but not this file cannot forge a record. Every process that appends to one
    audit log must use the same key (set the variable when they run on several machines)."""
    return secret("audit_key", "CITYOPS_AUDIT_KEY", folder)


def public_url() -> str:
    """Where people and gateways reach the dashboard: `$CITYOPS_PUBLIC_URL` (no trailing slash)."""
    return (os.environ.get("CITYOPS_PUBLIC_URL") or "http://127.0.0.1:8050").rstrip("/")


def payment_gateway() -> str | None:
    """The payment gateway's URL template (`{payment}`, `{amount_yuan}`), None: the simulator."""
    template = os.environ.get("CITYOPS_PAYMENT_GATEWAY") or None
    if template is not None and "{payment}" not in template:
        raise ValueError(f"$CITYOPS_PAYMENT_GATEWAY={template!r} must contain {{payment}}")
    return template


def payment_secret(folder: Path | None = None) -> bytes:
    """The key payment callbacks are signed with (HMAC-SHA256): `$CITYOPS_PAYMENT_SECRET`, else
    `folder/payment_secret` (0600, made once; `folder` defaults to the home). The gateway holds
    the same key."""
    return secret("payment_secret", "CITYOPS_PAYMENT_SECRET", folder)


def audit_anchors(folder: Path | None = None) -> Path:
    """The append-only file of signed audit checkpoints: `$CITYOPS_AUDIT_ANCHORS`, else
    `folder/audit-anchors.log` (`folder` defaults to the home)."""
    env = os.environ.get("CITYOPS_AUDIT_ANCHORS")
    return Path(env) if env else (folder or home()) / "audit-anchors.log"


def audit_anchor_every() -> int:
    """How many audit records at most between two anchors: `$CITYOPS_AUDIT_ANCHOR_EVERY`, 100."""
    return _positive_int("CITYOPS_AUDIT_ANCHOR_EVERY", 100)


def max_cells() -> int:
    """The most cells `twin build` makes: `$CITYOPS_MAX_CELLS`, default 5,000,000."""
    return _positive_int("CITYOPS_MAX_CELLS", 5_000_000)


def _positive_int(env: str, default: int) -> int:
    text = os.environ.get(env, "").strip().replace("_", "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"${env} is {os.environ[env]!r}: give a whole number of at least 1 "
                         f"(default {default})")
    return value


def timezone(name: str | None = None) -> ZoneInfo:
    """The city's time zone: an IANA name (from the twin's manifest), default Asia/Shanghai."""
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as "
                         f"Asia/Shanghai") from exc


def city_time(ts: float, tz: ZoneInfo | str | None = None) -> dt.datetime:
    """An epoch time as an aware datetime in the city's time zone."""
    zone = tz if isinstance(tz, ZoneInfo) else timezone(tz)
    return dt.datetime.fromtimestamp(float(ts), tz=zone)


def iso_time(ts: float | None, tz: ZoneInfo | str | None = None) -> str | None:
    """ISO 8601 with the city's explicit offset and no fractional seconds (CAP, Open311)."""
    if ts is None:
        return None
    return city_time(ts, tz).isoformat(timespec="seconds")


_CAP_FORBIDDEN = re.compile(r"[\s,<&]")


def cap_sender(meta: dict | None = None) -> str:
    """Who signs CAP messages (`<sender>`, globally unique, e.g. an address at the operator's
    domain): `$CITYOPS_CAP_SENDER`, else the twin manifest's `cap_sender`, else
    `cityops@{twin name}.invalid` (a placeholder that says it must be set)."""
    meta = meta or {}
    value = os.environ.get("CITYOPS_CAP_SENDER") or meta.get("cap_sender") or \
        f"cityops@{re.sub(r'[^a-z0-9-]', '-', str(meta.get('name') or 'city').lower())}.invalid"
    if _CAP_FORBIDDEN.search(value):
        raise ValueError(f"CAP sender {value!r} ($CITYOPS_CAP_SENDER or the twin's cap_sender) "
                         f"may not hold spaces, commas, '<' or '&': use e.g. cityops@example.org")
    return value


def cap_sender_name(meta: dict | None = None) -> str:
    """The operator's name people read in CAP messages (`<senderName>`):
    `$CITYOPS_CAP_SENDER_NAME`, else the twin manifest's `cap_sender_name`, else its title."""
    meta = meta or {}
    return (os.environ.get("CITYOPS_CAP_SENDER_NAME") or meta.get("cap_sender_name")
            or f"{meta.get('title') or meta.get('name') or 'CityOps'} operations centre")
