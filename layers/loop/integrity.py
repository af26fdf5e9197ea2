"""`cityops audit verify`: the audit log and what is derived from it, checked in one pass.

- the chain: every record's MAC under the audit key, the links, the head, the anchors outside
  Redis (`AuditLog.verify`);
- the case views: every case's records are folded afresh (`layers.loop.lifecycle.fold`) and the
  result must equal the stored view the dashboard shows (`CaseStore`); a view that differs, a
  view without records and records without a view are reported by case id and field;
- the inspection draws: a seed chosen by the operator (or not recorded) is a notice.

The folded cases are held in memory for the comparison (one `Case` per case in the log).
"""

from __future__ import annotations

import dataclasses

from layers.live.bus import Bus
from layers.loop.audit import AuditLog, Verification
from layers.loop.cases import CaseStore
from layers.loop.inspections import seed_notice
from layers.loop.lifecycle import CaseError, fold
from layers.loop.records import Case

MAX_FIELDS = 3  # differing fields named per case


def verify(bus: Bus) -> Verification:
    """Check the chain, the anchors, every case view and the draws' seeds."""
    folded: dict[str, Case] = {}
    broken: set[str] = set()

    def visit(record: dict, result: Verification) -> None:
        kind = record.get("kind")
        if kind == "case":
            subject = str(record.get("subject"))
            if subject in broken:
                return
            try:
                folded[subject] = fold(folded.get(subject), record)
            except (CaseError, KeyError, TypeError, ValueError) as exc:
                broken.add(subject)
                folded.pop(subject, None)
                result.problem(f"record seq {record.get('seq')}: cannot be applied to case "
                               f"{subject} ({exc})")
        elif kind == "inspection.draw":
            notice = seed_notice(record)
            if notice:
                result.notices.append(notice)

    result = AuditLog(bus).verify(on_record=visit)
    _compare_views(CaseStore(bus, None), folded, broken, result)
    return result


def _compare_views(store: CaseStore, folded: dict[str, Case], broken: set[str],
                   result: Verification) -> None:
    """Every stored view against the case folded from the log."""
    seen = set()
    for cid, stored in store.scan():
        seen.add(cid)
        if cid in broken:
            continue
        if stored is None:
            result.problem(f"case {cid}: the stored view is not a readable case")
        elif cid not in folded:
            result.problem(f"case {cid}: a stored view without any audit record (it was "
                           f"written directly)")
        elif stored != folded[cid]:
            result.problem(f"case {cid}: the stored view differs from its audit records: "
                           f"{differences(stored, folded[cid])}")
    for cid in sorted(set(folded) - seen):
        result.problem(f"case {cid}: has audit records but no stored view (it was deleted)")
    result.cases = len(seen | set(folded))


def differences(stored: Case, expected: Case) -> str:
    """`field is X, the log gives Y` for the first differing fields."""
    a, b = dataclasses.asdict(stored), dataclasses.asdict(expected)
    fields = [f for f in a if a[f] != b[f]]
    text = "; ".join(f"{f} is {a[f]!r}, the log gives {b[f]!r}" for f in fields[:MAX_FIELDS])
    more = len(fields) - MAX_FIELDS
    return text + (f" (and {more} more fields)" if more > 0 else "")
