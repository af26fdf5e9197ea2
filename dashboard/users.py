"""The users file: dashboard users with werkzeug password hashes, validated on load.

`users: {name: {role, password_hash, grids, department, name}}` (default `data/users.yaml`, or
`$CITYOPS_USERS`); errors name the file, the user and the field. A grid manager needs `grids`, an
officer (执法人员) the `department` whose enforcement cases they work (a twin department id).
"""

from __future__ import annotations

import re
import secrets
from functools import lru_cache
from pathlib import Path

import yaml
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.policy import ROLES, User

DEPARTMENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # as layers.loop.enforcement takes it


class UsersFileError(ValueError):
    """The users file cannot be used; the message names the file, the user and the field."""


def default_users_file() -> Path:
    """`$CITYOPS_USERS`, else the demo users shipped in data/users.yaml."""
    from twin.settings import users_file

    return users_file()


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
    department = raw.get("department")
    if role == "officer" and not (isinstance(department, str) and DEPARTMENT.fullmatch(department)):
        raise UsersFileError(f"{where}: an officer needs `department: ID`, the twin department "
                             f"whose enforcement cases they work (e.g. market)")
    if role != "officer" and department is not None:
        raise UsersFileError(f"{where}: department is for officers only (role {role})")
    return User(username, str(raw.get("name") or username), role, grids, pw,
                department or "")


def load_users(path: str | Path | None = None) -> dict[str, User]:
    """Read and validate a users file: `users: {name: {role, password_hash, grids, department,
    name}}`."""
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
