"""Partitions of a twin for ingest: which worker's streams and state an event belongs to.

A partition is a contiguous block of the twin's sorted cells made of whole coarse parents (H3
children of one parent are contiguous in uint64 order), so neighbouring cells share a partition,
a partition's live state is one slice of the twin's arrays, and the partition of an event is a
pure function of its cell: position -> the block holding it. Blocks are cut at parent
boundaries to balance the number of cells. With one partition (the default) nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin import cells as h3cells

MAX_PARTITIONS = 256


@dataclass(frozen=True)
class Partitions:
    """`count` blocks of twin positions: partition p holds positions [bounds[p], bounds[p+1])."""

    count: int
    level: int
    bounds: np.ndarray  # int64, count + 1 entries, bounds[0] = 0, bounds[-1] = n cells

    @staticmethod
    def of(twin, count: int = 1, level: int | None = None) -> Partitions:
        """Partitions of a twin: `count` blocks of whole parents at `level` (default: three
        levels above the twin's resolution, at least 0)."""
        n = len(twin)
        if not 1 <= count <= MAX_PARTITIONS:
            raise ValueError(f"partitions must be 1-{MAX_PARTITIONS}, got {count}")
        level = max(0, twin.resolution - 3) if level is None else int(level)
        if not 0 <= level <= twin.resolution:
            raise ValueError(f"partition level {level} must be 0-{twin.resolution} (the twin's "
                             f"resolution)")
        if count == 1 or n == 0:
            return Partitions(1, level, np.array([0, n], dtype=np.int64))
        parent = h3cells.parents(twin.cell_ids, level)
        starts = np.flatnonzero(np.r_[True, parent[1:] != parent[:-1]])  # first cell per parent
        if len(starts) < count:
            raise ValueError(f"the twin has {len(starts)} cells at level {level}: fewer than "
                             f"{count} partitions; use fewer partitions or a finer level")
        # cut before the parent whose first cell is nearest each k/count of the cells
        targets = np.arange(1, count) * n / count
        cuts = starts[np.clip(np.searchsorted(starts, targets), 1, len(starts) - 1)]
        cuts = np.unique(cuts)
        if len(cuts) < count - 1:  # two targets fell on one parent: take the next free ones
            free = np.setdiff1d(starts[1:], cuts)
            cuts = np.sort(np.r_[cuts, free[:count - 1 - len(cuts)]])
        return Partitions(count, level, np.r_[0, cuts, n].astype(np.int64))

    def of_positions(self, positions) -> np.ndarray:
        """The partition of each twin position (-1 for positions outside the twin)."""
        pos = np.asarray(positions, dtype=np.int64)
        out = np.searchsorted(self.bounds, pos, side="right") - 1
        return np.where((pos >= 0) & (pos < self.bounds[-1]), out, -1)

    def block(self, p: int) -> tuple[int, int]:
        """(first position, one past the last) of partition p."""
        if not 0 <= p < self.count:
            raise ValueError(f"no partition {p}: there are {self.count}")
        return int(self.bounds[p]), int(self.bounds[p + 1])

    def sizes(self) -> np.ndarray:
        return np.diff(self.bounds)

    def describe(self) -> dict:
        """What producers and workers must agree on (kept in Redis beside the streams)."""
        return {"count": self.count, "level": self.level,
                "bounds": ",".join(map(str, self.bounds.tolist()))}
