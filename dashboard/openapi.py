"""The OpenAPI 3.1 document of the HTTP event API (served at /api/v1/openapi.json).

Built from the event contract (`layers.live.schema`: kinds, fields, vocabularies, limits), so the
document and the decoder cannot drift apart; tests check it with openapi-spec-validator and the
live server's answers against it with openapi-core.
"""

from __future__ import annotations

from layers.live import schema as S
from layers.live.bodies import ARROW, JSON, NDJSON
from layers.live.door import MAX_REASONS

_TEXT_OR_NUMBER = {"type": ["string", "number"]}
_FIELDS = {
    "id": {"type": "string", "maxLength": S.MAX_ID_BYTES,
           "description": "unique per producer; a resent event is counted once"},
    "ts": {"type": ["number", "string"], "description": "epoch seconds or ISO 8601 (within 5 "
                                                        "minutes ahead and 24 h back)"},
    "lat": {**_TEXT_OR_NUMBER, "description": "latitude, decimal degrees"},
    "lng": {**_TEXT_OR_NUMBER, "description": "longitude, decimal degrees"},
    "crs": {"type": "string", "enum": list(S.CRS), "default": "wgs84"},
    "sensor": {"type": "string"}, "metric": {"type": "string", "enum": list(S.METRICS)},
    "value": {**_TEXT_OR_NUMBER, "description": "in the metric's bounds (METRIC_BOUNDS)"},
    "camera": {"type": "string"}, "label": {"type": "string", "enum": list(S.LABELS)},
    "count": _TEXT_OR_NUMBER, "confidence": _TEXT_OR_NUMBER, "track": {"type": "string"},
    "plate": {"type": "string"},
    "source": {"type": "string", "enum": list(S.SOURCES)},
    "category": {"type": "string", "enum": list(S.CATEGORIES)},
    "severity": {"type": ["integer", "string"], "description": "1 (low) to 4 (critical)"},
    "text": {"type": "string", "maxLength": S.MAX_TEXT_CHARS},
}


def _event(kind: str) -> dict:
    names = (*S.COMMON_FIELDS, *S.KIND_FIELDS[kind])
    return {"type": "object", "required": list(S.REQUIRED[kind]),
            "properties": {n: _FIELDS[n] for n in names},
            "description": f"one {kind} event: the fields of a flat stream entry"}


def _error(description: str, headers: dict | None = None) -> dict:
    out = {"description": description,
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if headers:
        out["headers"] = headers
    return out


def document(server_url: str = "") -> dict:
    """The OpenAPI document (`server_url`: where clients reach this server)."""
    events = {"oneOf": [{"$ref": f"#/components/schemas/{k}"} for k in S.KINDS]}
    retry = {"Retry-After": {"schema": {"type": "integer"},
                             "description": "seconds to wait before retrying"}}
    post = {
        "operationId": "postEvents",
        "summary": "Send events of one kind",
        "description": "A JSON object, a JSON array, NDJSON (one object a line) or an Arrow IPC "
                       "stream with the same columns. Every event is judged at once by the "
                       "pipeline's decoder: valid ones are written to the event streams, the "
                       "others dead-lettered with the reason. One bad event never costs the "
                       "others.",
        "security": [{"apiKey": []}, {"bearer": []}],
        "parameters": [{"name": "kind", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": list(S.KINDS)}}],
        "requestBody": {"required": True, "content": {
            JSON: {"schema": {"oneOf": [events, {"type": "array", "items": events}]}},
            NDJSON: {"schema": {"type": "string", "description": "one JSON event a line"}},
            ARROW: {"schema": {"type": "string", "format": "binary",
                               "description": "an Arrow IPC stream (pyarrow.ipc.new_stream)"}}}},
        "responses": {
            "202": {"description": "the accepted events are in Redis",
                    "headers": {"X-Request-Id": {"schema": {"type": "string"}}},
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Admission"}}}},
            "400": _error("the body cannot be read (not UTF-8, not JSON, not an Arrow stream, "
                          "no events); it is dead-lettered"),
            "401": _error("no valid key (missing, mistyped or revoked)"),
            "403": _error("the key may not post events, or not of this kind"),
            "404": _error("no such event kind"),
            "413": _error("the body is over the size limit, or the batch over the key's burst"),
            "415": _error("another Content-Type, or a Content-Encoding"),
            "429": _error("the key's rate is exceeded", retry),
            "503": _error("the event store is unavailable; nothing was kept", retry),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "CityOps Twin event API", "version": "1.0.0",
                 "description": "Events in: IoT readings, video-analytics detections and "
                                "incident reports, onto the same validated streams as Redis "
                                "and MQTT producers."},
        "servers": [{"url": server_url or "/"}],
        "paths": {
            "/api/v1/events/{kind}": {"post": post},
            "/api/v1/openapi.json": {"get": {
                "operationId": "getOpenApi", "summary": "This document", "security": [],
                "responses": {"200": {"description": "the OpenAPI document",
                                      "content": {"application/json": {
                                          "schema": {"type": "object"}}}}}}},
        },
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "a producer key: python -m dashboard.apikeys add "
                                          "NAME --role producer"},
                "bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **{k: _event(k) for k in S.KINDS},
                "Admission": {
                    "type": "object", "required": ["accepted", "dead", "reasons", "request"],
                    "properties": {
                        "accepted": {"type": "integer", "minimum": 0},
                        "dead": {"type": "integer", "minimum": 0},
                        "reasons": {"type": "array", "maxItems": MAX_REASONS, "items": {
                            "type": "object", "required": ["row", "reason"],
                            "properties": {"row": {"type": "integer", "minimum": 0},
                                           "reason": {"type": "string"}}}},
                        "request": {"type": "string",
                                    "description": "names this request in the dead letters"}}},
                "Error": {"type": "object", "required": ["code", "error"],
                          "properties": {"code": {"type": "integer"},
                                         "error": {"type": "string"}}},
            },
        },
    }
