"""The logged-in user of the current request, from the Flask session (signed cookie)."""

from __future__ import annotations

from flask import current_app, session
from werkzeug.exceptions import Forbidden

from dashboard.policy import User

EXTENSION = "cityops_auth"


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
