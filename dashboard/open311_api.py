"""Open311 GeoReport v2 on the dashboard's server, in JSON and XML (`.json` / `.xml`).

GET /open311/discovery.{fmt}, GET /open311/v2/services.{fmt}, GET /open311/v2/services/{code}
.{fmt}, GET|POST /open311/v2/requests.{fmt}, GET /open311/v2/requests/{id}.{fmt}; errors are the
spec's `[{"code", "description"}]` or `<errors><error>` in the format asked for. Reading is
public; a POST takes an Open311 key (`api_key`), a form, JSON, or a multipart form with a photo
(`media`: JPEG/PNG/GIF/WebP, checked by its bytes, at most $CITYOPS_MEDIA_MAX_BYTES), kept under
$CITYOPS_HOME/media and served at GET /open311/v2/media/{id} only to a session or data key that
may see the request's case. Browsers on the origins of $CITYOPS_OPEN311_CORS may call the
GeoReport routes (never the photos). The work is in `layers.protocols.open311`.
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, request, send_file
from werkzeug.exceptions import RequestEntityTooLarge

from dashboard.media import MediaError, MediaStore
from dashboard.policy import can_see_case, visible_grids
from dashboard.session import current_principal
from layers.clock import Clock, wall
from layers.loop.cases import CaseStore
from layers.protocols.georeport_xml import CONTENT_TYPE, document_xml, items_xml
from layers.protocols.open311 import MAX_BODY, Open311, Open311Error
from twin import settings

FMT = "<any(json, xml):fmt>"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


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
    limit = MAX_BODY + (settings.media_max_bytes() if multipart else 0)
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


def _cors(origins: tuple[str, ...]):
    def headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if not origin or request.path.startswith("/open311/v2/media/"):
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
             media: MediaStore | None = None) -> Blueprint:
    """Add the GeoReport routes (both formats), the photos and CORS to a Flask server."""
    api = Open311(bus, twin, store, api_keys, clock=clock)
    media = media or MediaStore()
    bp = Blueprint("cityops_open311", __name__)
    bp.after_request(_cors(settings.open311_cors()))

    @bp.errorhandler(Open311Error)
    def _open311_error(exc: Open311Error):
        return error(exc.code, exc.description, _fmt())

    @bp.get(f"/open311/discovery.{FMT}")
    def discovery(fmt: str):
        base = request.host_url.rstrip("/")
        return answer(fmt, "discovery", {
            "changeset": "2026-01-01T00:00:00Z", "contact": "The city's operations centre",
            "key_service": "Ask the operator for an Open311 key",
            "endpoints": [{"specification": SPECIFICATION, "url": f"{base}/open311/v2",
                           "changeset": "2026-01-01T00:00:00Z", "type": "production",
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
        upload = request.files.get("media") if request.files else None
        if upload is None:
            return answer(fmt, "requests", api.submit(form), 201)
        if not api.known_key(form.get("api_key")):  # before the file is read
            raise Open311Error(403, "api_key is missing or not valid: ask the operator for a key")
        if form.get("media_url"):
            raise Open311Error(400, "send media_url or a media file, not both")
        try:
            kept = media.save(upload.stream.read(media.max_bytes + 1))
        except MediaError as exc:
            raise Open311Error(exc.code, str(exc)) from None
        form["media_url"] = f"{request.host_url.rstrip('/')}/open311/v2/media/{kept}"
        try:
            return answer(fmt, "requests", api.submit(form, kept), 201)
        except Open311Error:
            media.delete(kept)
            raise

    @bp.get(f"/open311/v2/requests/<rid>.{FMT}")
    def request_one(rid: str, fmt: str):
        return answer(fmt, "requests", api.get(rid))

    @bp.get("/open311/v2/media/<name>")
    def photo(name: str):
        who = current_principal()
        if who is None:
            raise Open311Error(401, "photos need a login or a data key: send `Authorization: "
                                    "Bearer KEY`")
        kept, found = media.open(name), api.media_case(name)
        if kept is None or found is None:
            raise Open311Error(404, f"no photo {name!r}")
        case = found[0]
        if not (can_see_case(who, case) if case is not None else visible_grids(who) is None):
            raise Open311Error(403, f"the role {who.role} may not see this request's case")
        reply = send_file(kept[0], mimetype=kept[1], max_age=0)
        reply.headers.update({"Cache-Control": "private, no-store",
                              "Content-Security-Policy": "default-src 'none'"})
        return reply

    server.register_blueprint(bp)
    return bp
