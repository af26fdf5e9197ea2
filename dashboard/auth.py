"""Sessions and the server-side guard: the Flask plumbing of the dashboard's authorisation.

The decisions are `dashboard.policy` (pure); users come from `dashboard.users`. A Flask session
(signed cookie; secret from $CITYOPS_SECRET or generated once under $CITYOPS_HOME) carries the
user name and a random session id that must be live on the server (`dashboard.session`,
`dashboard.session_store`): logout ends it for every copy of the cookie.

`install(app)` adds a `before_request` guard: pages redirect to /login without a session, the
Dash callback endpoint answers 401/403 JSON, and every callback of a page module is refused to a
role that may not open that page (found from the callback's own module, so new pages are
covered without listing their callbacks). A callback request whose shape or input values are not
what its callback takes answers 400 JSON before Dash runs it (`dashboard.inputs`, the pages'
`INPUTS`). Callbacks returning case data check `can_see_case` / `can_act` themselves as well:
the guard decides pages, the callbacks decide cases and grids; errors they raise (403, 404)
answer JSON too.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from urllib.parse import quote

from flask import Flask, current_app, jsonify, redirect, request

from dashboard import inputs
from dashboard.http_errors import answer_json
from dashboard.i18n import lang_of
from dashboard.policy import can_open, home_page, local_path, safe_next
from dashboard.session import EXTENSION, SESSIONS, begin, current_user, end
from dashboard.session_store import SessionStore
from dashboard.throttle import LoginThrottle
from dashboard.users import authenticate, load_users

# paths the guard lets through: static files, and the protocol and data routes, which answer
# for themselves (Open311 is public; CAP, the OGC API and enforcement ask for a session or an API
# key: dashboard.web_api, dashboard.ogc.server, dashboard.enforce_api; the event API a producer
# key: dashboard.event_api; payment callbacks are signed; the payment simulator's page is public)
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/open311/", "/cap/", "/ogc/", "/api/",
                   "/pay/sim/")
PUBLIC_PATHS = frozenset({"/login", "/logout", "/_dash-layout", "/_dash-dependencies",
                          "/_favicon.ico", "/_reload-hash", "/ogc"})
CALLBACK_PATH = "/_dash-update-component"
CALLBACK_MAX_BODY = 8 * 1024 * 1024  # the largest callback request: a 5 MB photo as a data URL
THROTTLE = "cityops_throttle"
ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."  # dash pages' router


def secret_key(home: str | Path | None = None) -> bytes:
    """$CITYOPS_SECRET, else a random key generated once and kept in $CITYOPS_HOME/secret_key."""
    from twin.settings import secret

    return secret("secret_key", "CITYOPS_SECRET", Path(home) if home else None)


def callback_page(app, body: dict) -> str | None:
    """The page a callback request belongs to: the path asked of the pages router, or the PATH
    of the page module that defines the callback (None for app-wide callbacks)."""
    output = body.get("output") if isinstance(body, dict) else None
    if output == ROUTER_OUTPUT:
        for item in body.get("inputs") or []:
            if isinstance(item, dict) and item.get("id") == "_pages_location" \
                    and item.get("property") == "pathname":
                return str(item.get("value") or "/")
        return "/"
    spec = app.callback_map.get(output) if output else None
    if not spec or "callback" not in spec:
        return None
    module = inspect.getmodule(inspect.unwrap(spec["callback"]))
    return getattr(module, "PATH", None)


def _refuse(status: int, message: str):
    return jsonify({"error": message}), status


def _is_router(body: dict) -> bool:
    return isinstance(body, dict) and body.get("output") == ROUTER_OUTPUT


def _guard(app):
    def guard():
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return None
        user = current_user()
        if path == CALLBACK_PATH:
            request.max_content_length = CALLBACK_MAX_BODY  # 413 above (also when chunked)
            body = request.get_json(silent=True) or {}
            page = callback_page(app, body)
            if user is None:
                return None if page == "/login" else _refuse(
                    401, "log in first: POST /login with username and password")
            if page is not None and not _is_router(body) and not can_open(user, page):
                return _refuse(403, f"the role {user.role} may not use the page {page}")
            inputs.check(body, app.callback_map, app.cityops_inputs,
                         polling=bool(request.args.get("cacheKey")))  # else 400
            return None  # the pages router: the wrapped layouts answer for themselves
        if user is None:
            target = request.full_path.rstrip("?")
            return redirect(f"/login?next={quote(target, safe='')}", 302)
        if path in app.cityops_pages and not can_open(user, path):
            return redirect(home_page(user), 302)
        return None

    return guard


def _login():
    """POST /login: refused while the name or the address is locked out (`LoginThrottle`),
    whatever the password; every attempt counts against both (a success takes it back);
    success opens a new session."""
    form = request.form
    name, lang = form.get("username", ""), lang_of(form.get("lang"))
    address = request.remote_addr or "unknown"
    throttle: LoginThrottle = current_app.extensions[THROTTLE]
    wait = throttle.attempt(name, address)
    user = None if wait else authenticate(current_app.extensions[EXTENSION], name,
                                          form.get("password", ""))
    if user is None:
        wait = wait or throttle.wait(name, address)
        back = f"/login?lang={lang}&next={quote(local_path(form.get('next')) or '', safe='')}"
        if not wait:
            return redirect(f"{back}&error=1", 303)
        reply = redirect(f"{back}&error=locked&wait={wait}", 303)
        reply.headers["Retry-After"] = str(wait)
        return reply
    throttle.succeeded(name, address)
    begin(user)
    return redirect(safe_next(form.get("next"), user), 303)


def _logout():
    end()
    return redirect(f"/login?lang={lang_of(request.args.get('lang'))}", 303)


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",       # a JSON error is never sniffed into HTML
    "X-Frame-Options": "SAMEORIGIN",           # no clickjacking of case actions from elsewhere
    "Referrer-Policy": "same-origin",          # page addresses (grids, next=) stay here
}


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _guarded_layout(path: str, layout):
    def wrapped(**query):
        if not can_open(current_user(), path):
            from dashboard.header import forbidden

            return forbidden(lang_of(query.get("lang")), current_user())
        return layout(**query)

    return wrapped


def install(app, users_file: str | Path | None = None, home: str | Path | None = None,
            bus=None, secure_cookies: bool | None = None) -> None:
    """Users, sessions, the login/logout routes and the guard on a Dash app's Flask server.

    With a `bus`, the live session ids are kept in Redis (every dashboard process on the bus
    honours a logout); without one, in this process's memory. The session cookie is HttpOnly and
    SameSite=Lax; with `secure_cookies` (default: $CITYOPS_SECURE_COOKIES) it is also Secure and
    named `__Host-session`, so a browser sends it over HTTPS only, to this host only.
    """
    import dash

    from twin import settings

    server: Flask = app.server
    server.extensions[EXTENSION] = load_users(users_file)
    server.extensions[SESSIONS] = SessionStore(bus)
    server.extensions[THROTTLE] = LoginThrottle(bus)
    server.extensions["cityops_dash"] = app  # the Dash app, for tools and tests
    server.secret_key = secret_key(home)
    secure = settings.secure_cookies() if secure_cookies is None else bool(secure_cookies)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                         SESSION_COOKIE_SECURE=secure,
                         SESSION_COOKIE_NAME="__Host-session" if secure else "session")
    app.cityops_pages = {p["path"] for p in dash.page_registry.values()}
    for page in dash.page_registry.values():
        if page["path"] != "/login" and not getattr(page["layout"], "guarded", False):
            page["layout"] = _guarded_layout(page["path"], page["layout"])
            page["layout"].guarded = True
    if not hasattr(app, "cityops_inputs"):
        app.cityops_inputs = {}
    answer_json(server, CALLBACK_PATH, _refuse)
    server.add_url_rule("/login", "cityops_login", _login, methods=["POST"])
    server.add_url_rule("/logout", "cityops_logout", _logout, methods=["GET"])
    server.before_request(_guard(app))
    server.after_request(_security_headers)
