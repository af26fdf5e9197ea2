"""Users, roles, sessions and authorisation of the dashboard, enforced on the server.

Users come from a YAML file (default `data/users.yaml`, or `$CITYOPS_USERS`) with werkzeug
password hashes. Roles: `admin` (everything), `commander` (every page and case, read only),
`grid_manager` (bound to grids: sees and acts on their own cells and cases only) and `planner`
(the command wall and scenarios). A Flask session (signed cookie; secret from $CITYOPS_SECRET or
generated once under $CITYOPS_HOME) carries the user name.

`install(app)` adds a `before_request` guard: pages redirect to /login without a session, the
Dash callback endpoint answers 401/403 JSON, and every callback of a page module is refused to a
role that may not open that page (found from the callback's own module, so new pages are
covered without listing their callbacks). Callbacks returning case data check `can_see_case` /
`can_act` themselves as well: the guard decides pages, the callbacks decide cases and grids.
"""

from __future__ import annotations

import inspect
import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import yaml
from flask import Flask, current_app, jsonify, redirect, request, session
from werkzeug.exceptions import Forbidden
from werkzeug.security import check_password_hash, generate_password_hash

from layers.cases import allowed as lifecycle_allowed

ROLES = ("admin", "commander", "grid_manager", "planner")
EVERYONE = frozenset(ROLES)
PAGE_ROLES: dict[str, frozenset[str]] = {
    "/": frozenset({"admin", "commander", "planner"}),
    "/grid": frozenset({"admin", "commander", "grid_manager"}),
    "/cases": frozenset({"admin", "commander", "grid_manager"}),
    "/scenarios": frozenset({"admin", "commander", "planner"}),
}
DEFAULT_PAGE_ROLES = frozenset({"admin", "commander"})  # pages not listed above
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"dispatch", "accept", "arrive", "resolve", "close", "reopen",
                        "escalate", "note"}),
    "grid_manager": frozenset({"accept", "arrive", "resolve", "note"}),
}
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/open311/", "/cap/")
PUBLIC_PATHS = frozenset({"/login", "/logout", "/_dash-layout", "/_dash-dependencies",
                          "/_favicon.ico", "/_reload-hash"})
CALLBACK_PATH = "/_dash-update-component"
ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."  # dash pages' router
EXTENSION = "cityops_auth"


class UsersFileError(ValueError):
    """The users file cannot be used; the message names the file, the user and the field."""


@dataclass(frozen=True)
class User:
    """A dashboard user: login name, display name, role, grids (grid managers) and hash."""

    username: str
    name: str
    role: str
    grids: frozenset[int] = frozenset()
    password_hash: str = field(default="", repr=False)

    def check(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)


# -- the users file ---------------------------------------------------------------------------
def default_users_file() -> Path:
    """`$CITYOPS_USERS`, else the demo users shipped in data/users.yaml."""
    env = os.environ.get("CITYOPS_USERS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data" / "users.yaml"


def _user(path: Path, username: str, raw: dict) -> User:
    where = f"{path}: user {username!r}"
    if not isinstance(raw, dict):
        raise UsersFileError(f"{where}: expected a mapping with role and password_hash")
    role = raw.get("role")
    if role not in ROLES:
        raise UsersFileError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    pw = raw.get("password_hash")
    if not isinstance(pw, str) or ":" not in pw:
        raise UsersFileError(f"{where}: password_hash is missing; make one with "
                             f"`python -c \"from werkzeug.security import generate_password_hash"
                             f" as g; print(g('...'))\"`")
    try:
        grids = frozenset(int(g) for g in raw.get("grids") or [])
    except (TypeError, ValueError) as exc:
        raise UsersFileError(f"{where}: grids must be a list of grid numbers ({exc})") from exc
    if role == "grid_manager" and not grids:
        raise UsersFileError(f"{where}: a grid_manager needs `grids: [numbers]` it is bound to")
    return User(username, str(raw.get("name") or username), role, grids, pw)


def load_users(path: str | Path | None = None) -> dict[str, User]:
    """Read and validate a users file: `users: {name: {role, password_hash, grids, name}}`."""
    path = Path(path) if path else default_users_file()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsersFileError(f"cannot read users file {path}: {exc}; pass another file with "
                             f"--users or $CITYOPS_USERS") from exc
    users = raw.get("users") if isinstance(raw, dict) else None
    if not isinstance(users, dict) or not users:
        raise UsersFileError(f"{path}: expected a top-level `users:` mapping of user names")
    return {str(name): _user(path, str(name), spec) for name, spec in users.items()}


def hash_password(password: str) -> str:
    """A werkzeug password hash for the users file."""
    return generate_password_hash(password)


def authenticate(users: dict[str, User], username: str, password: str) -> User | None:
    """The user when the name and password match, else None (no hint which one failed)."""
    user = users.get(username or "")
    if user is None:
        check_password_hash(_dummy_hash(), password or "")  # same time as a known name
        return None
    return user if user.check(password or "") else None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(8))


# -- authorisation (pure) -------------------------------------------------------------------------
def visible_grids(user: User | None) -> frozenset[int] | None:
    """The grids a user may see: None means every grid; an empty set means none."""
    if user is None or user.role == "planner":
        return frozenset()
    return user.grids if user.role == "grid_manager" else None


def can_see_grid(user: User | None, grid: int | None) -> bool:
    grids = visible_grids(user)
    return grids is None or (grid is not None and int(grid) in grids)


def can_open(user: User | None, path: str) -> bool:
    """Whether a user may open a page (the login page is open to everyone)."""
    if path == "/login":
        return True
    return user is not None and user.role in PAGE_ROLES.get(path, DEFAULT_PAGE_ROLES)


def can_see_case(user: User | None, case: dict) -> bool:
    """Grid managers see the cases in their grids; commanders and admins see every case."""
    return can_see_grid(user, (case.get("place") or {}).get("grid"))


def can_act(user: User | None, case: dict, action: str) -> bool:
    """Whether a user may do `action` on a case now (role, grid and the case's lifecycle)."""
    if user is None or action not in ROLE_ACTIONS.get(user.role, frozenset()):
        return False
    return can_see_case(user, case) and lifecycle_allowed(case, action)


def home_page(user: User) -> str:
    """Where a user lands after logging in: the first page their role may open."""
    return next(p for p in ("/", "/grid", "/cases", "/scenarios") if can_open(user, p))


def safe_next(target: str | None, user: User) -> str:
    """A redirect target after login: a local path the user may open, else their home page."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return home_page(user)
    return target if can_open(user, target.split("?")[0]) else home_page(user)


# -- the running app ------------------------------------------------------------------------------
def current_user() -> User | None:
    """The logged-in user of the current request (None outside a request or when anonymous)."""
    try:
        users = current_app.extensions[EXTENSION]
        name = session.get("user")
    except (RuntimeError, KeyError):
        return None
    return users.get(name) if name else None


def require(ok: bool, what: str) -> None:
    """Refuse the request (403) unless `ok`; `what` names what was refused."""
    if not ok:
        raise Forbidden(f"not allowed: {what}")


def secret_key(home: str | Path | None = None) -> bytes:
    """$CITYOPS_SECRET, else a random key generated once and kept in $CITYOPS_HOME/secret_key."""
    env = os.environ.get("CITYOPS_SECRET")
    if env:
        return env.encode()
    from layers.bus import default_home

    path = Path(home) if home else default_home()
    path.mkdir(parents=True, exist_ok=True)
    file = path / "secret_key"
    if not file.exists():
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return file.read_text().strip().encode()


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
            from dashboard.pages.login import forbidden

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
