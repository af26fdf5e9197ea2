"""The demo's enforcement workload: double-random draws open enforcement cases, which move
through the procedure; fines are paid through the simulator gateway, whose signed callback
reaches the demo dashboard over HTTP. Now and then an inspection outside the draw is tried and
refused (the 随机之外，不投诉不检查 rule), so the supervisor sees refusals too.

Everything goes through the product's own paths (`inspections.draw`, `EnforcementStore`,
`payments.Simulator`); this module only decides what happens next, at random but seeded.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from layers.loop import inspections
from layers.loop import payments as pay
from layers.loop.enforcement import BasisRefused, EnforcementStore
from layers.loop.procedure import EnforcementCase

log = logging.getLogger(__name__)
ACTOR = "demo-officer"
NEXT = {  # stage -> the usual next action (the demo's choices)
    "filing": "file", "investigation": "notify", "notice": "conclude", "hearing": "conclude",
    "decision": "decide", "service": "serve", "closure": "close", "appeal": "uphold",
}


def draw_and_open(store: EnforcementStore, twin, department: str, targets: int = 2) -> list[str]:
    """A system-seeded draw for `department` and the enforcement cases of its targets."""
    drawn = inspections.draw(store.bus, twin, department, targets, 1, actor="demo-draw")
    party = "person" if len(store.list()) % 2 else "organisation"  # both kinds in the demo
    return [c.id for c in store.open_drawn(drawn, ACTOR, party=party)]


def step(store: EnforcementStore, sim: pay.Simulator, twin, rng: random.Random) -> str:
    """One thing happens; what, for the demo's log."""
    cases = store.list(open_only=True)
    if not cases or rng.random() < 0.05:
        department = rng.choice(sorted(inspections.rosters()))
        if rng.random() < 0.3:
            try:
                store.open(department, "F-undrawn", "draw", "0", ACTOR)
            except BasisRefused as exc:
                return f"refused: {exc}"
        return f"opened {', '.join(draw_and_open(store, twin, department))}"
    return advance(store, sim, rng.choice(cases), rng)


def advance(store: EnforcementStore, sim: pay.Simulator, case: EnforcementCase,
            rng: random.Random) -> str:
    """Move one case one step (paying through the simulator at the payment stage)."""
    if case.stage == "payment":
        try:
            _txn, status = sim.pay(case.payment)
        except OSError as exc:  # the dashboard is not up (yet): the request stays open
            return f"{case.id}: the simulator cannot reach {sim.callback_url} ({exc})"
        return f"{case.id}: paid through the simulator (callback {status})"
    if case.stage == "inspection":
        roll = rng.random()
        if roll < 0.2:
            action, amount = "clear", None
        elif roll < 0.5 and case.party == "person":
            action, amount = "decide", float(rng.choice((50, 100, 200)))
        else:
            action, amount = "find", None
    else:
        action = NEXT[case.stage]
        amount = float(rng.choice((500, 2000, 5000))) if action in ("notify", "decide") else None
    store.act(case.id, action, ACTOR, amount_yuan=amount)
    return f"{case.id}: {action}"


def enforcement_service(twin, callback_url: str, interval_s: float = 3.0,
                        seed: int = 0) -> tuple[str, Callable]:
    """The workload as a demo service (name, loop(bus, stop))."""
    def loop(bus, stop) -> None:
        from layers.clock import pause

        store = EnforcementStore(bus, tz=twin.timezone)
        sim = pay.Simulator(bus, callback_url=callback_url)
        rng = random.Random(seed)
        while not stop():
            log.info("enforcement demo: %s", step(store, sim, twin, rng))
            pause(interval_s, stop)
    return "enforcement", loop
