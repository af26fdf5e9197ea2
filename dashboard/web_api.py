"""HTTP edges of the closed loop on the dashboard's Flask server: Open311 GeoReport v2 and CAP 1.2.

`register_routes(server, bus, twin, api_keys)` adds, under the server the Dash app runs on:
GET /open311/v2/services.json, GET /open311/v2/services/{code}.json,
GET|POST /open311/v2/requests.json, GET /open311/v2/requests/{id}.json (JSON only) and
GET /cap/alerts/{id}.xml (the alert's latest CAP message: Alert, Update or Cancel) and
GET /cap/alerts.atom (an Atom feed of the active alerts). Errors are the GeoReport list `[{"code": N, "description": "..."}]`;
bodies over 64 KiB are refused with 413 before they are read. The routes are thin: the work is in
`layers.protocols.open311` and `layers.protocols.cap`.
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from layers.clock import Clock, wall
from layers.loop.alerts import AlertStore
from layers.loop.cases import CaseStore
from layers.loop.routing import Router
from layers.protocols.cap_feed import Issuer, atom, message_xml, public_name
from layers.protocols.open311 import MAX_BODY, Open311, Open311Error


def _json(obj, status: int = 200) -> Response:
    return Response(json.dumps(obj, ensure_ascii=False), status=status,
                    mimetype="application/json")


def _error(code: int, description: str) -> Response:
    return _json(Open311Error(code, description).body(), code)


def register_routes(server: Flask, bus, twin, api_keys, clock: Clock = wall,
                    store: CaseStore | None = None) -> Blueprint:
    """Add the Open311 and CAP routes to a Flask server; returns the blueprint."""
    store = store or CaseStore(bus, Router(twin), clock=clock)
    api = Open311(bus, twin, store, api_keys, clock=clock)
    alerts = AlertStore(bus)
    bp = Blueprint("cityops_loop", __name__)

    @bp.errorhandler(Open311Error)
    def _open311_error(exc: Open311Error):
        return _json(exc.body(), exc.code)

    @bp.get("/open311/v2/services.json")
    def services():
        return _json(api.services())

    @bp.get("/open311/v2/services/<code>.json")
    def service(code: str):
        return _json(api.service_definition(code))

    @bp.get("/open311/v2/requests.json")
    def requests_list():
        return _json(api.query(request.args.to_dict()))

    @bp.post("/open311/v2/requests.json")
    def requests_post():
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, f"request body over {MAX_BODY // 1024} KiB: send less text, link "
                               f"media with media_url")
        request.max_content_length = MAX_BODY  # also bounds chunked bodies without a length
        try:
            if request.is_json:
                form = request.get_json(silent=True)
                if not isinstance(form, dict):
                    return _error(400, "the JSON body must be an object of GeoReport fields")
            else:
                form = request.form.to_dict()
        except RequestEntityTooLarge:
            return _error(413, f"request body over {MAX_BODY // 1024} KiB")
        return _json(api.submit(form), 201)

    @bp.get("/open311/v2/requests/<rid>.json")
    def request_one(rid: str):
        return _json(api.get(rid))

    issuer = Issuer.of(twin)

    def cap_message(alert) -> str:
        """The alert's latest CAP message (Alert, Update or Cancel, from its case's records)."""
        return message_xml(alert, store.history(alert.case) if alert.case else [], issuer)

    @bp.get("/cap/alerts/<alert_id>.xml")
    def cap(alert_id: str):
        alert = alerts.get(alert_id)
        if alert is None:
            return _error(404, f"no alert {alert_id!r}: see `cityops alerts list`")
        return Response(cap_message(alert), mimetype="application/cap+xml")

    @bp.get("/cap/alerts.atom")
    def cap_feed():
        base = request.host_url.rstrip("/")
        entries = [(f"{base}/cap/alerts/{public_name(alert)}.xml", cap_message(alert))
                   for alert, _ in alerts.behind(store.open_cases())]
        return Response(atom(entries, issuer, request.base_url, clock()),
                        mimetype="application/atom+xml")

    server.register_blueprint(bp)
    return bp
