"""`cityops enforce`: open from a draw, refuse without a basis, act, flag, stats (exit 2 on bad input)."""

from __future__ import annotations

import json

import pytest

from layers.loop import inspections
from tests.loop.test_cli import cli  # noqa: F401


@pytest.fixture
def drawn(bus, demo_twin, cli):  # noqa: F811 - the CLI sets the shared audit key first
    return inspections.draw(bus, demo_twin, "market", 1, 1, actor="chief")


def _open(cli, drawn, party="person"):  # noqa: F811
    code, out, err = cli("enforce", "open", "--department", "market", "--target",
                         drawn["targets"][0], "--basis", "draw", "--ref", str(drawn["draw"]),
                         "--party", party, "--actor", "operator")
    assert code == 0, err
    return json.loads(out)


def test_open_from_a_draw_records_the_os_user_beside_the_operator(cli, drawn, bus):  # noqa: F811
    case = _open(cli, drawn)
    code, out, _ = cli("enforce", "show", case["id"])
    record = json.loads(out)["records"][0]
    assert (record["actor"], record["data"]["via"]) == ("operator", "cli")


def test_open_without_a_draw_or_complaint_exits_2_with_the_rule(cli, drawn):  # noqa: F811
    code, _, err = cli("enforce", "open", "--department", "market", "--target", "x", "--basis",
                       "draw", "--ref", "999", "--actor", "operator")
    assert code == 2 and "随机之外" in err and len(err.strip().splitlines()) == 1


def test_decide_on_the_spot_prints_the_payment_url(cli, drawn):  # noqa: F811
    case = _open(cli, drawn)
    code, out, _ = cli("enforce", "act", case["id"], "decide", "--amount", "100",
                       "--actor", "operator")
    view = json.loads(out)
    assert code == 0 and view["stage"] == "payment"
    assert view["payment_url"].endswith(f"/pay/sim/{view['payment']}")


def test_a_move_not_allowed_now_exits_2(cli, drawn):  # noqa: F811
    case = _open(cli, drawn)
    code, _, err = cli("enforce", "act", case["id"], "serve", "--actor", "operator")
    assert code == 2 and "allowed now" in err


def test_a_commander_may_not_flag_but_the_supervisor_may(cli, drawn):  # noqa: F811
    case = _open(cli, drawn)
    code, _, err = cli("enforce", "flag", case["id"], "--note", "n", "--actor", "commander")
    assert code == 2 and "may not flag" in err
    code, out, _ = cli("enforce", "flag", case["id"], "--note", "n", "--actor", "supervisor")
    assert code == 0 and json.loads(out)["flags"][0]["by"] == "supervisor"


def test_stats_count_cases_by_department(cli, drawn):  # noqa: F811
    _open(cli, drawn)
    code, out, _ = cli("enforce", "stats")
    assert code == 0 and json.loads(out)["by_department"] == {"market": 1}


def test_draw_opens_the_enforcement_record_of_every_target_drawn(cli, demo_twin):  # noqa: F811
    code, out, err = cli("enforce", "draw", "--department", "market", "--targets", "3",
                         "--inspectors", "2", "--actor", "operator", "--demo", "binhai")
    result = json.loads(out)
    assert code == 0, err
    assert [c["basis_ref"] for c in result["cases"]] == [str(result["draw"])] * 3
    assert all(len(c["inspectors"]) == 2 for c in result["cases"])


def test_draw_with_more_targets_than_the_pool_exits_2(cli):  # noqa: F811
    code, _, err = cli("enforce", "draw", "--department", "market", "--targets", "100000",
                       "--inspectors", "1", "--actor", "operator", "--demo", "binhai")
    assert code == 2 and "--targets must be between 1" in err


def test_an_officer_moves_their_departments_case_and_not_anothers(cli, drawn):  # noqa: F811
    case = _open(cli, drawn)  # a market case
    code, _, err = cli("enforce", "act", case["id"], "find", "--actor", "officer_health")
    assert code == 2 and "officer of market" in err
    code, out, err = cli("enforce", "act", case["id"], "find", "--actor", "officer_market")
    assert code == 0, err
    assert json.loads(out)["stage"] == "filing"
    code, _, err = cli("enforce", "act", case["id"], "file", "--actor", "commander")
    assert code == 2 and "may not file" in err
