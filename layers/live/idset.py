"""Vectorised event-id dedup: 64-bit hashes of id strings and an open-addressing hash set in numpy."""

from __future__ import annotations

import numpy as np

_P = np.uint64(0x100000001B3)  # odd multiplier (FNV prime): invertible mod 2**64
_PINV = np.uint64(pow(0x100000001B3, -1, 2**64))
_MASK64 = (1 << 64) - 1


_TABLES: dict[int, np.ndarray] = {}


def _pow_table(base: np.uint64, n: int) -> np.ndarray:
    """base**i mod 2**64 for i < n (cached, grown by doubling)."""
    table = _TABLES.get(int(base))
    if table is None or len(table) < n:
        size = 1 << max(16, int(n).bit_length())
        table = np.empty(size, dtype=np.uint64)
        table[0] = 1
        with np.errstate(over="ignore"):
            np.cumprod(np.full(size - 1, base, dtype=np.uint64), out=table[1:])
        _TABLES[int(base)] = table
    return table[:n]


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spreads hash bits over the whole word."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def hash_strings(data: np.ndarray, offsets: np.ndarray, salt: int = 0) -> np.ndarray:
    """64-bit hashes of the byte strings `data[offsets[i]:offsets[i+1]]`, never 0."""
    data = np.asarray(data, dtype=np.uint8)
    offsets = np.asarray(offsets, dtype=np.int64)
    n = len(offsets) - 1
    with np.errstate(over="ignore"):
        powers = _pow_table(_P, len(data) + 1)
        prefix = np.zeros(len(data) + 1, dtype=np.uint64)
        np.cumsum((data.astype(np.uint64) + np.uint64(1)) * powers[:-1], out=prefix[1:])
        inv = _pow_table(_PINV, len(data) + 1)
        start, end = offsets[:-1], offsets[1:]
        h = (prefix[end] - prefix[start]) * inv[start]
        h = h + (end - start).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        # the salt goes in after a first mixing round: added to the linear string hash, a salt
        # difference d would collide with ids whose first characters differ by d
        h = mix64(mix64(h) + mix64(np.array([salt], dtype=np.uint64))[0])
    h[h == 0] = 1
    return h[:n]


def hash_bytes_list(values: list[bytes], salt: int = 0) -> np.ndarray:
    """Hashes of a list of byte strings (one join, then vectorised)."""
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return hash_strings(np.frombuffer(b"".join(values), dtype=np.uint8), offsets, salt)


class IdSet:
    """A set of nonzero uint64 hashes, each with an int32 stamp (e.g. the hour it was seen)."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        cap = 1 << max(4, int(capacity - 1).bit_length())
        self.keys = np.zeros(cap, dtype=np.uint64)
        self.stamps = np.zeros(cap, dtype=np.int32)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, h: np.ndarray, stamp: np.ndarray | int) -> np.ndarray:
        """Insert hashes; True where a hash was new (the first of equal hashes in `h` wins)."""
        h = np.asarray(h, dtype=np.uint64)
        stamps = np.broadcast_to(np.asarray(stamp, dtype=np.int32), h.shape)
        if (self.size + len(h)) * 2 > len(self.keys):
            self._resize(1 << int(4 * (self.size + len(h))).bit_length())
        mask = np.uint64(len(self.keys) - 1)
        new = np.zeros(len(h), dtype=bool)
        slot = (h & mask).astype(np.int64)
        pending = np.arange(len(h))
        while pending.size:
            s = slot[pending]
            cur = self.keys[s]
            empty = cur == 0
            busy = ~empty & (cur != h[pending])
            claimants, cs = pending[empty], s[empty]
            # claim empty slots through their stamp cell: the first claimant in batch order wins
            self.stamps[cs[::-1]] = claimants[::-1].astype(np.int32)
            won = self.stamps[cs] == claimants
            self.keys[cs[won]] = h[claimants[won]]
            self.stamps[cs[won]] = stamps[claimants[won]]
            new[claimants[won]] = True
            moved = pending[busy]
            slot[moved] = (slot[moved] + 1) & int(mask)
            pending = np.concatenate([claimants[~won], moved])
        self.size += int(new.sum())
        return new

    def get(self, h: np.ndarray, default: int = -2) -> np.ndarray:
        """The stamps stored with the hashes, `default` where absent."""
        h = np.asarray(h, dtype=np.uint64)
        mask = np.uint64(len(self.keys) - 1)
        out = np.full(len(h), default, dtype=np.int64)
        slot = (h & mask).astype(np.int64)
        pending = np.arange(len(h))
        while pending.size:
            s = slot[pending]
            cur = self.keys[s]
            hit = cur == h[pending]
            out[pending[hit]] = self.stamps[s[hit]]
            pending = pending[~hit & (cur != 0)]
            slot[pending] = (slot[pending] + 1) & int(mask)
        return out

    def _resize(self, capacity: int) -> None:
        keep = self.keys != 0
        keys, stamps = self.keys[keep], self.stamps[keep]
        self.__init__(capacity)
        if len(keys):
            self.add(keys, stamps)

    def drop_older(self, stamp: int) -> None:
        """Forget hashes stamped before `stamp` (rebuilds the table)."""
        keep = (self.keys != 0) & (self.stamps >= stamp)
        keys, stamps = self.keys[keep], self.stamps[keep]
        self.__init__(max(1 << 16, 4 * len(keys)))
        if len(keys):
            self.add(keys, stamps)


def point_keys(lat: np.ndarray, lng: np.ndarray, salt: np.ndarray | int) -> np.ndarray:
    """Nonzero 64-bit keys of the exact coordinate bits (plus a salt such as the CRS code)."""
    with np.errstate(over="ignore"):
        a = np.ascontiguousarray(lat, dtype=np.float64).view(np.uint64)
        b = np.ascontiguousarray(lng, dtype=np.float64).view(np.uint64)
        k = mix64(mix64(a) ^ (b * np.uint64(0x9E3779B97F4A7C15))
                  ^ np.asarray(salt, dtype=np.uint64))
    k[k == 0] = 1
    return k
