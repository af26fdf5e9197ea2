"""The demo's simulated responders: seeded delays per case, most in time, a few late."""

from __future__ import annotations

from layers.loop.responders import ACTOR, ResponderConfig, Responders, delays, due_action
from tests.loop.conftest import alert


def test_a_case_gets_the_same_delays_every_time_it_is_asked():
    from layers.loop.records import Case, Place, SlaLimits

    case = Case(id="C000042", status="dispatched", category="noise", severity=1,
                place=Place(None), departments=["env"], owner="", sla=SlaLimits(60, 240, 2880),
                title="", source="t", created=0.0, updated=0.0)
    config = ResponderConfig(seed=3)
    assert delays(case, config) == delays(case, config)
    assert delays(case, config) != delays(case, ResponderConfig(seed=4))


def test_most_milestones_are_in_time_and_a_few_late(store, demo_twin, clock):
    config = ResponderConfig(late_share=0.2, cap_min={"accept": 1e9, "arrive": 1e9,
                                                      "resolve": 1e9})
    late = total = 0
    for k in range(60):
        case = store.get(store.ingest(alert(demo_twin, "fire", grid=5 + k % 6, ts=clock()))[0])
        clock.advance(3600)  # beyond the merge window: each alert its own case
        for milestone, wait in delays(case, config).items():
            late += wait > case.sla.seconds(milestone)
            total += 1
    assert 0.05 < late / total < 0.35


def test_long_limits_are_capped_so_the_demo_closes_cases_within_the_hour(store, demo_twin, clock):
    case = store.get(store.ingest(alert(demo_twin, "noise", ts=clock()))[0])  # 2-day limit
    waits = delays(case, ResponderConfig())
    assert waits["resolve"] <= 45 * 60 and waits["accept"] <= 20 * 60


def test_responders_accept_arrive_and_resolve_as_the_department(store, demo_twin, clock):
    cid = store.ingest(alert(demo_twin, "waterlogging", ts=clock()))[0]
    responders = Responders(store, ResponderConfig(late_share=0))
    for _ in range(3):
        clock.advance(3 * 3600)
        responders.tick()
    case = store.get(cid)
    assert case.status == "resolved"
    actions = [(r["actor"], r["data"]["action"]) for r in store.history(cid)][-3:]
    assert actions == [(ACTOR, "accept"), (ACTOR, "arrive"), (ACTOR, "resolve")]
    assert store.history(cid)[-1]["data"]["department"] == case.departments[0]


def test_nothing_is_done_before_its_delay(store, demo_twin, clock):
    case = store.get(store.ingest(alert(demo_twin, "noise", ts=clock()))[0])
    assert due_action(case, ResponderConfig(), clock()) is None
    assert Responders(store).tick() == []
