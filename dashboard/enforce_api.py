"""HTTP routes of enforcement supervision and on-the-spot payment (扫码缴纳罚款).

- `POST /api/v1/payments/callback`: a gateway's signed, replay-safe callback (layers.loop.payments
  describes the headers); answers JSON, refusals 4xx JSON with the reason (and logged).
- `GET /api/v1/payments/{id}/qr.svg`: the QR code of a payment request's URL (the id is random).
- `GET|POST /pay/sim/{id}`: the simulator gateway's page (only when no external gateway is set):
  the amount, and a button that pays, records the payment and calls back signed over HTTP.
- `GET /api/v1/enforcement/cases[?department=&open=1&overdue=1&flagged=1]`,
  `GET /api/v1/enforcement/cases/{id}`, `GET /api/v1/enforcement/stats`: for whoever
  `policy.can_see_enforcement` (supervisors, commanders, admins; a session or an API key), and
  officers for their own department's cases only (`policy.can_see_enforcement_case`: another
  department's case answers 404 like a missing one, a list filtered by another department 403,
  the stats count their department's cases);
  `POST /api/v1/enforcement/cases/{id}/flag` `{"note"}`: `policy.can_flag`.
"""

from __future__ import annotations

import html
import io

from flask import Blueprint, Flask, Response, jsonify, request

from dashboard.http_errors import answer_json
from dashboard.policy import (
    can_flag,
    can_see_enforcement,
    can_see_enforcement_case,
    enforcement_department,
)
from dashboard.session import current_principal
from layers.clock import Clock, wall
from layers.loop import enforcement_stats as stats
from layers.loop import payments as pay
from layers.loop.enforcement import EnforcementStore
from layers.loop.procedure import EnforcementError

PREFIXES = ("/api/v1/payments/", "/api/v1/enforcement/", "/pay/sim/")
MAX_NOTE = 2000


def _error(status: int, reason: str):
    return jsonify({"error": reason}), status


def qr_svg(text: str) -> bytes:
    """A QR code of `text` as SVG (error correction M)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def register(server: Flask, bus, clock: Clock = wall, tz: str | None = None,
             simulator: pay.Simulator | None = None) -> Blueprint:
    """Add the enforcement and payment routes to a Flask server."""
    store = EnforcementStore(bus, clock=clock, tz=tz)
    bp = Blueprint("cityops_enforcement", __name__)

    def reader():
        who = current_principal()
        if who is None:
            return None, _error(401, "log in, or send `Authorization: Bearer KEY` (a data key)")
        if not can_see_enforcement(who):
            return None, _error(403, f"the role {who.role} may not see enforcement cases")
        return who, None

    @bp.post("/api/v1/payments/callback")
    def callback():
        if request.content_length is None or request.content_length > pay.MAX_BODY:
            reason = "send the callback with a Content-Length" if request.content_length is None \
                else f"callback body over {pay.MAX_BODY} bytes"
            store.payments.refused(411 if request.content_length is None else 413, reason,
                                   request.remote_addr or "", clock())
            return _error(411 if request.content_length is None else 413, reason)
        body = request.get_data(cache=False)
        try:
            answer = store.receive_callback(request.headers, body, request.remote_addr or "")
        except pay.CallbackRefused as exc:
            return _error(exc.status, exc.reason)
        return jsonify(answer)

    @bp.get("/api/v1/payments/<pid>/qr.svg")
    def qr(pid: str):
        found = store.payments.get(pid)
        if found is None:
            return _error(404, f"no payment request {pid!r}")
        return Response(qr_svg(found.url), mimetype="image/svg+xml",
                        headers={"Cache-Control": "private, no-store"})

    @bp.route("/pay/sim/<pid>", methods=["GET", "POST"])
    def simulator_page(pid: str):
        if pay.gateway()[0] != "simulator":
            return _error(404, "the payment simulator is off: an external gateway is set")
        found = store.payments.get(pid)
        if found is None:
            return _error(404, f"no payment request {pid!r}")
        note = ""
        if request.method == "POST":
            try:
                txn, status = (simulator or pay.Simulator(bus)).pay(pid)
            except ValueError as exc:
                return _error(409, str(exc))
            note = f"<p>txn {html.escape(txn)}: callback answered {status}</p>"
            found = store.payments.get(pid)
        page = (f"<!doctype html><meta charset=utf-8><title>{html.escape(pid)}</title>"
                f"<h1>缴纳罚款 / Pay a fine</h1><p>{found.amount_yuan:.2f} 元 (yuan) · "
                f"{html.escape(found.case)} · {html.escape(found.status)}</p>{note}"
                f"<form method=post><button>支付 / Pay (simulator)</button></form>")
        return Response(page, mimetype="text/html")

    @bp.get("/api/v1/enforcement/cases")
    def cases():
        who, refused = reader()
        if refused:
            return refused
        args = request.args
        department, only = args.get("department") or None, enforcement_department(who)
        if only is not None:
            if department not in (None, only):
                return _error(403, f"an officer sees the enforcement cases of their own "
                                   f"department ({only}) only")
            department = only
        try:
            found = store.list(department=department,
                               open_only=args.get("open") == "1",
                               overdue=args.get("overdue") == "1",
                               flagged=args.get("flagged") == "1")
        except EnforcementError as exc:
            return _error(400, str(exc))
        return jsonify([c.view() for c in found if can_see_enforcement_case(who, c)])

    def read_case(cid: str):
        """(user, case, None) for a reader of a case that exists, else (.., .., the refusal)."""
        who, refused = reader()
        if refused:
            return who, None, refused
        found = store.get(cid)
        if found is None or not can_see_enforcement_case(who, found):  # no hint which one
            return who, None, _error(404, f"no enforcement case {cid!r}")
        return who, found, None

    @bp.get("/api/v1/enforcement/cases/<cid>")
    def case(cid: str):
        _who, found, refused = read_case(cid)
        return refused or jsonify(found.view())

    @bp.post("/api/v1/enforcement/cases/<cid>/flag")
    def flag(cid: str):
        who, found, refused = read_case(cid)
        if refused:
            return refused
        if not can_flag(who, found):
            return _error(403, f"the role {who.role} may not flag enforcement case {cid} "
                               f"(supervisors and admins flag open cases)")
        body = request.get_json(silent=True)
        note = body.get("note") if isinstance(body, dict) else None
        if not isinstance(note, str) or not note.strip() or len(note) > MAX_NOTE:
            return _error(400, f"send JSON {{\"note\": \"...\"}} (1-{MAX_NOTE} characters)")
        try:
            return jsonify(store.flag(cid, who.username, note).view())
        except EnforcementError as exc:
            return _error(409, str(exc))

    @bp.get("/api/v1/enforcement/stats")
    def figures():
        who, refused = reader()
        if refused:
            return refused
        cases = [c for c in store.all() if can_see_enforcement_case(who, c)]
        now = clock()
        return jsonify({**stats.summary(cases, now), "on_time": stats.on_time(cases, now)})

    server.register_blueprint(bp)
    for prefix in PREFIXES:
        answer_json(server, prefix, _error)
    return bp
