"""How big an Arrow IPC stream is once decoded, read from its metadata WITHOUT decoding it.

A batch entry may be compressed (LZ4/ZSTD buffers): 11 KB on the wire can inflate to 300 MB.
Before pyarrow decompresses anything, `decoded_size` walks the stream's messages (Arrow columnar
format, "Encapsulated message format": continuation marker, metadata length, a flatbuffer
`Message`, the body) and adds up the body sizes, taking for every compressed buffer the
uncompressed length its first 8 bytes declare (format spec, "Compression"). Only the few
flatbuffer fields needed are read (Message.fbs: Message.header, Message.bodyLength,
RecordBatch.length, RecordBatch.buffers, RecordBatch.compression; DictionaryBatch.data).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CONTINUATION = 0xFFFFFFFF
HEADER_RECORD_BATCH = 3
HEADER_DICTIONARY_BATCH = 2


class ArrowSizeError(ValueError):
    """The stream is not a well-formed Arrow IPC stream (or lies about its sizes)."""


@dataclass(frozen=True)
class Size:
    """Rows and bytes of a stream once decoded (all its record and dictionary batches)."""

    rows: int
    decoded_bytes: int
    compressed: bool


class _Table:
    """A flatbuffer table: field i is read through its vtable (absent fields are None)."""

    def __init__(self, buf: bytes, pos: int) -> None:
        if pos < 0 or pos + 4 > len(buf):
            raise ArrowSizeError("flatbuffer table out of range")
        self.buf, self.pos = buf, pos
        vt = pos - struct.unpack_from("<i", buf, pos)[0]
        if vt < 0 or vt + 4 > len(buf):
            raise ArrowSizeError("flatbuffer vtable out of range")
        self.vt, self.vt_len = vt, struct.unpack_from("<H", buf, vt)[0]

    def _off(self, i: int) -> int:
        slot = 4 + 2 * i
        if slot + 2 > self.vt_len:
            return 0
        return struct.unpack_from("<H", self.buf, self.vt + slot)[0]

    def scalar(self, i: int, fmt: str, default=0):
        off = self._off(i)
        if not off:
            return default
        return struct.unpack_from("<" + fmt, self.buf, self.pos + off)[0]

    def table(self, i: int) -> _Table | None:
        off = self._off(i)
        if not off:
            return None
        at = self.pos + off
        return _Table(self.buf, at + struct.unpack_from("<I", self.buf, at)[0])

    def structs(self, i: int, size: int) -> tuple[int, int]:
        """(position of the first element, count) of a vector of structs."""
        off = self._off(i)
        if not off:
            return 0, 0
        at = self.pos + off
        vec = at + struct.unpack_from("<I", self.buf, at)[0]
        n = struct.unpack_from("<I", self.buf, vec)[0]
        if vec + 4 + n * size > len(self.buf):
            raise ArrowSizeError("flatbuffer vector out of range")
        return vec + 4, n


def _batch_size(batch: _Table, body: memoryview) -> tuple[int, int, bool]:
    """(rows, decoded body bytes, compressed) of one RecordBatch table."""
    rows = batch.scalar(0, "q")
    first, n = batch.structs(2, 16)  # Buffer {offset: long, length: long}
    compressed = batch.table(3) is not None
    total = 0
    for k in range(n):
        offset, length = struct.unpack_from("<qq", batch.buf, first + 16 * k)
        if offset < 0 or length < 0 or offset + length > len(body):
            raise ArrowSizeError("a buffer lies outside the message body")
        if compressed and length >= 8:
            declared = struct.unpack_from("<q", body, offset)[0]
            total += length - 8 if declared == -1 else declared
        else:
            total += length
    return rows, total, compressed


def decoded_size(blob: bytes) -> Size:
    """Rows and decoded bytes of an Arrow IPC stream, from its metadata alone."""
    data = memoryview(blob)
    pos, rows, total, compressed = 0, 0, 0, False
    while pos + 8 <= len(data):
        marker, = struct.unpack_from("<I", data, pos)
        if marker == CONTINUATION:
            meta_len, = struct.unpack_from("<i", data, pos + 4)
            pos += 8
        else:  # the pre-1.0 format without the continuation marker
            meta_len, pos = marker, pos + 4
        if meta_len == 0:
            break  # end of stream
        if meta_len < 0 or pos + meta_len > len(data):
            raise ArrowSizeError("a message's metadata runs past the end of the entry")
        meta = bytes(data[pos:pos + meta_len])
        pos += meta_len
        message = _Table(meta, struct.unpack_from("<I", meta, 0)[0])
        body_len = message.scalar(3, "q")
        if body_len < 0 or pos + body_len > len(data):
            raise ArrowSizeError("a message's body runs past the end of the entry")
        body = data[pos:pos + body_len]
        pos += body_len
        kind, header = message.scalar(1, "B"), message.table(2)
        if header is None:
            continue
        if kind == HEADER_DICTIONARY_BATCH:
            header = header.table(1)
            if header is None:
                continue
        elif kind != HEADER_RECORD_BATCH:
            continue
        n, size, packed = _batch_size(header, body)
        rows += n if kind == HEADER_RECORD_BATCH else 0
        total += size
        compressed |= packed
    return Size(rows, total, compressed)
