"""The administrative-penalty procedure as data: stages, legal time limits, their sources (pure)."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from layers.loop import procedure as proc

TZ = "Asia/Shanghai"


def _ts(day: str) -> float:
    """10:00 city time on a day."""
    return dt.datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=proc.settings.timezone(TZ)) \
        .timestamp()


def _end_of(day: str) -> float:
    return (dt.datetime.fromisoformat(day) + dt.timedelta(days=1)) \
        .replace(tzinfo=proc.settings.timezone(TZ)).timestamp()


def test_every_stage_of_the_shipped_procedure_cites_its_source():
    p = proc.default()
    assert set(p.stages) == set(proc.STAGES)
    assert all(s.source.strip() for s in p.stages.values())


def test_payment_is_due_at_the_end_of_the_fifteenth_calendar_day():
    # APL (2021) art. 67: within 15 days of receiving the decision
    assert proc.default().deadline("payment", _ts("2026-03-02"), None, TZ) == _end_of("2026-03-17")


def test_the_decision_limit_counts_from_the_filing_not_the_stage():
    filed = _ts("2026-01-05")
    assert proc.default().deadline("decision", _ts("2026-02-20"), filed, TZ) == \
        _end_of("2026-04-05")  # 90 days after filing (APL art. 60)


def test_working_day_limits_skip_weekends_and_listed_holidays():
    p = proc.default().model_copy(update={"holidays": [dt.date(2026, 3, 9)]})
    # served notice on Friday 2026-03-06: 5 working days skip Sat, Sun and the holiday Monday
    assert p.deadline("notice", _ts("2026-03-06"), None, TZ) == _end_of("2026-03-16")


def test_working_days_follow_the_shipped_spring_festival_2026_calendar():
    # notice served Thursday 2026-02-12: Fri 13th, the make-up Saturday 14th, then the holiday
    # 15th-23rd, then Tue 24th, Wed 25th and Thu 26th make five (2026 notice, 4 Nov 2025)
    assert proc.default().deadline("notice", _ts("2026-02-12"), None, TZ) == \
        _end_of("2026-02-26")


def test_working_days_count_the_make_up_weekend_days_of_national_day_2025():
    # served Friday 2025-09-26: Sun 28th (make-up), Mon 29th, Tue 30th, holiday 1st-8th,
    # Thu 9th, Fri 10th, Sat 11th (make-up), Mon 13th: seven (国办发明电〔2024〕12号)
    assert proc.default().deadline("service", _ts("2025-09-26"), None, TZ) == \
        _end_of("2025-10-13")


def test_every_make_up_working_day_is_a_weekend_and_no_holiday_is_one():
    p = proc.default()
    assert all(d.weekday() >= 5 for d in p.workdays)
    assert not set(p.workdays) & set(p.holidays)


def test_a_procedure_file_missing_a_stage_is_refused_naming_the_file(tmp_path):
    raw = yaml.safe_load((proc.settings.data_dir() / "rules" / "enforcement.yaml").read_text())
    del raw["stages"]["hearing"]
    path = tmp_path / "enforcement.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(proc.ProcedureError, match=r"enforcement\.yaml.*hearing"):
        proc.load(path)


def test_a_stage_without_a_source_is_refused(tmp_path):
    raw = yaml.safe_load((proc.settings.data_dir() / "rules" / "enforcement.yaml").read_text())
    raw["stages"]["payment"]["source"] = ""
    path = tmp_path / "enforcement.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(proc.ProcedureError, match="stages.payment.source"):
        proc.load(path)


def test_a_move_not_allowed_at_the_current_stage_names_what_is_allowed():
    case = proc.fold(None, {"subject": "E1", "ts": 0, "actor": "a", "seq": 1, "data": {
        "action": "open", "to": "inspection", "department": "market", "target": "F1",
        "basis": "draw", "basis_ref": "1", "deadline": 10.0}})
    with pytest.raises(proc.EnforcementError, match="allowed now: clear, find, decide"):
        proc.check(case, "serve")


def test_a_stage_ended_after_its_deadline_is_late_and_one_running_within_it_is_not_judged():
    assert proc.StageSpan("filing", 0, 100, end=150).on_time(200) is False
    assert proc.StageSpan("filing", 0, 100, end=90).on_time(200) is True
    assert proc.StageSpan("filing", 0, 100).on_time(50) is None
    assert proc.StageSpan("filing", 0, 100).on_time(101) is False
