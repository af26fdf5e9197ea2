"""Who may open and do what, as pure functions of the user (and the case): unit-tested alone.

Roles: `admin` (everything), `commander` (every page and case, read only), `grid_manager`
(bound to grids: sees and acts on their own cells and cases only), `planner` (the command
wall, scenarios and the inspection page with its route what-if) and `supervisor` (执法监督:
every department's enforcement cases, their stage deadlines and statistics; may flag an
enforcement case for review) and `officer` (a department's law-enforcement officer, 执法人员:
bound to one `department`; sees that department's enforcement cases only and moves its open
cases through the procedure; may not flag). API keys may also be `producer` (post events, read
nothing); a key is never an officer (a key has no department). The Flask side (`dashboard.auth`) enforces these
decisions on every page, callback and data route; nothing here knows about requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from werkzeug.security import check_password_hash

from layers.loop.lifecycle import allowed as lifecycle_allowed
from layers.loop.procedure import EnforcementCase
from layers.loop.records import Case

ROLES = ("admin", "commander", "grid_manager", "planner", "supervisor", "officer")
EVERYONE = frozenset(ROLES)
# API keys may also be `producer`: they post events (the HTTP event API) and read nothing; an
# officer works in the browser (or the CLI) as themselves: no key has a department
KEY_ROLES = (*(r for r in ROLES if r != "officer"), "producer")
SEE_ALL = frozenset({"admin", "commander"})  # every grid; grid managers their own; others none
PAGE_ROLES: dict[str, frozenset[str]] = {
    "/": frozenset({"admin", "commander", "planner"}),
    "/grid": frozenset({"admin", "commander", "grid_manager"}),
    "/cases": frozenset({"admin", "commander", "grid_manager"}),
    "/scenarios": frozenset({"admin", "commander", "planner"}),
    "/enforcement": frozenset({"admin", "commander", "supervisor", "officer"}),
    "/patrol": frozenset({"admin", "commander", "planner"}),
}
DEFAULT_PAGE_ROLES = frozenset({"admin", "commander"})  # pages not listed above
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"dispatch", "accept", "arrive", "resolve", "close", "reopen",
                        "escalate", "note"}),
    "grid_manager": frozenset({"accept", "arrive", "resolve", "note"}),
}


@dataclass(frozen=True)
class User:
    """A dashboard user: login name, display name, role, grids (grid managers), hash and
    department (officers: the twin department whose enforcement cases they work)."""

    username: str
    name: str
    role: str
    grids: frozenset[int] = frozenset()
    password_hash: str = field(default="", repr=False)
    department: str = ""

    def check(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)


def visible_grids(user: User | None) -> frozenset[int] | None:
    """The grids a user may see: None means every grid; an empty set means none (planners,
    producer keys, any role not named here)."""
    if user is not None and user.role in SEE_ALL:
        return None
    return user.grids if user is not None and user.role == "grid_manager" else frozenset()


def can_see_grid(user: User | None, grid: int | None) -> bool:
    grids = visible_grids(user)
    return grids is None or (grid is not None and int(grid) in grids)


def can_see_alert(user: User | None, grid: int | None) -> bool:
    """Whether a user (or an API key, by its role) may read an alert at a grid: whoever may see
    that grid's cases (commanders and admins every alert, grid managers their grids')."""
    return user is not None and can_see_grid(user, grid)


def can_open(user: User | None, path: str) -> bool:
    """Whether a user may open a page (the login page is open to everyone)."""
    if path == "/login":
        return True
    return user is not None and user.role in PAGE_ROLES.get(path, DEFAULT_PAGE_ROLES)


def can_see_case(user: User | None, case: Case) -> bool:
    """Grid managers see the cases in their grids; commanders and admins see every case."""
    return can_see_grid(user, case.place.grid)


def can_act(user: User | None, case: Case, action: str) -> bool:
    """Whether a user may do `action` on a case now (role, grid and the case's lifecycle)."""
    if user is None or action not in ROLE_ACTIONS.get(user.role, frozenset()):
        return False
    return can_see_case(user, case) and lifecycle_allowed(case, action)


ENFORCEMENT_READERS = PAGE_ROLES["/enforcement"]
ENFORCEMENT_FLAGGERS = frozenset({"admin", "supervisor"})
# who moves enforcement cases through the procedure: admins (any department's, as on the command
# line) and officers (their own department's); commanders read, supervisors flag
ENFORCEMENT_MOVERS = frozenset({"admin", "officer"})
NOT_BY_HAND = frozenset({"pay", "flag"})  # the gateway's signed callback pays; supervisors flag


def can_see_enforcement(user: User | None) -> bool:
    """Whether a user may open enforcement at all (the page, the routes): every department's
    cases, or an officer's own department's (`enforcement_department`)."""
    return user is not None and user.role in ENFORCEMENT_READERS


def enforcement_department(user: User | None) -> str | None:
    """The one department whose enforcement cases a user sees (officers), None for every
    department (supervisors, commanders, admins). Only meaningful with `can_see_enforcement`."""
    return user.department if user is not None and user.role == "officer" else None


def can_see_enforcement_case(user: User | None, case: EnforcementCase) -> bool:
    """Supervisors, commanders and admins see every case; an officer their department's."""
    if not can_see_enforcement(user):
        return False
    only = enforcement_department(user)
    return only is None or (bool(only) and case.department == only)


def may_move_enforcement(user: User | None) -> bool:
    """Whether a user's role moves enforcement cases at all (the page shows them the desk)."""
    return user is not None and user.role in ENFORCEMENT_MOVERS


def can_act_enforcement(user: User | None, case: EnforcementCase, action: str) -> bool:
    """Whether a user may do `action` on an enforcement case: an admin on any open case, an
    officer on their department's open cases; never `pay` or `flag` (see NOT_BY_HAND). Whether
    the case's stage allows the action is the procedure's to say (`procedure.check`, through the
    store), so a refusal there carries its reason."""
    return (may_move_enforcement(user) and action not in NOT_BY_HAND
            and can_see_enforcement_case(user, case) and case.is_open)


def may_flag(user: User | None) -> bool:
    """Whether a user's role flags enforcement cases at all (supervisors, admins)."""
    return user is not None and user.role in ENFORCEMENT_FLAGGERS


def can_flag(user: User | None, case: EnforcementCase) -> bool:
    """Whether a user may flag an enforcement case for review (supervisors, admins; open cases)."""
    return may_flag(user) and case.is_open


def home_page(user: User) -> str:
    """Where a user lands after logging in: the first page their role may open."""
    return next(p for p in ("/", "/grid", "/cases", "/scenarios", "/enforcement", "/patrol")
                if can_open(user, p))


MAX_NEXT = 2000
_UNSAFE = re.compile(r"[^\x21-\x7e]|\\")  # all but printable ASCII, and backslashes
_DOT_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)")


def local_path(target: str | None) -> str | None:
    r"""`target` when it is a same-origin absolute path (`/cases?lang=en`), else None.

    Browsers drop tabs and newlines from URLs, read a backslash as a slash and resolve `..`
    (also written `%2e%2e`), so `/\t/evil.example`, `/\evil.example` or `/..//evil.example`
    could each become the address of another host. Anything but printable ASCII (control
    characters, spaces), a backslash, a leading `//`, a scheme, a host or a dot segment, raw or
    percent-decoded, is refused rather than repaired.
    """
    if not isinstance(target, str) or not target.startswith("/") or len(target) > MAX_NEXT:
        return None
    for form in (target, unquote(target)):
        if _UNSAFE.search(form) or not form.startswith("/") or form.startswith("//"):
            return None
        parts = urlsplit(form)
        if parts.scheme or parts.netloc or _DOT_SEGMENT.search(parts.path):
            return None
    return target


def safe_next(target: str | None, user: User) -> str:
    """A redirect target after login: a local path (`local_path`) the user may open, else their
    home page."""
    path = local_path(target)
    if path is None:
        return home_page(user)
    page = urlsplit(path).path
    return path if can_open(user, page) else home_page(user)
