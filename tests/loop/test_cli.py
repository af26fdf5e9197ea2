"""The loop's commands: cases list/show/act, audit verify, inspections, alerts cap, rules check/run."""

from __future__ import annotations

import argparse
import json
import sys

import pytest

from layers.testing import raw
from tests.loop.conftest import alert


@pytest.fixture
def cli(bus, redis_server, capsys, monkeypatch):
    """Run `cityops ...` in-process on the test bus: returns (exit code, stdout, stderr).

    The command and the test's stores share one audit key and one anchors file (the settings
    every process writing one audit log must share)."""
    from dashboard.commands import cases, enforce
    from dashboard.commands.common import CliError

    monkeypatch.setenv("CITYOPS_AUDIT_KEY", "the-test-audit-key")
    monkeypatch.setenv("CITYOPS_AUDIT_ANCHORS", str(bus.home / "audit-anchors.log"))

    def run(*argv):
        parser = argparse.ArgumentParser(prog="cityops")
        sub = parser.add_subparsers(dest="command", required=True)
        cases.register(sub)
        enforce.register(sub)
        words = list(argv) + ["--redis", redis_server.url,
                              "--prefix", bus.prefix]
        args = parser.parse_args(words)
        try:
            code = int(args.func(args) or 0)
        except CliError as exc:
            print(f"cityops: error: {exc}", file=sys.stderr)
            code = 2
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_cases_list_shows_open_cases_of_a_department_as_json(cli, store, demo_twin):
    cid, _ = store.ingest(alert(demo_twin, "waterlogging", ts=store.clock()))
    store.ingest(alert(demo_twin, "crowd", ts=store.clock()))
    code, out, _ = cli("cases", "list", "--department", "water", "--open", "--json")
    assert code == 0 and [c["id"] for c in json.loads(out)] == [cid]


def test_cases_list_pages_with_limit_and_offset(cli, store, demo_twin, clock):
    ids = []
    for grid in (5, 9, 200):
        ids.append(store.ingest(alert(demo_twin, grid=grid, ts=clock()))[0])
        clock.advance(60)
    code, out, _ = cli("cases", "list", "--limit", "1", "--offset", "1", "--json")
    assert code == 0 and [c["id"] for c in json.loads(out)] == [ids[1]]


def test_cases_act_records_the_actor_and_show_prints_the_history(cli, store, demo_twin):
    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    assert cli("cases", "act", cid, "accept", "--actor", "grid_a", "--note", "收到")[0] == 0
    code, out, _ = cli("cases", "show", cid)
    shown = json.loads(out)
    assert code == 0 and shown["case"]["status"] == "accepted"
    last = shown["history"][-1]
    assert last["actor"] == "grid_a" and last["data"]["note"] == "收到"


def test_cases_act_records_the_os_user_beside_the_actor(cli, store, demo_twin):
    import getpass

    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    assert cli("cases", "act", cid, "accept", "--actor", "grid_a")[0] == 0
    record = store.history(cid)[-1]
    assert record["data"]["os_user"] == getpass.getuser() and record["data"]["via"] == "cli"


def test_cases_act_as_the_local_operator_is_recorded_as_such(cli, store, demo_twin):
    import getpass

    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    assert cli("cases", "act", cid, "accept", "--actor", "operator")[0] == 0
    record = store.history(cid)[-1]
    assert record["actor"] == "operator" and record["data"]["os_user"] == getpass.getuser()


def test_cases_act_as_an_unknown_actor_exits_2_naming_the_users_file(cli, store, demo_twin):
    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    code, _, err = cli("cases", "act", cid, "accept", "--actor", "nobody")
    assert code == 2 and err.count("\n") == 1
    assert "'nobody' is not a user of" in err and "users.yaml" in err and "operator" in err
    assert store.get(cid).status == "dispatched"


@pytest.mark.parametrize("actor, message", [
    ("commander", "a commander, who may not accept cases"),
    ("grid_b", "may not act on case"),
])
def test_cases_act_as_a_user_the_dashboard_would_refuse_exits_2(cli, store, demo_twin, actor,
                                                                  message):
    cid, _ = store.ingest(alert(demo_twin, grid=5, ts=store.clock()))
    code, _, err = cli("cases", "act", cid, "accept", "--actor", actor)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_an_impossible_action_exits_2_with_one_line(cli, store, demo_twin):
    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    code, _, err = cli("cases", "act", cid, "close", "--actor", "admin")
    assert code == 2 and err.count("\n") == 1 and "cannot close" in err


def test_a_bad_status_filter_exits_2(cli):
    code, _, err = cli("cases", "list", "--status", "lost")
    assert code == 2 and "unknown status" in err


def test_audit_verify_passes_then_fails_after_tampering(cli, store, demo_twin, bus):
    store.ingest(alert(demo_twin, ts=store.clock()))
    assert cli("audit", "verify")[0] == 0
    raw(bus).lset(bus.keys.audit("log"), 0, raw(bus).lindex(bus.keys.audit("log"), 0).replace(
        b'"severity":2', b'"severity":1'))
    code, out, _ = cli("audit", "verify")
    assert code == 1 and json.loads(out)["ok"] is False


def test_audit_verify_fails_on_a_case_view_set_to_closed_directly(cli, store, demo_twin, bus):
    cid, _ = store.ingest(alert(demo_twin, ts=store.clock()))
    view = json.loads(raw(bus).hget(bus.keys.cases("state"), cid))
    raw(bus).hset(bus.keys.cases("state"), cid, json.dumps(view | {"status": "closed"}))
    code, out, _ = cli("audit", "verify")
    assert code == 1 and f"case {cid}: the stored view differs" in json.loads(out)["problems"][0]


def test_inspections_draw_then_verify(cli):
    code, out, _ = cli("inspections", "draw", "--department", "health", "--targets", "3",
                       "--inspectors", "2", "--demo", "binhai")
    drawn = json.loads(out)
    assert code == 0 and drawn["seed_source"] == "system" and len(drawn["targets"]) == 3
    code, out, _ = cli("inspections", "verify", str(drawn["draw"]), "--demo", "binhai")
    assert code == 0 and json.loads(out)["ok"] is True


def test_a_draw_with_seed_is_recorded_as_the_operators_choice_and_verify_says_so(cli):
    import getpass

    code, out, _ = cli("inspections", "draw", "--department", "health", "--targets", "3",
                       "--inspectors", "2", "--seed", "5", "--demo", "binhai")
    drawn = json.loads(out)
    assert code == 0 and drawn["seed"] == 5 and drawn["seed_source"] == "operator"
    assert drawn["os_user"] == getpass.getuser()
    code, out, _ = cli("inspections", "verify", str(drawn["draw"]), "--demo", "binhai")
    assert code == 0 and "chosen by the operator" in json.loads(out)["notice"]
    code, out, _ = cli("audit", "verify")
    assert code == 0 and "seed 5 was chosen by the operator" in json.loads(out)["notices"][0]


def test_inspections_for_an_unknown_department_exit_2(cli):
    code, _, err = cli("inspections", "draw", "--department", "nasa", "--targets", "1",
                       "--inspectors", "1", "--demo", "binhai")
    assert code == 2 and "inspections.yaml" in err


def test_alerts_cap_prints_cap_xml(cli, bus, demo_twin):
    from layers.loop.alerts import AlertStore

    saved = AlertStore(bus).save(alert(demo_twin, ts=1_767_225_600.0, cells=[]))
    code, out, _ = cli("alerts", "cap", saved.id)
    assert code == 0 and "urn:oasis:names:tc:emergency:cap:1.2" in out


def _alerts(bus, twin, n):
    from layers.loop.alerts import AlertStore

    store = AlertStore(bus)
    return [store.save(alert(twin, ts=1_767_225_600.0 + i, cells=[])).id for i in range(n)]


def test_alerts_list_shows_the_newest_20_one_line_each(cli, bus, demo_twin):
    ids = _alerts(bus, demo_twin, 25)
    code, out, err = cli("alerts", "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 20
    assert [line.split()[0] for line in lines] == ids[::-1][:20]
    assert "alerts 1-20 of 25" in err and "--offset 20" in err


def test_alerts_list_pages_with_limit_and_offset(cli, bus, demo_twin):
    ids = _alerts(bus, demo_twin, 25)
    code, out, _ = cli("alerts", "list", "--offset", "20", "--limit", "3", "--json")
    assert code == 0 and [a["id"] for a in json.loads(out)] == ids[::-1][20:23]


def test_alerts_list_with_a_bad_limit_exits_2(cli):
    code, _, err = cli("alerts", "list", "--limit", "0")
    assert code == 2 and "--limit must be at least 1" in err


def test_rules_check_names_the_broken_rule(cli, tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - id: flood\n    category: waterlogging\n    severity: 7\n"
                   "    layer: {name: iot.water_level_m.max, above: 2}\n")
    parser_args = ("rules", "check", str(bad))
    from dashboard.commands.cases import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(parser_args)
    from dashboard.commands.common import CliError

    with pytest.raises(CliError, match="rule 'flood': field severity"):
        args.func(args)


@pytest.mark.parametrize("text, message", [
    ("rules: []  # 规则\n".encode("gbk"), "not UTF-8 text"),
    (b"rules:\n  - id: r1\n    category: waterlogging\n    where: {cells: [zzzz]}\n"
     b"    layer: {name: iot.water_level_m.max, above: 2}\n", "'zzzz' is not an H3 cell"),
    (b"rules:\n  - id: r1\n    category: waterlogging\n"
     b"    layer: {name: iot.water_level_m.max, above: .nan}\n", "must be a finite number"),
])
def test_rules_check_refuses_a_broken_file_in_one_line(tmp_path, capsys, text, message):
    from dashboard.cli import main

    path = tmp_path / "rules.yaml"
    path.write_bytes(text)
    assert main(["rules", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and message in err


def test_rules_run_once_turns_a_report_into_a_case(cli, bus, demo_twin, tmp_path):
    import time

    from tests.loop.conftest import cell_point
    lat, lng = cell_point(demo_twin, 20)
    bus.publish("incident", [{"id": "cli-1", "ts": time.time() - 5, "lat": lat, "lng": lng,
                              "source": "hotline", "category": "garbage", "severity": 2}])
    code, out, _ = cli("rules", "run", "--once", "--demo", "binhai", "--notify-log",
                       str(tmp_path / "n.log"))
    assert code == 0 and json.loads(out)["cases"] == ["C000001"]
    assert "C000001" in (tmp_path / "n.log").read_text()
