"""Event bodies sent to a door: a JSON object, a JSON array, NDJSON or an Arrow IPC stream.

`read_body` turns the bytes of one request into a `Body`: an Arrow IPC stream of the events
(the `arrow` field of a batch entry, so the one decoder reads it; JSON values become text
columns, exactly the text a flat stream entry would hold) and the rows whose shape is wrong (a
line that is not a JSON object, a value that is an object or a list). What cannot be read at all
(not UTF-8, not JSON, not an Arrow stream, no events) is a `BodyError` naming the fix. The size of
the body is the caller's to check before it reads it; the rows are counted before any is built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa

from layers.live.bus import arrow_bytes

JSON, NDJSON, ARROW = "application/json", "application/x-ndjson", \
    "application/vnd.apache.arrow.stream"
CONTENT_TYPES = (JSON, NDJSON, ARROW)
MAX_FIELDS = 32      # fields of one event (the contract has at most 11)
MAX_NAME_BYTES = 64  # length of one field name


class BodyError(ValueError):
    """A body that cannot be read as events; the message says what to send instead."""


@dataclass
class Body:
    """The events of one body as an Arrow IPC stream, and the rows refused for their shape."""

    arrow: bytes
    index: list[int] | None                  # JSON: position in the body of each row of `arrow`
    bad: list[tuple[int, str, str]] = field(default_factory=list)  # (position, reason, text)
    count: int = 0                           # events in the body, good and bad

    def position(self, row: int) -> int:
        """The position in the body of a row of the table."""
        return row if self.index is None else self.index[row]


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON (use null or a number)")


def _loads(text: str):
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _text(value) -> str | None:
    """A JSON value as the text a flat stream entry holds (None: leave the field out)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is float:
        return repr(value)
    if kind is int:
        return str(value)
    if value is None:
        return None
    raise TypeError("a JSON object or list" if kind in (dict, list) else "true/false")


def _flat(event) -> dict[str, str]:
    """One event as flat text fields, or a ValueError saying what is wrong with its shape."""
    if not isinstance(event, dict):
        raise ValueError("not a JSON object: each event is an object of fields")
    if len(event) > MAX_FIELDS:
        raise ValueError(f"{len(event)} fields, over the {MAX_FIELDS} an event may have")
    out = {}
    for name, value in event.items():
        if len(name.encode("utf-8", "replace")) > MAX_NAME_BYTES:
            raise ValueError(f"field name {name[:40]!r}... is over {MAX_NAME_BYTES} bytes")
        try:
            text = _text(value)
        except TypeError as exc:
            raise ValueError(f"field {name!r} holds {exc}: event fields are strings or "
                             f"numbers") from None
        if text is not None:
            out[name] = text
    return out


def _json_events(text: str, ndjson: bool, max_rows: int) -> list:
    """The parsed events (or, for NDJSON, a ValueError per unreadable line) of a JSON body."""
    if not ndjson:
        try:
            data = _loads(text)
        except ValueError as exc:
            raise BodyError(f"the body is not JSON ({exc}): send an object or an array of "
                            f"objects, or NDJSON as application/x-ndjson") from None
        events = data if isinstance(data, list) else [data] if isinstance(data, dict) else None
        if events is None:
            raise BodyError("the JSON body must be an object or an array of objects (events)")
        if len(events) > max_rows:
            raise BodyError(f"{len(events):,} events, over the {max_rows:,} a request may hold: "
                            f"send smaller batches")
        return events
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) > max_rows:
        raise BodyError(f"{len(lines):,} lines, over the {max_rows:,} a request may hold: send "
                        f"smaller batches")
    try:  # one parse for the whole body (the usual case), kept if it gives one event a line
        events = _loads("[" + ",".join(lines) + "]")
        if len(events) == len(lines):
            return events
    except ValueError:
        pass
    out = []
    for line in lines:
        try:
            out.append(_loads(line))
        except ValueError as exc:
            out.append(ValueError(f"line is not JSON ({exc})"))
    return out


def read_body(data: bytes, content_type: str, max_rows: int) -> Body:
    """The events of a request body of `content_type` (one of CONTENT_TYPES)."""
    if not data:
        raise BodyError("the body is empty: send events (JSON, NDJSON or an Arrow IPC stream)")
    if content_type == ARROW:
        return _arrow_body(data)
    if content_type not in (JSON, NDJSON):
        raise BodyError(f"unsupported content type {content_type!r}: use one of "
                        f"{', '.join(CONTENT_TYPES)}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"the body is not UTF-8 (byte {exc.start}): send UTF-8 JSON") from None
    events = _json_events(text, content_type == NDJSON, max_rows)
    if not events:
        raise BodyError("the body holds no events")
    table = _typed(events)
    if table is not None:
        return Body(arrow_bytes(table), list(range(len(events))), [], len(events))
    rows, index, bad = [], [], []
    for i, event in enumerate(events):
        try:
            if isinstance(event, ValueError):
                raise event
            rows.append(_flat(event))
            index.append(i)
        except ValueError as exc:
            shown = event if isinstance(event, ValueError) else json.dumps(event,
                                                                           ensure_ascii=False)
            bad.append((i, str(exc), str(shown)))
    table = pa.Table.from_pylist(rows) if rows else pa.table({})
    return Body(arrow_bytes(table), index, bad, len(events))


def _typed(events: list) -> pa.Table | None:
    """The events as a table of typed columns when every one is a well-shaped object whose
    values are strings or numbers (the usual case, read column-wise), else None."""
    if not all(type(e) is dict for e in events):
        return None
    try:
        table = pa.Table.from_pylist(events)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    if table.num_columns > MAX_FIELDS:
        return None
    for f in table.schema:
        if len(f.name.encode("utf-8", "replace")) > MAX_NAME_BYTES or not (
                pa.types.is_string(f.type) or pa.types.is_floating(f.type)
                or pa.types.is_integer(f.type) or pa.types.is_null(f.type)):
            return None
    nulls = [i for i, f in enumerate(table.schema) if pa.types.is_null(f.type)]
    return table.drop_columns([table.column_names[i] for i in nulls]) if nulls else table


def _arrow_body(data: bytes) -> Body:
    """An Arrow IPC stream: its rows are counted from the metadata by the decoder, not here."""
    try:
        schema = pa.ipc.open_stream(data).schema
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise BodyError(f"the body is not an Arrow IPC stream ({exc}): write it with "
                        f"pyarrow.ipc.new_stream") from None
    for f in schema:
        if pa.types.is_nested(f.type) or pa.types.is_dictionary(f.type):
            raise BodyError(f"column {f.name!r} is {f.type}: event columns are numbers, "
                            f"strings or timestamps")
    return Body(data, None, [], 0)
