"""What a callback request may carry: its shape, and the value of each input (400, never 500).

Anyone logged in can post any JSON to /_dash-update-component, so a request is checked before
Dash runs it (`check`, called by the guard in `dashboard.auth`):

- its shape: the output names a server-side callback, and `inputs`/`state` match that callback's
  declared inputs (ids, properties, count) the way Dash's renderer sends them;
- its values: each page module declares `INPUTS = {"component-id.property": validator}` (for a
  pattern-matching id, its `type`), and every value sent for such an input must pass.

A validator takes the value and returns nothing or raises `BadRequest` naming the input, the
value and what would be accepted; `NotFound` for a well-formed reference to something that is
not there (a scenario run no longer kept). The helpers below build validators.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable

from werkzeug.exceptions import BadRequest

from dashboard.i18n import LANGS

Validator = Callable[[object, str], None]  # (value, input name) -> None, or raises
MAX_TEXT = 2000
MAX_ITEMS = 500


def _refuse(name: str, value, wanted: str) -> BadRequest:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return BadRequest(f"input {name}={shown} is not {wanted}")


# -- validators ------------------------------------------------------------------------------------
def optional(check: Validator) -> Validator:
    """None, or what `check` accepts."""
    def validate(value, name: str) -> None:
        if value is not None:
            check(value, name)
    return validate


def lang(value, name: str) -> None:
    """A UI language: zh or en."""
    if value not in LANGS:
        raise _refuse(name, value, f"a language: use {' or '.join(LANGS)}")


def integer(lo: int = 0, hi: int = 10 ** 9) -> Validator:
    """A whole number in [lo, hi] (never a bool)."""
    def validate(value, name: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _refuse(name, value, f"a whole number from {lo} to {hi}")
    return validate


def number(lo: float, hi: float) -> Validator:
    """A finite number in [lo, hi]."""
    def validate(value, name: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or not lo <= value <= hi:
            raise _refuse(name, value, f"a number from {lo:g} to {hi:g}")
    return validate


def flag(value, name: str) -> None:
    """True or false."""
    if not isinstance(value, bool):
        raise _refuse(name, value, "true or false")


def text(limit: int = MAX_TEXT) -> Validator:
    """A string of at most `limit` characters."""
    def validate(value, name: str) -> None:
        if not isinstance(value, str) or len(value) > limit:
            raise _refuse(name, value, f"text of at most {limit} characters")
    return validate


def one_of(choices: Iterable | Callable[[], Iterable], what: str) -> Validator:
    """One of `choices` (or of what `choices()` returns when called, for lists known late)."""
    def validate(value, name: str) -> None:
        known = choices() if callable(choices) else choices
        if not isinstance(value, str | int) or isinstance(value, bool) or value not in set(known):
            raise _refuse(name, value, f"{what}: choose one from the list")
    return validate


def token(pattern: str, what: str) -> Validator:
    """A string matching `pattern` (ids: case ids, run ids)."""
    rx = re.compile(pattern)

    def validate(value, name: str) -> None:
        if not isinstance(value, str) or not rx.fullmatch(value):
            raise _refuse(name, value, what)
    return validate


def mapping(fields: dict[str, Validator], what: str) -> Validator:
    """A dict whose listed keys pass their validators (other keys are refused)."""
    def validate(value, name: str) -> None:
        if not isinstance(value, dict) or set(value) - set(fields):
            raise _refuse(name, value, what)
        for key, check in fields.items():
            check(value.get(key), f"{name}[{key!r}]")
    return validate


def items(check: Validator, limit: int = MAX_ITEMS) -> Validator:
    """A list of at most `limit` values that each pass `check`."""
    def validate(value, name: str) -> None:
        if not isinstance(value, list) or len(value) > limit:
            raise _refuse(name, value, f"a list of at most {limit} items")
        for i, item in enumerate(value):
            check(item, f"{name}[{i}]")
    return validate


def click_info(value, name: str) -> None:
    """dash-deck's clickInfo: a dict whose `coordinate` is [lng, lat] and `object` a dict."""
    if not isinstance(value, dict):
        raise _refuse(name, value, "a map click (an object)")
    coord = value.get("coordinate")
    if coord is not None and not (isinstance(coord, list) and 2 <= len(coord) <= 3 and all(
            isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
            for c in coord)):
        raise _refuse(f"{name}.coordinate", coord, "[longitude, latitude]")
    if value.get("object") is not None and not isinstance(value.get("object"), dict):
        raise _refuse(f"{name}.object", value.get("object"), "the clicked record (an object)")


def json_object(limit: int = 20_000) -> Validator:
    """A JSON object of at most `limit` characters (form values kept in a store)."""
    def validate(value, name: str) -> None:
        if not isinstance(value, dict) or len(json.dumps(value)) > limit:
            raise _refuse(name, value, f"an object of at most {limit} characters")
    return validate


def _twin_numbers(column: str, registry: str) -> set[int]:
    from dashboard.context import context

    table = getattr(context().twin, registry)
    return {int(v) for v in table[column]} if column in table else set()


def grid(value, name: str) -> None:
    """A governance grid of the running twin: its number (or the number as text)."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) \
            or value not in _twin_numbers("grid", "grids"):
        raise _refuse(name, value, "a grid number of this city: choose one from the list")


def unit(value, name: str) -> None:
    """A street/town of the running twin, by number."""
    if isinstance(value, bool) or not isinstance(value, int) \
            or value not in _twin_numbers("unit", "units"):
        raise _refuse(name, value, "a street/town of this city: choose one from the list")


COUNT = optional(integer())  # n_clicks, n_intervals
VERSION = optional(integer(0, 2 ** 53))  # a snapshot version (exact in a browser's numbers)


# -- the request -----------------------------------------------------------------------------------
def _id_text(ident) -> str:
    """A component id as Dash writes it in `changedPropIds` and in its callback map."""
    if isinstance(ident, dict):
        return json.dumps(ident, sort_keys=True, separators=(",", ":"))
    return str(ident)


def _contract_name(ident, prop: str) -> str:
    """The key of an input in the pages' INPUTS: `id.property`, or `type.property` for a
    pattern-matching id."""
    return f"{ident.get('type')}.{prop}" if isinstance(ident, dict) else f"{ident}.{prop}"


def _matches_pattern(ident, pattern: dict) -> bool:
    if not isinstance(ident, dict) or set(ident) != set(pattern):
        return False
    for key, want in pattern.items():
        got = ident[key]
        if isinstance(got, bool) or not isinstance(got, str | int | float):
            return False
        if not isinstance(want, list) and got != want:  # ["ALL"], ["MATCH"]... are wildcards
            return False
    return True


def _check_item(item, spec: dict, where: str, contracts: dict[str, Validator]) -> None:
    """One entry of `inputs`/`state` against its declared input; then its value's contract."""
    declared = spec["id"]
    if declared.startswith("{"):
        pattern = json.loads(declared)
        multi = any(v in (["ALL"], ["ALLSMALLER"]) for v in pattern.values())
        if multi and (not isinstance(item, list) or len(item) > MAX_ITEMS):
            raise BadRequest(f"{where}: a pattern-matching input {declared} takes a list")
        for one in item if multi else [item]:  # MATCH: the one matching entry
            if not isinstance(one, dict) or one.get("property") != spec["property"] \
                    or not _matches_pattern(one.get("id"), pattern):
                raise BadRequest(f"{where}: an entry does not match the input {declared}."
                                 f"{spec['property']}")
            _value(one, contracts)
        return
    if not isinstance(item, dict) or item.get("id") != declared \
            or item.get("property") != spec["property"]:
        raise BadRequest(f"{where}: expected the input {declared}.{spec['property']}")
    _value(item, contracts)


def _value(item: dict, contracts: dict[str, Validator]) -> None:
    name = _contract_name(item["id"], item["property"])
    check = contracts.get(name)
    if check is not None:
        check(item.get("value"), name)


def _outputs_ok(outputs, output: str) -> bool:
    """`outputs` as Dash's renderer sends them: one entry per output of a multi-output callback
    (`..a.b...c.d..`), a list for a wildcard output, a single entry otherwise."""
    if output.startswith(".."):
        count = len(output.strip(".").split("..."))
        return isinstance(outputs, list) and len(outputs) == count \
            and all(isinstance(o, dict | list) for o in outputs)
    if output.startswith("{") and '["ALL' in output:  # a wildcard output: a list of entries
        return isinstance(outputs, list) and len(outputs) <= MAX_ITEMS \
            and all(isinstance(o, dict) for o in outputs)
    return isinstance(outputs, dict)


def _path(value, name: str) -> None:
    if not (isinstance(value, str) and value.startswith("/") and len(value) <= MAX_TEXT):
        raise _refuse(name, value, f"a path starting with / of at most {MAX_TEXT} characters")


DASH_INPUTS: dict[str, Validator] = {  # the inputs of Dash's own pages router
    "_pages_location.pathname": _path, "_pages_location.search": optional(text()),
}


def check(body, callback_map: dict, contracts: dict[str, Validator],
          polling: bool = False) -> None:
    """Refuse (400) a callback request whose shape or values are not what its callback takes.

    `polling`: the request asks after a running background job (Dash's `cacheKey`); the renderer
    then sends every value as null and Dash never passes them to the callback, so only the
    shape is checked."""
    if not isinstance(body, dict):
        raise BadRequest("a callback request is a JSON object (output, outputs, inputs, state)")
    output = body.get("output")
    spec = callback_map.get(output) if isinstance(output, str) else None
    if spec is None or "callback" not in spec:
        raise BadRequest(f"output {str(output)[:80]!r} is not a server callback of this app")
    if "outputs" in body and not spec.get("no_output") \
            and not _outputs_ok(body["outputs"], output):
        raise BadRequest(f"outputs do not match the callback's outputs {output[:80]!r}")
    contracts = {} if polling and spec.get("background") else {**DASH_INPUTS, **contracts}
    for part in ("inputs", "state"):
        declared, sent = spec.get(part, []), body.get(part, [])
        if not isinstance(sent, list) or len(sent) != len(declared):
            raise BadRequest(f"{part}: the callback takes {len(declared)} entries")
        for i, (item, want) in enumerate(zip(sent, declared, strict=True)):
            _check_item(item, want, f"{part}[{i}]", contracts)
    _check_changed(body)


def _check_changed(body: dict) -> None:
    """`changedPropIds` name inputs of this request (what `ctx.triggered_id` will return)."""
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or len(changed) > MAX_ITEMS:
        raise BadRequest("changedPropIds must be a list of 'id.property' strings")
    sent = {f"{_id_text(one['id'])}.{one['property']}"
            for item in body.get("inputs") or []
            for one in (item if isinstance(item, list) else [item])}
    for prop_id in changed:
        if not isinstance(prop_id, str) or "." not in prop_id or len(prop_id) > MAX_TEXT:
            raise BadRequest("changedPropIds must be a list of 'id.property' strings")
        ident, prop = prop_id.rsplit(".", 1)
        if ident.startswith("{"):
            try:
                ident = _id_text(json.loads(ident))
            except ValueError as exc:
                raise BadRequest(f"changedPropIds: {ident[:80]!r} is not a component id") \
                    from exc
        if f"{ident}.{prop}" not in sent:
            raise BadRequest(f"changedPropIds: {prop_id[:80]!r} is not an input of this request")
