"""Column-wise access to a group of stream entries: flat string entries or one Arrow batch."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from layers.live.idset import hash_strings


def _floats_slow(col: list) -> np.ndarray:
    """Element-wise float parse for a column that failed the fast path (bad input only)."""
    out = np.full(len(col), np.nan)
    for i, v in enumerate(col):
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            pass
    return out


def _iso_seconds(values: list) -> np.ndarray:
    """Epoch seconds of ISO 8601 strings, NaN where unparsable."""
    text = pd.Series([v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values],
                     dtype=object)
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    secs = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return secs.to_numpy(dtype=float, na_value=np.nan)


@functools.lru_cache(maxsize=64)
def _value_set(vocab: tuple[str, ...], type_: pa.DataType) -> pa.Array:
    return pa.array([v.encode() for v in vocab], type=type_)


def _is_text(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
            or pa.types.is_large_binary(t))


class ArrowColumns:
    """Columns over one Arrow table (the `arrow` field of a batch entry)."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.n = table.num_rows
        self._cols = {name: table.column(name).combine_chunks() for name in table.column_names}
        self._sizes: dict[str, np.ndarray] = {}

    def _col(self, name: str) -> pa.Array | None:
        return self._cols.get(name)

    def names(self) -> list[str]:
        """The field names present in this group."""
        return [k for k in self._cols if k != "_"]

    def text_names(self) -> list[str]:
        """The fields held as text or bytes (numbers have a fixed, small width)."""
        return [k for k, c in self._cols.items() if k != "_" and _is_text(c.type)]

    def present(self, name: str) -> np.ndarray:
        col = self._col(name)
        if col is None:
            return np.zeros(self.n, dtype=bool)
        if _is_text(col.type):
            return self.nbytes(name) > 0
        return col.is_valid().to_numpy(zero_copy_only=False)

    def nbytes(self, name: str) -> np.ndarray:
        size = self._sizes.get(name)
        if size is not None:
            return size.copy()
        col = self._col(name)
        if col is None:
            return np.zeros(self.n, dtype=np.int64)
        if not _is_text(col.type):
            col = col.cast(pa.string())
        if pa.types.is_large_binary(col.type) and col.null_count == 0:
            off = np.frombuffer(col.buffers()[1], dtype=np.int64)[col.offset:col.offset + self.n + 1]
            size = np.diff(off)
        else:
            size = pc.binary_length(col).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        self._sizes[name] = size
        return size.copy()

    def numeric(self, name: str) -> np.ndarray:
        col = self._col(name)
        if col is None:
            return np.full(self.n, np.nan)
        if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
            return col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False, writable=True)
        try:
            return col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False, writable=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return _floats_slow(col.to_pylist())

    def seconds(self, name: str) -> np.ndarray:
        col = self._col(name)
        if col is not None and pa.types.is_timestamp(col.type):  # any unit, any time zone
            ns = col.cast(pa.timestamp("ns", tz=col.type.tz)).cast(pa.int64())
            out = ns.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64) / 1e9
            out[~col.is_valid().to_numpy(zero_copy_only=False)] = np.nan
            return out
        out = self.numeric(name)
        bad = np.flatnonzero(np.isnan(out) & self.present(name))
        if len(bad):
            out[bad] = _iso_seconds(col.take(pa.array(bad)).to_pylist())
        return out

    def codes(self, name: str, vocab: tuple[str, ...], default: int = -1) -> np.ndarray:
        col = self._col(name)
        if col is None:
            return np.full(self.n, default, dtype=np.int64)
        if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
            values = _value_set(vocab, col.type)
        else:
            col, values = col.cast(pa.string()), pa.array(vocab)
        codes = pc.index_in(col, value_set=values).fill_null(-1)
        codes = codes.to_numpy(zero_copy_only=False).astype(np.int64)
        if default >= 0:
            codes[~self.present(name)] = default
        return codes

    def hashes(self, name: str, salt: int) -> np.ndarray:
        col = self._col(name)
        if col is None:
            return np.ones(self.n, dtype=np.uint64)
        if not _is_text(col.type):
            col = col.cast(pa.string())
        col = col.cast(pa.large_binary()).fill_null(b"")
        _, offsets, data = col.buffers()
        off = np.frombuffer(offsets, dtype=np.int64)[col.offset:col.offset + self.n + 1]
        raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
        return hash_strings(raw, off, salt)

    def text_chars(self, name: str, limit: int) -> np.ndarray:
        col = self._col(name)
        if col is None:
            return np.zeros(self.n, dtype=np.int64)
        size = self.nbytes(name)
        for i in np.flatnonzero(size > limit):  # only long texts need decoding
            v = col[int(i)].as_py()
            size[i] = len(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
        return size

    def take_row(self, i: int) -> ArrowColumns:
        """The columns of one row (to isolate a row that breaks column-wise validation)."""
        return ArrowColumns(self.table.slice(i, 1))

    def row(self, i: int) -> dict:
        row = self.table.slice(i, 1).to_pylist()[0]
        return {k: v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                for k, v in row.items() if v is not None}


def _binary(col: np.ndarray) -> pa.Array:
    """A binary Arrow array from an object array of bytes (no None), built from buffers."""
    n = len(col)
    lengths = np.fromiter(map(len, col), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets),
                                                         pa.py_buffer(b"".join(col))])


class FlatColumns(ArrowColumns):
    """Columns over flat entries given as raw field lists `[k1, v1, k2, v2, ...]` (bytes)."""

    def __init__(self, fields: list[list], columns: dict[str, pa.Array]) -> None:
        super().__init__(pa.table(columns) if columns else pa.table({"_": pa.nulls(len(fields))}))
        self.fields = fields

    def take_row(self, i: int) -> FlatColumns:
        return FlatColumns([self.fields[i]], {k: c.slice(i, 1) for k, c in self._cols.items()})

    def row(self, i: int) -> dict:
        f = self.fields[i]
        return {k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
                for k, v in zip(f[0::2], f[1::2], strict=False)}


def _group(grid: np.ndarray, keys: np.ndarray, rows: np.ndarray, fields: list):
    names = [k.decode("utf-8", "replace") for k in keys]
    cols = {name: _binary(grid[:, 2 * j + 1]) for j, name in enumerate(names)}
    return FlatColumns([fields[i] for i in rows], cols), rows


def split_entries(fields: list) -> tuple[list[tuple[FlatColumns, np.ndarray]], list[int]]:
    """Group raw field lists into column groups (with their row indices) and Arrow-batch rows.

    Entries with the same field layout become one 2-D object array sliced by column (a few
    layouts per read are normal: optional fields); anything odd goes through a per-entry dict.
    Deleted entries (None) are skipped.
    """
    n = len(fields)
    groups, arrows, slow = [], [], []
    lengths = np.fromiter((len(f) if f else 0 for f in fields), dtype=np.int64, count=n)
    for size in np.unique(lengths).tolist():
        idx = np.flatnonzero(lengths == size)
        if size == 0:
            continue
        try:
            grid = np.array(fields if len(idx) == n else [fields[i] for i in idx], dtype=object)
            ok = grid.ndim == 2 and size % 2 == 0 and all(isinstance(k, bytes) for k in grid[0])
        except ValueError:
            ok = False
        if not ok:
            slow.extend(idx.tolist())
            continue
        keys = grid[:, 0::2]
        is_arrow = (keys == b"arrow").any(axis=1)
        arrows.extend(idx[is_arrow].tolist())
        remaining = np.flatnonzero(~is_arrow)
        for _ in range(8):  # a few layouts per size; the rest takes the slow path
            if not len(remaining):
                break
            same = (keys[remaining] == keys[remaining[0]]).all(axis=1)
            rows = remaining[same]
            groups.append(_group(grid[rows] if len(rows) < len(grid) else grid,
                                 keys[remaining[0]], idx[rows], fields))
            remaining = remaining[~same]
        slow.extend(idx[remaining].tolist())
    if slow:
        rows, dicts = [], []
        for i in slow:
            f = fields[i]
            d = dict(zip(f[0::2], f[1::2], strict=False))
            if b"arrow" in d:
                arrows.append(i)
            else:
                rows.append(i)
                dicts.append(d)
        if rows:
            names = sorted({k for d in dicts for k in d if isinstance(k, bytes)})
            cols = {k.decode("utf-8", "replace"): pa.array(
                [v if isinstance(v := d.get(k), bytes) or v is None else str(v).encode()
                 for d in dicts], type=pa.large_binary()) for k in names}
            groups.append((FlatColumns([fields[i] for i in rows], cols), np.array(rows)))
    return groups, sorted(arrows)
