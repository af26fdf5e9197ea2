"""Soft enforcement of illegal parking: remind after 10 min, a case 10 min after the reminder."""

from __future__ import annotations

import numpy as np
import pytest

from layers.loop.notify import Outbox
from layers.loop.parking import ParkingWatch, kpi
from layers.loop.rules import Parking

T0 = 1_767_225_600.0


@pytest.fixture
def watch(bus, demo_twin):
    return ParkingWatch(bus, demo_twin, Parking(), Outbox(bus))


def _no_parking_cell(watch):
    return int(np.flatnonzero(watch.no_parking)[0])


def _seen(watch, plate, ts, pos=None, label="illegal_parking"):
    import pandas as pd

    pos = _no_parking_cell(watch) if pos is None else pos
    return pd.DataFrame({"id": [f"{plate}-{ts}"], "ts": [ts], "pos": [pos], "label": [label],
                         "plate": [plate]})


def _drive(watch, plate, until_min, pos=None, label="illegal_parking"):
    """The car is seen every minute from T0 to T0 + until_min; the watch ticks every minute."""
    alerts = []
    for minute in range(0, 40):
        ts = T0 + 60 * minute
        frame = _seen(watch, plate, ts, pos, label) if minute <= until_min else None
        alerts += watch.update(frame, ts + 1)
    return alerts


def _reminders(bus):
    return [m for m in Outbox(bus).messages() if m["template"] == "parking_reminder"]


def test_a_car_that_stays_gets_one_reminder_then_one_case(bus, watch):
    alerts = _drive(watch, "津A00001", until_min=30)
    assert [m["to"] for m in _reminders(bus)] == ["津A00001"]
    assert len(alerts) == 1 and alerts[0].category == "illegal_parking"
    assert alerts[0].evidence[0]["vehicle"] == "津A00001"


def test_the_case_comes_ten_minutes_after_the_reminder(bus, watch):
    alerts = _drive(watch, "津A00002", until_min=30)
    ev = alerts[0].evidence[0]
    assert ev["reminded"] - ev["first_seen"] >= 600 and alerts[0].ts - ev["reminded"] >= 600


def test_a_car_that_leaves_after_the_reminder_counts_in_the_kpi(bus, watch):
    assert _drive(watch, "津A00003", until_min=13) == []
    assert kpi(bus) == {"reminders": 1, "left_within_10min": 1, "cases": 0, "pending": 0,
                        "share_left_within_10min": 1.0}


def test_the_kpi_is_the_share_of_reminded_cars_that_left(bus, watch):
    _drive(watch, "津A00004", until_min=12)
    _drive(watch, "津A00005", until_min=30)
    assert kpi(bus)["share_left_within_10min"] == 0.5


def test_a_short_stop_gets_no_reminder(bus, watch):
    _drive(watch, "津A00006", until_min=8)
    assert _reminders(bus) == [] and kpi(bus)["reminders"] == 0


def test_a_car_outside_no_parking_cells_is_ignored(bus, watch):
    free = int(np.flatnonzero(~watch.no_parking)[0])
    _drive(watch, "津A00007", until_min=30, pos=free)
    assert _reminders(bus) == []


def test_the_reminder_is_recorded_in_the_audit_log(bus, watch):
    from layers.loop.audit import AuditLog

    _drive(watch, "津A00008", until_min=12)
    records = AuditLog(bus).for_subject("vehicle:津A00008")
    assert [r["kind"] for r in records] == ["parking.reminder"]
