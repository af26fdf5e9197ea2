"""THE decoder of stream entries: raw entries of one kind -> valid located events + dead rows.

Both consumers of the event streams use it, so they see exactly the same events: the ingest
worker (counts, live layers; it writes the dead rows to the dead letters) and the rules engine
(it also asks for a frame of the valid rows with their text fields, and skips the dead rows,
which ingest reports). Flat entries are grouped by field layout and read column-wise; an Arrow
batch entry is read as one table; a row that breaks column-wise validation is isolated and
validated alone, so one bad row never costs its neighbours.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from layers.live import schema as S
from layers.live.arrowsize import ArrowSizeError, decoded_size
from layers.live.bus import flat
from layers.live.columns import ArrowColumns, split_entries
from layers.live.idset import IdSet
from layers.live.validate import Events, validate

FRAME_COLUMNS = ("id", "ts", "lat", "lng", "pos")


class SizeError(ValueError):
    """An Arrow batch over a size limit (bytes, decoded bytes or rows): send smaller batches."""


def payload_record(payload: bytes, reason: str, stream: str, excerpt: int = 256,
                   **extra: str) -> dict[str, str | bytes]:
    """A dead letter for a whole payload a door refused: the reason, where it came from
    (`stream`, `extra`), an excerpt of `excerpt` bytes, its size and SHA-256."""
    return {"reason": reason, "stream": stream, **{k: v[:256] for k, v in extra.items()},
            "payload": payload[:excerpt], "bytes": str(len(payload)),
            "sha256": hashlib.sha256(payload).hexdigest(), "time": repr(time.time())}


@dataclass
class DeadRow:
    """An entry (or one row of an Arrow batch) that failed, with the reason and its fields."""

    entry: str
    reason: str
    fields: dict[str, str]
    row: int | None = None

    def record(self, stream: str, excerpt: int = 256) -> dict[str, str | bytes]:
        """The dead-letter stream entry for it: the fields (each cut to `excerpt` bytes, with
        the size and SHA-256 of what was cut), the reason, the stream and the entry id."""
        out: dict[str, str | bytes] = {}
        cut = {}
        for name, value in self.fields.items():
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
            if len(raw) > excerpt:
                cut[name] = {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
                raw = raw[:excerpt]
            out[name[:128]] = raw
        out.update({"reason": self.reason, "stream": stream, "entry": self.entry})
        if cut:
            out["truncated"] = json.dumps(cut)
        if self.row is not None:
            out["row"] = str(self.row)
        return out


@dataclass
class Decoded:
    """What one group of entries of one kind holds: valid events, dead rows, optional frame."""

    kind: str
    events: Events
    dead: list[DeadRow] = field(default_factory=list)
    rows: int = 0
    frame: pd.DataFrame | None = None


def _entry_id(eid) -> str:
    return eid.decode() if isinstance(eid, bytes) else str(eid)


def _as_text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A binary column as text (invalid UTF-8 replaced); other columns as they are."""
    if not (pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type)):
        return col
    try:
        return pc.cast(col, pa.large_string())
    except pa.ArrowInvalid:
        return pa.array([v.decode("utf-8", "replace") if v is not None else None
                         for v in col.to_pylist()], type=pa.large_string())


class Decoder:
    """Decodes entries of one twin; keeps a memo of exact coordinates -> cell position."""

    def __init__(self, twin, limits: S.Limits | None = None) -> None:
        self.twin = twin
        self.points = IdSet()
        self.limits = limits or S.Limits.from_settings()

    def decode(self, kind: str, items: list, now: float,
               frame_fields: tuple[str, ...] | None = None,
               select: dict[str, set[str]] | None = None) -> Decoded:
        """Decode `(entry id, fields)` items of one stream of `kind`.

        `frame_fields`: also return a DataFrame of the valid rows with these fields (plus id,
        ts, lat, lng, pos), keeping only rows whose column values are in `select`.
        """
        fields = [flat(f) for _, f in items]
        out = Decoded(kind, Events.empty(kind))
        parts, frames = [], []
        groups, arrows = split_entries(fields)
        for cols, rows in groups:
            ev, ok = self._validate(kind, cols, now, out, [items[int(r)][0] for r in rows])
            parts.append(ev)
            if frame_fields is not None:
                frames.append(self._frame(cols, ok, ev, frame_fields, select))
        for i in arrows:
            eid = items[i][0]
            try:
                f = fields[i]
                table = self.arrow_table(f[f.index(b"arrow") + 1])
            except (pa.ArrowException, OSError, ValueError, IndexError, TypeError) as exc:
                out.dead.append(DeadRow(_entry_id(eid), f"broken Arrow batch: {exc}",
                                        _fields_dict(fields[i])))
                out.rows += 1
                continue
            cols = ArrowColumns(table)
            ev, ok = self._validate(kind, cols, now, out, eid)
            parts.append(ev)
            if frame_fields is not None:
                frames.append(self._frame(cols, ok, ev, frame_fields, select))
        out.events = Events.concat(kind, parts)
        if frame_fields is not None:
            frames = [f for f in frames if len(f)]
            out.frame = pd.concat(frames, ignore_index=True) if frames else \
                pd.DataFrame(columns=list(FRAME_COLUMNS))
        return out

    def arrow_table(self, blob) -> pa.Table:
        """The table of a batch entry, after checking its sizes without decoding it (a
        `SizeError` over a limit, a ValueError or an Arrow error when it is no Arrow stream)."""
        limits = self.limits
        if not isinstance(blob, bytes | bytearray | memoryview):
            raise TypeError("the arrow field must hold the bytes of an Arrow IPC stream")
        if len(blob) > limits.entry_bytes:
            raise SizeError(f"the entry is {len(blob):,} bytes, over the {limits.entry_bytes:,} "
                             f"limit: send smaller batches")
        try:
            size = decoded_size(blob)
        except (ArrowSizeError, struct.error) as exc:
            raise ValueError(f"not an Arrow IPC stream ({exc})") from exc
        if size.decoded_bytes > limits.decoded_bytes:
            raise SizeError(f"decompresses to {size.decoded_bytes:,} bytes, over the "
                             f"{limits.decoded_bytes:,} limit: send smaller batches")
        if size.rows > limits.batch_rows:
            raise SizeError(f"{size.rows:,} rows, over the {limits.batch_rows:,} limit: send "
                             f"smaller batches")
        return pa.ipc.open_stream(blob).read_all()

    def _validate(self, kind: str, cols, now: float, out: Decoded, where) -> tuple[Events, np.ndarray]:
        """Valid events and the mask of valid rows; dead rows appended to `out.dead`."""
        out.rows += cols.n
        try:
            ev, bad, reasons = validate(kind, cols, self.twin, now, self.points,
                                        self.limits.field_bytes)
        except Exception:  # noqa: BLE001 - input must never kill a consumer: isolate the row
            ev, bad, reasons = self._row_by_row(kind, cols, now)
        ok = np.ones(cols.n, dtype=bool)
        ok[bad] = False
        for i, reason in zip(np.asarray(bad).tolist(), reasons, strict=True):
            if isinstance(where, list):  # flat entries: one entry per row
                out.dead.append(DeadRow(_entry_id(where[i]), reason, cols.row(i)))
            else:  # a row of an Arrow batch entry
                out.dead.append(DeadRow(_entry_id(where), reason, cols.row(i), row=i))
        return ev, ok

    def _row_by_row(self, kind: str, cols, now: float):
        parts, bad, reasons = [], [], []
        for i in range(cols.n):
            try:
                one, b, r = validate(kind, cols.take_row(i), self.twin, now,
                                     field_bytes=self.limits.field_bytes)
                parts.append(one)
                if len(b):
                    bad.append(i)
                    reasons.append(r[0])
            except Exception as exc:  # noqa: BLE001
                bad.append(i)
                reasons.append(f"unreadable event: {type(exc).__name__}: {exc}")
        return Events.concat(kind, parts), np.array(bad, dtype=np.int64), reasons

    def _frame(self, cols, ok: np.ndarray, ev: Events, names: tuple[str, ...],
               select: dict[str, set[str]] | None) -> pd.DataFrame:
        """The valid rows as a DataFrame: id and the asked text fields, validated numbers."""
        if not ok.any():
            return pd.DataFrame(columns=list(FRAME_COLUMNS))
        table = cols.table.filter(pa.array(ok)) if not ok.all() else cols.table
        data = {"id": _as_text(table.column("id")).to_pylist()}
        for name in names:
            if name in table.column_names and name not in FRAME_COLUMNS:
                data[name] = _as_text(table.column(name).combine_chunks()).to_pylist()
        frame = pd.DataFrame(data)
        frame["id"] = frame["id"].astype(str)
        frame = frame.assign(ts=ev.ts, lat=cols.numeric("lat")[ok], lng=cols.numeric("lng")[ok],
                             pos=ev.pos)
        for column, allowed in (select or {}).items():
            if column in frame:
                frame = frame[frame[column].isin(allowed)]
            else:
                frame = frame.iloc[:0]
        return frame.reset_index(drop=True)


def _fields_dict(raw: list) -> dict[str, str | bytes]:
    return {k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k): v
            for k, v in zip(raw[0::2], raw[1::2], strict=False)}

