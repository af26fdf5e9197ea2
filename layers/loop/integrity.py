"""`cityops audit verify`: the audit log and what is derived from it, checked in one pass.

- the chain: every record's MAC under the audit key, the links, the head, the anchors outside
  Redis (`AuditLog.verify`);
- the case views: every case's records are folded afresh (`layers.loop.lifecycle.fold`) and the
  result must equal the stored view the dashboard shows (`CaseStore`); a view that differs, a
  view without records and records without a view are reported by case id and field; the same
  for enforcement cases (`layers.loop.procedure.fold`, `EnforcementStore`);
- the inspection draws: a seed chosen by the operator (or not recorded) is a notice.

The folded cases are held in memory for the comparison (one `Case` per case in the log).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from layers.live.bus import Bus
from layers.loop.audit import AuditLog, Verification
from layers.loop.cases import CaseStore
from layers.loop.inspections import seed_notice
from layers.loop.lifecycle import CaseError, fold

MAX_FIELDS = 3  # differing fields named per case


@dataclass
class _Views:
    """One kind of folded record: how to fold its audit records, and its stored views."""

    noun: str
    fold: Callable
    errors: tuple[type[Exception], ...]
    scan: Callable[[], Iterator[tuple[str, object | None]]]
    folded: dict[str, object] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)

    def apply(self, record: dict, result: Verification) -> None:
        subject = str(record.get("subject"))
        if subject in self.broken:
            return
        try:
            self.folded[subject] = self.fold(self.folded.get(subject), record)
        except (*self.errors, KeyError, TypeError, ValueError) as exc:
            self.broken.add(subject)
            self.folded.pop(subject, None)
            result.problem(f"record seq {record.get('seq')}: cannot be applied to "
                           f"{self.noun} {subject} ({exc})")


def verify(bus: Bus) -> Verification:
    """Check the chain, the anchors, every case and enforcement case view, the draws' seeds."""
    from layers.loop import procedure
    from layers.loop.enforcement import KIND, EnforcementStore

    views = {"case": _Views("case", fold, (CaseError,), CaseStore(bus, None).scan),
             KIND: _Views("enforcement case", procedure.fold, (procedure.EnforcementError,),
                          EnforcementStore(bus).scan)}

    def visit(record: dict, result: Verification) -> None:
        kind = record.get("kind")
        if kind in views:
            views[kind].apply(record, result)
        elif kind == "inspection.draw":
            notice = seed_notice(record)
            if notice:
                result.notices.append(notice)

    result = AuditLog(bus).verify(on_record=visit)
    result.cases = _compare_views(views["case"], result)
    result.enforcement_cases = _compare_views(views[KIND], result)
    return result


def _compare_views(views: _Views, result: Verification) -> int:
    """Every stored view against the one folded from the log; returns how many there are."""
    seen = set()
    noun = views.noun
    for cid, stored in views.scan():
        seen.add(cid)
        if cid in views.broken:
            continue
        if stored is None:
            result.problem(f"{noun} {cid}: the stored view is not a readable {noun}")
        elif cid not in views.folded:
            result.problem(f"{noun} {cid}: a stored view without any audit record (it was "
                           f"written directly)")
        elif stored != views.folded[cid]:
            result.problem(f"{noun} {cid}: the stored view differs from its audit records: "
                           f"{differences(stored, views.folded[cid])}")
    for cid in sorted(set(views.folded) - seen):
        result.problem(f"{noun} {cid}: has audit records but no stored view (it was deleted)")
    return len(seen | set(views.folded))


def differences(stored, expected) -> str:
    """`field is X, the log gives Y` for the first differing fields."""
    a, b = dataclasses.asdict(stored), dataclasses.asdict(expected)
    fields = [f for f in a if a[f] != b[f]]
    text = "; ".join(f"{f} is {a[f]!r}, the log gives {b[f]!r}" for f in fields[:MAX_FIELDS])
    more = len(fields) - MAX_FIELDS
    return text + (f" (and {more} more fields)" if more > 0 else "")
