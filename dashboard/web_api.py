"""HTTP edges of the closed loop on the dashboard's Flask server: Open311 GeoReport v2 and CAP 1.2.

`register_routes(server, bus, twin, api_keys)` adds, under the server the Dash app runs on:
Open311 GeoReport v2 in JSON and XML (`dashboard.open311_api`),
GET /cap/alerts/{public id}.xml (the alert's latest CAP message: Alert, Update or Cancel) and
GET /cap/alerts.atom (an Atom feed of the active alerts). Errors are the GeoReport list
`[{"code": N, "description": "..."}]`. The routes are thin: the work is in
`layers.protocols.open311`, `layers.protocols.cap` and `layers.protocols.cap_feed`.

Who may read what: Open311 is public as GeoReport intends (its POST takes an Open311 key, and
what it shows is redacted); CAP and its feed need a logged-in session or an API key
(`dashboard.apikeys`) whose role may see the alert's grid (`dashboard.policy.can_see_alert`),
and know alerts only by their public ids. Any other path under /open311/ or /cap/ answers 404 in
the same JSON (`register_fallbacks`, installed also when there is no bus), never the app's HTML
shell.
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, request

from dashboard import open311_api
from dashboard.http_errors import answer_json
from dashboard.policy import can_see_alert, visible_grids
from dashboard.session import KEYS, current_principal
from layers.clock import Clock, wall
from layers.loop.alerts import AlertStore
from layers.loop.cases import CaseStore
from layers.loop.records import Alert, Place
from layers.loop.routing import Router
from layers.protocols.cap_feed import Issuer, atom, message_xml, public_name
from layers.protocols.open311 import Open311Error

PREFIXES = ("/open311/", "/cap/")
NEED_KEY = ("CAP needs a login or an API key: send `Authorization: Bearer KEY` (keys: python -m "
            "dashboard.apikeys add)")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _json(obj, status: int = 200) -> Response:
    return Response(json.dumps(obj, ensure_ascii=False), status=status,
                    mimetype="application/json")


def _error(code: int, description: str) -> Response:
    return _json(Open311Error(code, description).body(), code)


def register_fallbacks(server: Flask) -> None:
    """404 JSON for unknown paths under /open311/ and /cap/ (not the Dash app's page shell), and
    JSON for any HTTP error raised on those routes (401, 403, 405...)."""
    if "cityops_open311_unknown" in server.view_functions:
        return

    def unknown(rest: str = ""):
        return _error(404, f"no such resource {request.path!r}: Open311 lives under "
                           f"/open311/v2/ (services.json, requests.json), CAP under "
                           f"/cap/alerts/{{id}}.xml")

    for prefix in PREFIXES:
        name = prefix.strip("/")
        server.add_url_rule(f"{prefix}<path:rest>", f"cityops_{name}_unknown", unknown,
                            methods=METHODS)
        server.add_url_rule(prefix, f"cityops_{name}_index", unknown, methods=METHODS)
        answer_json(server, prefix, _error)


def register_routes(server: Flask, bus, twin, api_keys, clock: Clock = wall,
                    store: CaseStore | None = None, keyring=None,
                    photo_wait_s: float = open311_api.PHOTO_WAIT_S) -> Blueprint:
    """Add the Open311 and CAP routes to a Flask server; returns the blueprint.

    `api_keys` are the Open311 keys; `keyring` (a `dashboard.apikeys.KeyRing`, default the one
    the dashboard installed) holds the keys of the data routes; `photo_wait_s`: how long an
    Open311 POST with a photo waits for its case.
    """
    store = store or CaseStore(bus, Router(twin), clock=clock)
    router = store.router or Router(twin)
    alerts = AlertStore(bus)
    if keyring is not None:
        server.extensions[KEYS] = keyring
    bp = Blueprint("cityops_loop", __name__)

    issuer = Issuer.of(twin)

    def place_of(alert: Alert) -> Place:
        case = store.get(alert.case) if alert.case else None
        return case.place if case is not None else router.place(alert.lat, alert.lng)

    def cap_message(alert: Alert) -> str:
        """The alert's latest CAP message (Alert, Update or Cancel, from its case's records)."""
        records = store.history(alert.case) if alert.case else []
        return message_xml(alert, records, issuer, place=place_of(alert).unit_name)

    @bp.get("/cap/alerts/<public_id>.xml")
    def cap(public_id: str):
        who = current_principal()
        if who is None:
            return _error(401, NEED_KEY)
        alert = alerts.by_public(public_id)
        if alert is None:
            return _error(404, f"no alert {public_id!r}: CAP knows alerts by their public id "
                               f"(`cityops alerts show ID` prints it)")
        if not can_see_alert(who, place_of(alert).grid):
            return _error(403, f"the role {who.role} may not read alerts of this grid")
        return Response(cap_message(alert), mimetype="application/cap+xml",
                        headers={"Cache-Control": "private, no-store"})

    @bp.get("/cap/alerts.atom")
    def cap_feed():
        who = current_principal()
        if who is None:
            return _error(401, NEED_KEY)
        base = request.host_url.rstrip("/")
        entries = [(f"{base}/cap/alerts/{public_name(alert)}.xml", cap_message(alert))
                   for alert, case in alerts.behind(store.open_cases(visible_grids(who)))
                   if can_see_alert(who, case.place.grid)]
        return Response(atom(entries, issuer, request.base_url, clock()),
                        mimetype="application/atom+xml",
                        headers={"Cache-Control": "private, no-store"})

    server.register_blueprint(bp)
    open311_api.register(server, bus, twin, api_keys, store, clock, photo_wait_s)
    register_fallbacks(server)
    return bp
