"""`cityops enforce`: enforcement cases (行政执法) and their supervision on the command line.

open (from a draw or a complaint; refused otherwise, with the rule), act (a step of the
procedure: admins, officers on their department's cases, or the operator), flag (supervisors),
list, show, stats, procedure (the stages, limits and sources), refusals, pay-sim (the simulator
gateway pays a request and calls back). Bad input ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

from dashboard.commands.common import (
    CliError,
    add_bus_args,
    add_twin_args,
    connect_bus,
    load_twin,
    print_json,
    resolve_actor,
)


def register(subparsers) -> None:
    p = subparsers.add_parser("enforce", help="enforcement cases (行政执法) and supervision")
    sub = p.add_subparsers(dest="enforce_command", metavar="ACTION", required=True)
    q = sub.add_parser("open", help="open the enforcement record of an inspection")
    q.add_argument("--department", required=True, metavar="ID")
    q.add_argument("--target", required=True, metavar="ID", help="the inspected facility/party")
    q.add_argument("--target-name", metavar="NAME")
    q.add_argument("--basis", required=True, choices=("draw", "complaint"))
    q.add_argument("--ref", required=True, metavar="REF",
                   help="the draw's number (`cityops inspections list`) or the complaint's case id")
    q.add_argument("--party", choices=("person", "organisation"), default="organisation")
    q.add_argument("--actor", required=True, metavar="NAME")
    q.set_defaults(func=_open)
    q = sub.add_parser("draw", help="a double-random draw that opens the enforcement record "
                       "of every target drawn")
    q.add_argument("--department", required=True, metavar="ID")
    q.add_argument("--targets", type=int, required=True, metavar="N")
    q.add_argument("--inspectors", type=int, required=True, metavar="M")
    q.add_argument("--seed", type=int, help="recorded as the operator's choice")
    q.add_argument("--party", choices=("person", "organisation"), default="organisation")
    q.add_argument("--actor", required=True, metavar="NAME")
    add_twin_args(q)
    q.set_defaults(func=_draw)
    q = sub.add_parser("act", help="do one step of the procedure")
    q.add_argument("case", metavar="ID")
    q.add_argument("action", metavar="ACTION", help="clear, find, file, notify, request_hearing, "
                   "conclude, decide, serve, appeal, uphold, revoke, drop, close, note")
    q.add_argument("--amount", type=float, metavar="YUAN", help="the fine (notify, decide)")
    q.add_argument("--note", default="")
    q.add_argument("--actor", required=True, metavar="NAME")
    q.set_defaults(func=_act)
    q = sub.add_parser("flag", help="flag an enforcement case for review (supervisors)")
    q.add_argument("case", metavar="ID")
    q.add_argument("--note", required=True)
    q.add_argument("--actor", required=True, metavar="NAME")
    q.set_defaults(func=_flag)
    q = sub.add_parser("list", help="enforcement cases, newest first")
    q.add_argument("--department", metavar="ID")
    q.add_argument("--open", action="store_true")
    q.add_argument("--overdue", action="store_true")
    q.add_argument("--flagged", action="store_true")
    q.set_defaults(func=_list)
    q = sub.add_parser("show", help="one enforcement case and its audit records")
    q.add_argument("case", metavar="ID")
    q.set_defaults(func=_show)
    q = sub.add_parser("stats", help="on-time rates per department and stage, amounts collected")
    q.set_defaults(func=_stats)
    q = sub.add_parser("refusals", help="inspections refused for want of a draw or a complaint")
    q.set_defaults(func=_refusals)
    q = sub.add_parser("pay-sim", help="the simulator gateway pays a request and calls back")
    q.add_argument("payment", metavar="PAYMENT")
    q.add_argument("--callback", metavar="URL", help="default $CITYOPS_PUBLIC_URL"
                   "/api/v1/payments/callback")
    q.set_defaults(func=_pay_sim)
    q = sub.add_parser("procedure", help="the stages, their legal time limits and sources")
    q.add_argument("--lang", choices=("zh", "en"), default="zh")
    q.set_defaults(func=_procedure)
    for q in sub.choices.values():
        if q.prog.split()[-1] != "procedure":
            add_bus_args(q)


def _store(args):
    from layers.loop.enforcement import EnforcementStore
    from layers.loop.procedure import ProcedureError

    try:
        return EnforcementStore(connect_bus(args))
    except ProcedureError as exc:
        raise CliError(str(exc)) from exc


def _run(step):
    from layers.loop.procedure import EnforcementError

    try:
        return step()
    except EnforcementError as exc:
        raise CliError(str(exc)) from exc


def _open(args) -> int:
    actor, context, _user = resolve_actor(args.actor)
    store = _store(args)
    case = _run(lambda: store.open(args.department, args.target, args.basis, args.ref, actor,
                                   party=args.party, target_name=args.target_name,
                                   context=context))
    print_json(case.view())
    return 0


def _draw(args) -> int:
    from layers.loop.inspections import DrawError, draw

    actor, context, _user = resolve_actor(args.actor)
    store = _store(args)
    try:
        drawn = draw(store.bus, load_twin(args), args.department, args.targets, args.inspectors,
                     seed=args.seed, actor=actor, ts=store.clock(), context=context)
    except DrawError as exc:
        raise CliError(str(exc)) from exc
    cases = _run(lambda: store.open_drawn(drawn, actor, party=args.party, context=context))
    print_json({"draw": drawn["draw"], "seed_source": drawn["seed_source"],
                "cases": [c.view() for c in cases]})
    return 0


def _act(args) -> int:
    from dashboard.policy import can_act_enforcement

    actor, context, user = resolve_actor(args.actor)
    store = _store(args)
    case = _run(lambda: store.require(args.case))
    if user is not None and args.action != "note" \
            and not can_act_enforcement(user, case, args.action):
        raise CliError(f"--actor {actor} ({user.role}) may not {args.action} {case.id}: an admin, "
                       f"an officer of {case.department}, or --actor operator may")
    case = _run(lambda: store.act(args.case, args.action, actor, amount_yuan=args.amount,
                                  note=args.note, context=context))
    view = case.view()
    if case.payment:
        request = store.payments.get(case.payment)
        view["payment_url"] = request.url if request else None
    print_json(view)
    return 0


def _flag(args) -> int:
    from dashboard.policy import can_flag

    actor, context, user = resolve_actor(args.actor)
    store = _store(args)
    case = _run(lambda: store.require(args.case))
    if user is not None and not can_flag(user, case):
        raise CliError(f"--actor {actor} ({user.role}) may not flag {case.id}: supervisors and "
                       f"admins flag open cases")
    print_json(_run(lambda: store.flag(case.id, actor, args.note, context=context)).view())
    return 0


def _list(args) -> int:
    store = _store(args)
    cases = _run(lambda: store.list(department=args.department, open_only=args.open,
                                    overdue=args.overdue, flagged=args.flagged))
    print_json([{k: c.view()[k] for k in ("id", "department", "target", "stage", "deadline",
                                          "amount_yuan", "paid_yuan", "flags")} for c in cases])
    return 0


def _show(args) -> int:
    store = _store(args)
    case = _run(lambda: store.require(args.case))
    print_json({**case.view(), "records": store.history(case.id)})
    return 0


def _stats(args) -> int:
    from layers.loop import enforcement_stats as stats

    store = _store(args)
    cases, now = store.all(), store.clock()
    print_json({**stats.summary(cases, now), "on_time": stats.on_time(cases, now)})
    return 0


def _refusals(args) -> int:
    print_json(_store(args).refusals())
    return 0


def _pay_sim(args) -> int:
    from layers.loop.payments import Simulator

    sim = Simulator(connect_bus(args), callback_url=args.callback)
    try:
        txn, status = sim.pay(args.payment)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"cannot reach the callback {sim.callback_url}: {exc} (is `cityops "
                       f"serve` running? set --callback)") from exc
    print_json({"txn": txn, "callback_status": status})
    return 0 if status == 200 else 1


def _procedure(args) -> int:
    from layers.loop import procedure as proc

    try:
        p = proc.load()
    except proc.ProcedureError as exc:
        raise CliError(str(exc)) from exc
    print_json({"rule": getattr(p.basis.rule, args.lang), "stages": [
        {"stage": s, "name": p.name(s, args.lang), "days": p.stages[s].limit.days,
         "unit": p.stages[s].limit.unit, "from": p.stages[s].limit.start,
         "source": p.stages[s].source, "verified": p.stages[s].verified} for s in proc.STAGES]})
    return 0
