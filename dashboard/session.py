"""The logged-in user of the current request: a signed session cookie whose session id is live.

The cookie (Flask's signed session) carries the user name and a random session id; the id must
be live in the server's `SessionStore` (`dashboard.session_store`), so a cookie kept after
logout, or copied from a closed session, opens nothing.
"""

from __future__ import annotations

from flask import current_app, g, session
from werkzeug.exceptions import Forbidden

from dashboard.policy import User

EXTENSION = "cityops_auth"        # the users, on the Flask app's extensions
SESSIONS = "cityops_sessions"     # the SessionStore


def current_user() -> User | None:
    """The logged-in user of the current request (None outside a request or when anonymous)."""
    try:
        if "cityops_user" in g:
            return g.cityops_user
        users = current_app.extensions[EXTENSION]
        store = current_app.extensions[SESSIONS]
        name, sid = session.get("user"), session.get("sid")
    except (RuntimeError, KeyError):
        return None
    user = users.get(name) if isinstance(name, str) else None
    if user is not None and store.user(sid) != name:
        user = None
    g.cityops_user = user
    return user


def begin(user: User) -> None:
    """Log `user` in on this request's session: a new session id, live in the store."""
    end()
    session["user"] = user.username
    session["sid"] = current_app.extensions[SESSIONS].open(user.username)
    g.cityops_user = user


def end() -> None:
    """End the request's session on the server and clear the cookie."""
    sid = session.get("sid")
    if sid:
        current_app.extensions[SESSIONS].close(sid)
    session.clear()
    g.pop("cityops_user", None)


def require(ok: bool, what: str) -> None:
    """Refuse the request (403) unless `ok`; `what` names what was refused."""
    if not ok:
        raise Forbidden(f"not allowed: {what}")
