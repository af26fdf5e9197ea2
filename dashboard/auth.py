"""Sessions and the server-side guard: the Flask plumbing of the dashboard's authorisation.

The decisions are `dashboard.policy` (pure); users come from `dashboard.users`. A Flask session
(signed cookie; secret from $CITYOPS_SECRET or generated once under $CITYOPS_HOME) carries the
user name (`dashboard.session`).

`install(app)` adds a `before_request` guard: pages redirect to /login without a session, the
Dash callback endpoint answers 401/403 JSON, and every callback of a page module is refused to a
role that may not open that page (found from the callback's own module, so new pages are
covered without listing their callbacks). Callbacks returning case data check `can_see_case` /
`can_act` themselves as well: the guard decides pages, the callbacks decide cases and grids.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from urllib.parse import quote

from flask import Flask, current_app, jsonify, redirect, request, session

from dashboard.policy import can_open, home_page, safe_next
from dashboard.session import EXTENSION, current_user
from dashboard.users import authenticate, load_users

PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/open311/", "/cap/",
                   "/ogc/")  # the data routes check a session or an API key themselves
PUBLIC_PATHS = frozenset({"/login", "/logout", "/_dash-layout", "/_dash-dependencies",
                          "/_favicon.ico", "/_reload-hash", "/ogc"})
CALLBACK_PATH = "/_dash-update-component"
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
            body = request.get_json(silent=True) or {}
            page = callback_page(app, body)
            if user is None:
                return None if page == "/login" else _refuse(
                    401, "log in first: POST /login with username and password")
            if page is not None and not _is_router(body) and not can_open(user, page):
                return _refuse(403, f"the role {user.role} may not use the page {page}")
            return None  # the pages router: the wrapped layouts answer for themselves
        if user is None:
            target = request.full_path.rstrip("?")
            return redirect(f"/login?next={quote(target, safe='')}", 302)
        if path in app.cityops_pages and not can_open(user, path):
            return redirect(home_page(user), 302)
        return None

    return guard


def _login():
    users = current_app.extensions[EXTENSION]
    form = request.form
    user = authenticate(users, form.get("username", ""), form.get("password", ""))
    lang = form.get("lang", "zh")
    if user is None:
        nxt = quote(form.get("next", ""), safe="")
        return redirect(f"/login?error=1&lang={lang}&next={nxt}", 303)
    session.clear()
    session["user"] = user.username
    return redirect(safe_next(form.get("next"), user), 303)


def _logout():
    session.clear()
    return redirect(f"/login?lang={request.args.get('lang', 'zh')}", 303)


def _guarded_layout(path: str, layout):
    def wrapped(**query):
        if not can_open(current_user(), path):
            from dashboard.header import forbidden

            return forbidden(query.get("lang", "zh"), current_user())
        return layout(**query)

    return wrapped


def install(app, users_file: str | Path | None = None, home: str | Path | None = None) -> None:
    """Users, sessions, the login/logout routes and the guard on a Dash app's Flask server."""
    import dash

    server: Flask = app.server
    server.extensions[EXTENSION] = load_users(users_file)
    server.extensions["cityops_dash"] = app  # the Dash app, for tools and tests
    server.secret_key = secret_key(home)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    app.cityops_pages = {p["path"] for p in dash.page_registry.values()}
    for page in dash.page_registry.values():
        if page["path"] != "/login" and not getattr(page["layout"], "guarded", False):
            page["layout"] = _guarded_layout(page["path"], page["layout"])
            page["layout"].guarded = True
    server.add_url_rule("/login", "cityops_login", _login, methods=["POST"])
    server.add_url_rule("/logout", "cityops_logout", _logout, methods=["GET"])
    server.before_request(_guard(app))
