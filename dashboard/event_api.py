"""The HTTP event API on the dashboard's server: `POST /api/v1/events/{kind}`, and its OpenAPI
document at `GET /api/v1/openapi.json` (`dashboard.openapi`).

A video-analytics box, the hotline system or anything that can POST sends events of one kind as
a JSON object, a JSON array, NDJSON or an Arrow IPC stream, with a producer key (`X-API-Key`, or
`Authorization: Bearer`; never in the URL). The answer is 202 `{"accepted", "dead", "reasons",
"request"}` once the accepted events are in Redis (`layers.live.door`: THE decoder judges them,
the Producer writes them, the rest are dead-lettered). Refusals, cheapest first, before anything
is read: 404 unknown kind, 401 no valid key, 403 a key that may not post this kind, 429 the key's
token bucket is empty (`Retry-After`), 415 another content type or an encoded body, 413 a body
over `$CITYOPS_HTTP_MAX_BYTES` (Content-Length checked before reading; a chunked body is cut at
the limit) or a batch larger than the key's burst; then 400 for a body that cannot be read
(dead-lettered with an excerpt, its size and hash). Redis trouble is 503, never input's fault.
"""

from __future__ import annotations

import json
import math

import pyarrow as pa
import redis
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from dashboard import apikeys
from dashboard.http_errors import answer_json
from dashboard.session import KEYS
from layers.clock import Clock, wall
from layers.keys import KINDS
from layers.live.bodies import CONTENT_TYPES, BodyError, read_body
from layers.live.decode import SizeError
from layers.live.door import Door
from layers.live.ratelimit import RateStore
from twin import settings

PREFIX = "/api/"
EVENTS = "/api/v1/events/<kind>"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class Refusal(Exception):
    """An answer other than 202: HTTP `code`, what to fix, optional headers."""

    def __init__(self, code: int, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.headers = code, message, headers or {}


def _json(obj, status: int, headers: dict | None = None) -> Response:
    return Response(json.dumps(obj, ensure_ascii=False), status=status, headers=headers,
                    mimetype="application/json")


def _error(code: int, message: str, headers: dict | None = None) -> Response:
    return _json({"code": code, "error": message}, code, headers)


def _producer(kind: str) -> apikeys.ApiKey:
    """The producer key of the request, or a Refusal (401 none valid, 403 not for this kind)."""
    presented = apikeys.presented(request.headers)
    if presented is None:
        raise Refusal(401, "send a producer key in the X-API-Key header (keys: python -m "
                           "dashboard.apikeys add NAME --role producer)")
    ring = current_app.extensions.get(KEYS)
    key = ring.find(presented) if ring is not None else None
    if key is None:
        raise Refusal(401, "the API key is not valid (revoked or mistyped): ask the operator "
                           "for a producer key")
    if key.role != "producer":
        raise Refusal(403, f"a {key.role} key may not post events: ask for a producer key")
    if not key.may_post(kind):
        raise Refusal(403, f"this key may post {', '.join(sorted(key.kinds))} events, not "
                           f"{kind}")
    return key


def _take(rates: RateStore, key: apikeys.ApiKey, cost: float, events: int = 1) -> None:
    """Take `cost` tokens for a request of `events` events, or refuse it (429, or 413 when the
    request alone is over the key's burst)."""
    default_rate, default_burst = settings.events_rate()
    rate, burst = key.rate or default_rate, key.burst or default_burst
    if events > burst:
        raise Refusal(413, f"{events:,} events in one request, over this key's burst of "
                           f"{int(burst):,}: send smaller batches")
    wait = rates.take(key.name, cost, rate, burst)
    if wait > 0:
        raise Refusal(429, f"this key may send {rate:g} events/s (bursts of {burst:g}): retry "
                           f"after {math.ceil(wait)} s", {"Retry-After": str(math.ceil(wait))})


def _read() -> bytes:
    """The request body, its size checked before it is read (chunked bodies cut at the limit)."""
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise Refusal(415, f"Content-Encoding {encoding!r} is not accepted: send the body "
                           f"uncompressed (Arrow IPC may compress its buffers)")
    if request.mimetype not in CONTENT_TYPES:
        raise Refusal(415, f"Content-Type {request.mimetype or 'none'!r} is not accepted: use "
                           f"{', '.join(CONTENT_TYPES)}")
    limit = settings.http_max_bytes()
    too_big = Refusal(413, f"the body is over the {limit:,} byte limit: send smaller batches")
    if request.content_length is not None and request.content_length > limit:
        raise too_big
    request.max_content_length = limit + 1  # a chunked body is read up to one byte past it
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise too_big from None
    if len(data) > limit:
        raise too_big
    return data


def register(server: Flask, bus, twin, clock: Clock = wall, door: Door | None = None) -> Blueprint:
    """Add the event API to a Flask server (its keys: the server's `KeyRing`)."""
    from dashboard.openapi import document

    door = door or Door(bus, twin)
    rates = RateStore(bus)
    bp = Blueprint("cityops_events", __name__)

    @bp.errorhandler(Refusal)
    def _refused(exc: Refusal):
        return _error(exc.code, exc.message, exc.headers)

    @bp.errorhandler(redis.RedisError)
    def _redis_down(exc: redis.RedisError):
        return _error(503, f"the event store is unavailable ({type(exc).__name__}): retry "
                           f"later; nothing of this request was kept", {"Retry-After": "5"})

    @bp.post(EVENTS)
    def post_events(kind: str):
        if kind not in KINDS:
            raise Refusal(404, f"no event kind {kind!r}: post to /api/v1/events/"
                               f"{{{','.join(KINDS)}}}")
        key = _producer(kind)
        _take(rates, key, 1)  # every request costs a token, readable or not
        data = _read()
        try:
            body = read_body(data, request.mimetype, door.limits.batch_rows)
            table = door.table(body)
        except SizeError as exc:
            raise Refusal(413, str(exc)) from None
        except (BodyError, ValueError, pa.ArrowException, OSError) as exc:
            reason = str(exc) if isinstance(exc, BodyError) else \
                f"the body is not an Arrow IPC stream ({exc})"
            door.refuse(kind, data, reason, key.name)
            raise Refusal(400, reason) from None
        count = max(body.count, table.num_rows)
        if count > 1:
            _take(rates, key, count - 1, count)
        admission = door.admit(kind, body, key.name, clock(), table)
        return _json(admission.body(), 202, {"X-Request-Id": admission.request})

    @bp.get("/api/v1/openapi.json")
    def openapi():
        return _json(document(request.host_url.rstrip("/")), 200)

    server.register_blueprint(bp)
    register_fallbacks(server)
    return bp


def register_fallbacks(server: Flask) -> None:
    """404 JSON for unknown paths under /api/ (not the app's page shell), and JSON for any HTTP
    error raised there (405...)."""
    if "cityops_api_unknown" in server.view_functions:
        return

    def unknown(rest: str = ""):
        return _error(404, f"no such resource {request.path!r}: the event API is POST "
                           f"/api/v1/events/{{kind}}, described at /api/v1/openapi.json")

    server.add_url_rule(f"{PREFIX}<path:rest>", "cityops_api_unknown", unknown, methods=METHODS)
    server.add_url_rule(PREFIX, "cityops_api_index", unknown, methods=METHODS)
    answer_json(server, PREFIX, _error)
