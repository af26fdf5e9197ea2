"""`cityops rules|cases|audit|inspections|alerts`: the closed loop on the command line.

rules run/check/list; cases list/show/act/scorecard/escalate/parking/notify; audit verify/show;
inspections draw/verify/list; alerts list/show/cap. Heavy imports stay inside the handlers. Bad
input ends with one line on stderr and exit code 2; a failed audit or draw verification exits 1.
"""

from __future__ import annotations

import argparse

from dashboard.commands.common import (
    OPERATOR,
    CliError,
    add_bus_args,
    add_page_args,
    add_twin_args,
    check_page,
    connect_bus,
    load_twin,
    print_json,
    resolve_actor,
)

ACTOR_HELP = (f"who acts: a user of the users file ($CITYOPS_USERS), or {OPERATOR} (the local "
              f"operator); the OS user is recorded beside it")


def register(subparsers) -> None:
    """Add the `rules`, `cases`, `audit`, `inspections` and `alerts` commands."""
    _rules(subparsers.add_parser("rules", help="whistle rules: check them, run them beside ingest"))
    _cases(subparsers.add_parser("cases", help="cases (work orders): list, show, act, scorecards"))
    p = subparsers.add_parser("audit", help="the hash-chained audit log")
    sub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    q = sub.add_parser("verify", help="re-check the keyed chain, its anchors and every case view "
                       "(exit 1 if tampered with)")
    add_bus_args(q)
    q.set_defaults(func=_audit_verify)
    q = sub.add_parser("show", help="the records of one subject (a case id, draw:DEPT, ...)")
    q.add_argument("subject")
    add_bus_args(q)
    q.set_defaults(func=_audit_show)
    _inspections(subparsers.add_parser("inspections", help="double-random inspections (双随机)"))
    _alerts(subparsers.add_parser("alerts", help="alerts raised by the rules"))


# -- rules -------------------------------------------------------------------------------------------
def _rules(p) -> None:
    sub = p.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    q = sub.add_parser("run", help="evaluate the rules continuously beside ingest")
    add_twin_args(q)
    add_bus_args(q)
    q.add_argument("--rules", metavar="FILE", help="rule file (default data/rules/default.yaml)")
    q.add_argument("--interval", type=float, default=5.0, metavar="S",
                   help="seconds between ticks (default 5)")
    q.add_argument("--once", action="store_true", help="one tick, then exit")
    q.add_argument("--batch", type=int, default=10_000, metavar="N",
                   help="entries read per stream per read (default 10000)")
    q.add_argument("--consumer", default="rules-1", help="consumer name in group `rules`")
    q.add_argument("--only-new", action="store_true", help="on first start, skip the events "
                   "already in the streams (default: evaluate them all)")
    q.add_argument("--notify-log", metavar="FILE",
                   help="where the default gateway logs messages (default $CITYOPS_HOME/notify.log)")
    q.add_argument("--max-seconds", type=float, default=None, help=argparse.SUPPRESS)
    q.set_defaults(func=_rules_run)
    q = sub.add_parser("check", help="validate a rule file (exit 2 with the rule and field at fault)")
    q.add_argument("file", nargs="?", help="rule file (default: the shipped rule set)")
    q.set_defaults(func=_rules_check)


def _load_rules(path):
    from layers.loop.rules import RuleError, load

    try:
        return load(path)
    except RuleError as exc:
        raise CliError(str(exc)) from exc


def _rules_check(args) -> int:
    rules = _load_rules(args.file)
    print_json({"rules": [{"id": r.id, "category": r.category, "severity": r.severity,
                           "watches": "layer" if r.layer else f"event:{r.event.kind}",
                           "enabled": r.enabled} for r in rules.rules],
                "parking": rules.parking.model_dump() if rules.parking else None})
    return 0


def _rules_run(args) -> int:
    import signal
    import sys
    import time

    from layers.loop.engine import Engine
    from layers.loop.notify import Dispatcher, LogGateway

    if args.interval <= 0:
        raise CliError(f"--interval must be positive, got {args.interval}")
    if args.batch < 1:
        raise CliError(f"--batch must be at least 1, got {args.batch}")
    rules = _load_rules(args.rules)
    twin = load_twin(args)
    bus = connect_bus(args)
    try:
        engine = Engine(bus, twin, rules, consumer=args.consumer, batch=args.batch,
                        start_id="$" if args.only_new else "0")
    except ValueError as exc:  # a `where` naming cells/units the twin lacks
        raise CliError(str(exc)) from exc
    gateway = LogGateway(args.notify_log or bus.home / "notify.log")
    dispatcher = Dispatcher(bus)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    start = time.monotonic()
    print(f"rules: {len(rules.enabled())} rules on {bus.keys.streams_text()} ({len(twin)} cells)",
          file=sys.stderr, flush=True)

    def report(summary: dict) -> None:
        dispatcher.drain(gateway)
        if summary["alerts"]:
            print_json(summary)

    def stop() -> bool:
        return bool(stopping) or (args.max_seconds is not None
                                  and time.monotonic() - start > args.max_seconds)

    try:
        if args.once:
            report(engine.tick())
        else:
            engine.run(stop, args.interval, on_tick=report)
    except KeyboardInterrupt:
        pass
    return 0


# -- cases -------------------------------------------------------------------------------------------
def _cases(p) -> None:
    sub = p.add_subparsers(dest="cases_command", metavar="ACTION", required=True)
    q = sub.add_parser("list", help="cases, newest first")
    q.add_argument("--status", help="new, dispatched, accepted, on_scene, resolved, closed, "
                   "escalated, reopened")
    q.add_argument("--department", metavar="ID", help="a department id (e.g. water)")
    q.add_argument("--grid", type=int, metavar="N", help="a grid number")
    q.add_argument("--open", action="store_true", help="open cases only")
    q.add_argument("--overdue", action="store_true", help="open cases past their deadline")
    add_page_args(q, 50)
    q.add_argument("--json", action="store_true")
    add_bus_args(q)
    q.set_defaults(func=_cases_list)
    q = sub.add_parser("show", help="one case and its history")
    q.add_argument("id")
    add_bus_args(q)
    q.set_defaults(func=_cases_show)
    q = sub.add_parser("act", help="a lifecycle action: accept, arrive, resolve, close, reopen, "
                       "dispatch, escalate, note")
    q.add_argument("id")
    q.add_argument("action")
    q.add_argument("--actor", required=True, metavar="NAME", help=ACTOR_HELP)
    q.add_argument("--note", default="")
    add_bus_args(q)
    q.set_defaults(func=_cases_act)
    q = sub.add_parser("scorecard", help="department or grid scorecards over a period (在线考核)")
    q.add_argument("--by", choices=["department", "grid"], default="department")
    q.add_argument("--since", metavar="ISO", help="start (default: --days before --until)")
    q.add_argument("--until", metavar="ISO", help="end (default now)")
    q.add_argument("--days", type=float, default=30.0)
    add_bus_args(q)
    q.set_defaults(func=_cases_scorecard)
    q = sub.add_parser("escalate", help="escalate every overdue case once now (or --every S "
                       "seconds until stopped: the escalation service)")
    q.add_argument("--every", type=float, metavar="S", help="run as a service, a pass every S s")
    add_bus_args(q)
    q.set_defaults(func=_cases_escalate)
    q = sub.add_parser("parking", help="the parking soft-enforcement KPI")
    add_bus_args(q)
    q.set_defaults(func=_cases_parking)


def _store(args):
    from layers.loop.cases import CaseStore

    return CaseStore(connect_bus(args), None)


def _cases_list(args) -> int:
    from layers.loop.cases import CaseError

    check_page(args)
    try:
        cases = _store(args).list(status=args.status, department=args.department, grid=args.grid,
                                  open_only=args.open, overdue=args.overdue, limit=args.limit,
                                  offset=args.offset)
    except CaseError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print_json([c.view() for c in cases])
        return 0
    for c in cases:
        place = c.place
        print(f"{c.id}  {c.status:<10} L{c.level}  sev{c.severity}  "
              f"{c.category:<16} {','.join(c.departments):<20} "
              f"{place.grid_id or '-'} {place.unit_name or '-'}")
    return 0


def _cases_show(args) -> int:
    store = _store(args)
    case = store.get(args.id)
    if case is None:
        raise CliError(f"no case {args.id!r}: see `cityops cases list`")
    print_json({"case": case.view(), "history": store.history(args.id)})
    return 0


def _cases_act(args) -> int:
    from layers.loop.cases import ACTIONS, CaseError

    actor, context, user = resolve_actor(args.actor)
    store = _store(args)
    if user is not None and args.action in ACTIONS:
        _check_user_may(user, store, args.id, args.action)
    try:
        print_json(store.act(args.id, args.action, actor, args.note, context=context).view())
    except CaseError as exc:
        raise CliError(str(exc)) from exc
    return 0


def _check_user_may(user, store, case_id: str, action: str) -> None:
    """A named user acts on the command line only as the dashboard would let them."""
    from dashboard.policy import ROLE_ACTIONS, can_see_case

    case = store.get(case_id)
    if case is None:
        raise CliError(f"no case {case_id!r}: see `cityops cases list`")
    allowed = sorted(ROLE_ACTIONS.get(user.role, ()))
    if action not in allowed:
        raise CliError(f"--actor {user.username} is a {user.role}, who may not {action} cases "
                       f"(may: {', '.join(allowed) or 'nothing'}): act as another user or as "
                       f"{OPERATOR}")
    if not can_see_case(user, case):
        raise CliError(f"--actor {user.username} may not act on case {case_id} (grid "
                       f"{case.place.grid_id or case.place.grid}, not one of theirs): act as "
                       f"another user or as {OPERATOR}")


def _time(text: str | None, name: str, default: float) -> float:
    if not text:
        return default
    import pandas as pd

    try:
        stamp = pd.Timestamp(text)
    except ValueError as exc:
        raise CliError(f"{name} {text!r} is not a date: use ISO 8601, e.g. 2026-01-01") from exc
    from twin.settings import timezone

    return (stamp.tz_localize(timezone()) if stamp.tzinfo is None else stamp).timestamp()


def _cases_scorecard(args) -> int:
    import time

    from layers.loop.scorecard import scorecard, to_records

    until = _time(args.until, "--until", time.time())
    since = _time(args.since, "--since", until - args.days * 86400)
    print_json({"by": args.by, "since": since, "until": until,
                "rows": to_records(scorecard(_store(args), since, until, by=args.by))})
    return 0


def _cases_escalate(args) -> int:
    import signal

    from layers.loop.escalation import Escalator

    escalator = Escalator(_store(args))
    if args.every is None:
        print_json({"escalated": escalator.tick()})
        return 0
    if args.every <= 0:
        raise CliError(f"--every must be positive, got {args.every}")
    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.append(1))
    escalator.run(lambda: bool(stopping), args.every)
    return 0


def _cases_parking(args) -> int:
    from layers.loop.parking import kpi

    print_json(kpi(connect_bus(args)))
    return 0


# -- audit -------------------------------------------------------------------------------------------
def _audit_verify(args) -> int:
    from layers.loop.integrity import verify

    result = verify(connect_bus(args))
    print_json(result.to_dict())
    return 0 if result.ok else 1


def _audit_show(args) -> int:
    from layers.loop.audit import AuditLog

    print_json(AuditLog(connect_bus(args)).for_subject(args.subject))
    return 0


# -- inspections -------------------------------------------------------------------------------------
def _inspections(p) -> None:
    sub = p.add_subparsers(dest="inspections_command", metavar="ACTION", required=True)
    q = sub.add_parser("draw", help="draw targets and inspectors at random, record the draw")
    q.add_argument("--department", required=True, metavar="ID")
    q.add_argument("--targets", type=int, required=True, metavar="N")
    q.add_argument("--inspectors", type=int, required=True, metavar="M")
    q.add_argument("--seed", type=int, help="choose the seed, e.g. to reproduce a draw (default: "
                   "the system's randomness); the record says the operator chose it")
    q.add_argument("--actor", default=OPERATOR, metavar="NAME",
                   help=ACTOR_HELP + f" (default {OPERATOR})")
    add_twin_args(q)
    add_bus_args(q)
    q.set_defaults(func=_draw)
    q = sub.add_parser("verify", help="repeat a recorded draw from its seed (exit 1 if different)")
    q.add_argument("draw", type=int, metavar="DRAW_ID")
    add_twin_args(q)
    add_bus_args(q)
    q.set_defaults(func=_draw_verify)
    q = sub.add_parser("list", help="recorded draws")
    add_bus_args(q)
    q.set_defaults(func=_draw_list)


def _draw(args) -> int:
    import time

    from layers.loop.inspections import DrawError, draw

    actor, context, _ = resolve_actor(args.actor)
    try:
        print_json(draw(connect_bus(args), load_twin(args), args.department, args.targets,
                        args.inspectors, args.seed, actor, time.time(), context))
    except DrawError as exc:
        raise CliError(str(exc)) from exc
    return 0


def _draw_verify(args) -> int:
    from layers.loop.inspections import DrawError, verify

    try:
        result = verify(connect_bus(args), load_twin(args), args.draw)
    except DrawError as exc:
        raise CliError(str(exc)) from exc
    print_json(result)
    return 0 if result["ok"] else 1


def _draw_list(args) -> int:
    from layers.loop.inspections import draws

    print_json(draws(connect_bus(args)))
    return 0


# -- alerts ------------------------------------------------------------------------------------------
def _alerts(p) -> None:
    sub = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    q = sub.add_parser("list", help="alerts, newest first: one line each (--json: in full)")
    q.add_argument("--rule", help="only the alerts of this rule id")
    add_page_args(q, 20)
    q.add_argument("--json", action="store_true", help="the alerts in full, as JSON")
    add_bus_args(q)
    q.set_defaults(func=_alerts_list)
    q = sub.add_parser("show", help="one alert with its evidence (JSON)")
    q.add_argument("id")
    add_bus_args(q)
    q.set_defaults(func=_alerts_show)
    q = sub.add_parser("cap", help="an alert's latest CAP 1.2 message (Alert, Update, Cancel); "
                                   "with the twin, the area names its streets/towns and grids")
    q.add_argument("id")
    add_bus_args(q)
    add_twin_args(q, required=False)
    q.set_defaults(func=_alerts_cap)


def _alert(args):
    from layers.loop.alerts import AlertStore

    alert = AlertStore(connect_bus(args)).get(args.id)
    if alert is None:
        raise CliError(f"no alert {args.id!r}: see `cityops alerts list`")
    return alert


def _alerts_list(args) -> int:
    import sys

    from layers.loop.alerts import AlertStore
    from twin.settings import city_time

    check_page(args)
    store = AlertStore(connect_bus(args))
    alerts = store.list(args.limit, args.rule, args.offset)
    if args.json:
        print_json([a.view() for a in alerts])
    else:
        for a in alerts:
            print(f"{a.id}  {city_time(a.ts):%Y-%m-%d %H:%M:%S}  sev{a.severity}  "
                  f"{a.category:<16} {a.rule:<20} {a.case or '-':<8} {a.title_in('zh')}")
    if not args.rule and alerts:
        total = store.count()
        more = (f"; --offset {args.offset + len(alerts)} for older ones"
                if args.offset + len(alerts) < total else "")
        print(f"alerts {args.offset + 1}-{args.offset + len(alerts)} of {total}, newest "
              f"first{more}", file=sys.stderr)
    return 0


def _alerts_show(args) -> int:
    print_json(_alert(args).view())
    return 0


def _alerts_cap(args) -> int:
    from layers.loop.cases import CaseStore
    from layers.protocols.cap_feed import Issuer, message_xml

    alert = _alert(args)
    twin = load_twin(args) if args.twin or args.demo else None
    records = CaseStore(connect_bus(args), None).history(alert.case) if alert.case else []
    print(message_xml(alert, records, Issuer.of(twin)))
    return 0
