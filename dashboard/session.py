"""Who is asking: the logged-in user (a signed session cookie whose session id is live), or,
on the data routes, the API key the request presents.

The cookie (Flask's signed session) carries the user name and a random session id; the id must
be live in the server's `SessionStore` (`dashboard.session_store`), so a cookie kept after
logout, or copied from a closed session, opens nothing. An API key (`dashboard.apikeys`) stands
for its role and grids.
"""

from __future__ import annotations

from flask import current_app, g, request, session
from werkzeug.exceptions import Forbidden, Unauthorized

from dashboard import apikeys
from dashboard.policy import User

EXTENSION = "cityops_auth"        # the users, on the Flask app's extensions
SESSIONS = "cityops_sessions"     # the SessionStore
KEYS = "cityops_keys"             # the KeyRing of the data routes


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


def current_principal() -> User | None:
    """Who asks a data route: the API key the request presents (a key that is not valid is
    refused with 401, never passed over for the session), else the logged-in user, else None."""
    key = apikeys.presented(request.headers)
    if key is None:
        return current_user()
    ring = current_app.extensions.get(KEYS)
    entry = ring.find(key) if ring is not None else None
    if entry is None:
        raise Unauthorized("the API key is not valid here (revoked, mistyped, or an Open311 key, "
                           "which opens Open311 only): ask the operator for a data key")
    return entry.user()


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
