"""Open311 GeoReport v2 on the dashboard's server, in JSON and XML (`.json` / `.xml`).

GET /open311/discovery.{fmt}, GET /open311/v2/services.{fmt}, GET /open311/v2/services/{code}
.{fmt}, GET|POST /open311/v2/requests.{fmt}, GET /open311/v2/requests/{id}.{fmt}; errors are the
spec's `[{"code", "description"}]` or `<errors><error>` in the format asked for. Reading is
public; a POST takes an Open311 key (`api_key`), a form, JSON, or a multipart form with a photo
(`media`: JPEG/PNG/WebP, judged by its bytes, at most `dashboard.media.MAX_BYTES`, refused before
anything is created). The photo goes onto the request's case once the case exists (the POST
waits a little for the rules engine to open it; the rules service after its next tick, or any
later read, finishes the job): stored by `dashboard.media` under `$CITYOPS_HOME/media/{case}/`,
served there only to who may see the case. Browsers on the origins of $CITYOPS_OPEN311_CORS may
call the GeoReport routes. The work is in `layers.protocols.open311`.
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from dashboard import media
from layers.clock import Clock, wall
from layers.loop.cases import CaseStore
from layers.protocols.georeport_xml import CONTENT_TYPE, document_xml, items_xml
from layers.protocols.open311 import MAX_BODY, Open311, Open311Error
from twin import settings

FMT = "<any(json, xml):fmt>"
CHANGESET = "2026-12-01T00:00:00Z"  # when this server's GeoReport endpoint last changed
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MULTIPART_SLACK = 16 * 1024  # boundaries and part headers around the fields and the photo
PHOTO_WAIT_S = 3.0  # how long a POST with a photo waits for its case (the engine ticks every 2 s)


def answer(fmt: str, what: str, body, status: int = 200) -> Response:
    """A GeoReport answer: `what` is a list document (services, requests, errors) or the root
    element of a single one (service_definition, discovery)."""
    if fmt == "xml":
        text = items_xml(what, body) if isinstance(body, list) else document_xml(what, body)
        return Response(text, status=status, content_type=CONTENT_TYPE)
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    mimetype="application/json")


def error(code: int, description: str, fmt: str = "json") -> Response:
    return answer(fmt, "errors", Open311Error(code, description).body(), code)


def _fmt() -> str:
    return (request.view_args or {}).get("fmt") or "json"


def _form() -> dict:
    """The POST's fields (form, multipart form or a JSON object), the body's size bounded."""
    multipart = request.mimetype == "multipart/form-data"
    limit = MAX_BODY + (media.MAX_BYTES + MULTIPART_SLACK if multipart else 0)
    too_big = Open311Error(413, f"request body over {limit // 1024} KiB: send less text, a "
                                f"smaller photo, or link it with media_url")
    if request.content_length is not None and request.content_length > limit:
        raise too_big
    request.max_content_length = limit
    request.max_form_memory_size = MAX_BODY
    try:
        if request.is_json:
            form = request.get_json(silent=True)
            if not isinstance(form, dict):
                raise Open311Error(400, "the JSON body must be an object of GeoReport fields")
            return form
        return request.form.to_dict()
    except RequestEntityTooLarge:
        raise too_big from None


def _photo() -> bytes | None:
    """The photo of a multipart POST (`media`), judged by its size and bytes before anything
    is created; None without one."""
    upload = request.files.get("media") if request.files else None
    if upload is None:
        return None
    data = upload.stream.read(media.MAX_BYTES + 1)
    if len(data) > media.MAX_BYTES:
        raise Open311Error(413, f"the photo is over {media.MAX_BYTES // 2**20} MB: send a "
                                f"smaller one")
    if not data or media.kind_of(data) is None:
        raise Open311Error(415, "the photo must be a JPEG, PNG or WebP image")
    return data


def keep_photo(case_id: str, data: bytes) -> tuple[str, str]:
    """Store a request's photo with its case: (its name, its path on this server)."""
    name = media.save(case_id, data)
    return name, media.url(case_id, name)


def settle_photos(bus, twin, store: CaseStore) -> int:
    """Put the photos and links of Open311 requests whose case now exists onto their cases
    (the rules service runs it after each tick); how many."""
    return Open311(bus, twin, store, keep_photo=keep_photo).settle_pending()


def _cors(origins: tuple[str, ...]):
    def headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if not origin:
            return response
        if "*" in origins:
            response.headers["Access-Control-Allow-Origin"] = "*"
        elif origin.rstrip("/") in origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.vary.add("Origin")
        else:
            return response
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        return response
    return headers


def register(server: Flask, bus, twin, api_keys, store: CaseStore, clock: Clock = wall,
             photo_wait_s: float = PHOTO_WAIT_S) -> Blueprint:
    """Add the GeoReport routes (both formats) and their CORS headers to a Flask server."""
    api = Open311(bus, twin, store, api_keys, clock=clock, keep_photo=keep_photo)
    bp = Blueprint("cityops_open311", __name__)
    bp.after_request(_cors(settings.open311_cors()))

    @bp.errorhandler(Open311Error)
    def _open311_error(exc: Open311Error):
        return error(exc.code, exc.description, _fmt())

    @bp.get(f"/open311/discovery.{FMT}")
    def discovery(fmt: str):
        base = request.host_url.rstrip("/")
        return answer(fmt, "discovery", {
            "changeset": CHANGESET, "contact": "The city's operations centre",
            "key_service": "Ask the operator for an Open311 key",
            "endpoints": [{"specification": SPECIFICATION, "url": f"{base}/open311/v2",
                           "changeset": CHANGESET, "type": "production",
                           "formats": ["text/xml", "application/json"]}]})

    @bp.get(f"/open311/v2/services.{FMT}")
    def services(fmt: str):
        return answer(fmt, "services", api.services())

    @bp.get(f"/open311/v2/services/<code>.{FMT}")
    def service(code: str, fmt: str):
        return answer(fmt, "service_definition", api.service_definition(code))

    @bp.get(f"/open311/v2/requests.{FMT}")
    def requests_list(fmt: str):
        return answer(fmt, "requests", api.query(request.args.to_dict()))

    @bp.post(f"/open311/v2/requests.{FMT}")
    def requests_post(fmt: str):
        form = _form()
        if not api.known_key(form.get("api_key")):  # before a photo is looked at
            raise Open311Error(403, "api_key is missing or not valid: ask the operator for a key")
        photo = _photo()
        done = api.submit(form, photo, request.host_url.rstrip("/"))
        if photo is not None:
            try:
                api.settle_soon(done[0]["service_request_id"], photo_wait_s)
            except media.MediaError:  # kept in Redis: a later read stores it
                pass
        return answer(fmt, "requests", done, 201)

    @bp.get(f"/open311/v2/requests/<rid>.{FMT}")
    def request_one(rid: str, fmt: str):
        return answer(fmt, "requests", api.get(rid))

    server.register_blueprint(bp)
    return bp
