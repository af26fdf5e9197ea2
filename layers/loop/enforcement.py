"""Enforcement cases (行政执法): opened by a double-random draw or a complaint, moved through the
administrative-penalty procedure, paid by scanning a code, audited like every case.

`EnforcementStore` owns `enforce:*` (layers.keys). A case's state is folded from its audit records
(`layers.loop.procedure.fold`, kind `enforcement`); the view in `enforce:state` and the indexes are
written in the same transaction as the record, and so is the payment request a decision yields
(`layers.loop.payments`). An inspection needs a basis (`procedure.basis`): the draw that picked its
target, or a complaint (a case reported through a complaint source); anything else is refused with
the rule's reason, and the refusal itself is an audit record (kind `enforcement.refusal`). A signed
payment callback (`receive_callback`) records the payment and closes the payment stage; refused
callbacks are answered with their status and logged (`PaymentStore.refused`).
"""

from __future__ import annotations

import logging
import re

from layers.clock import Clock, wall
from layers.live.bus import Bus
from layers.loop import payments as pay
from layers.loop import procedure as proc
from layers.loop.audit import AuditLog
from layers.loop.procedure import CLOSED, EnforcementCase, EnforcementError
from layers.loop.records import Place

log = logging.getLogger(__name__)
KIND = "enforcement"
DEPARTMENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
PARTIES = ("person", "organisation")


class BasisRefused(EnforcementError):
    """An inspection without a draw or a complaint behind it (随机之外，不投诉不检查)."""


class EnforcementStore:
    """Enforcement cases in Redis: open (with a basis), act, flag, list; payment callbacks."""

    def __init__(self, bus: Bus, clock: Clock = wall, procedure: proc.Procedure | None = None,
                 tz: str | None = None) -> None:
        self.bus, self.clock, self.tz = bus, clock, tz
        self.redis, self.keys = bus.redis, bus.keys
        self.procedure = procedure or proc.default()
        self.audit = AuditLog(bus)
        self.payments = pay.PaymentStore(bus)

    def _k(self, name: str) -> str:
        return self.keys.enforce(name)

    # -- reading ---------------------------------------------------------------------------------
    def get(self, case_id: str) -> EnforcementCase | None:
        raw = self.redis.hget(self._k("state"), case_id)
        return EnforcementCase.from_json(raw) if raw else None

    def require(self, case_id: str) -> EnforcementCase:
        case = self.get(case_id)
        if case is None:
            raise EnforcementError(f"no enforcement case {case_id!r}: see `cityops enforce list`",
                                   "no_case", case=case_id)
        return case

    def all(self) -> list[EnforcementCase]:
        return [EnforcementCase.from_json(v) for v in self.redis.hvals(self._k("state"))]

    def scan(self, batch: int = 1000):
        """Every stored view as (id, EnforcementCase), None where it is not readable."""
        for cid, raw in self.redis.hscan_iter(self._k("state"), count=batch):
            try:
                yield cid.decode(), EnforcementCase.from_json(raw)
            except (ValueError, KeyError, TypeError):
                yield cid.decode(), None

    def list(self, department: str | None = None, open_only: bool = False,
             overdue: bool = False, flagged: bool = False) -> list[EnforcementCase]:
        """Cases matching every filter given, newest first."""
        if department is not None and not DEPARTMENT.fullmatch(department):
            raise EnforcementError(f"bad department {department[:40]!r}: a department id "
                                   f"(letters, digits, '_', '-', '.')")
        sets = [self._k(f"dept:{department}")] if department else []
        if open_only:
            sets.append(self._k("open"))
        if flagged:
            sets.append(self._k("flagged"))
        if sets:
            ids = [i.decode() for i in self.redis.sinter(sets)]
        else:
            ids = [i.decode() for i in self.redis.zrange(self._k("created"), 0, -1)]
        if overdue:
            late = {i.decode() for i in self.redis.zrangebyscore(self._k("deadline"), "-inf",
                                                                  f"({self.clock()}")}
            ids = [i for i in ids if i in late]
        cases = [EnforcementCase.from_json(r)
                 for r in (self.redis.hmget(self._k("state"), ids) if ids else []) if r]
        return sorted(cases, key=lambda c: (-c.created, c.id))

    def history(self, case_id: str) -> list[dict]:
        return [r for r in self.audit.for_subject(case_id) if r["kind"] == KIND]

    def rebuild(self, case_id: str) -> EnforcementCase | None:
        """The state folded afresh from the audit log (what `get` must equal)."""
        case = None
        for rec in self.history(case_id):
            case = proc.fold(case, rec)
        return case

    def refusals(self) -> list[dict]:
        """Every refused inspection (audit records), oldest first."""
        return [{"seq": r["seq"], "ts": r["ts"], "actor": r["actor"], **r["data"]}
                for r in self.audit.for_subject("enforcement:refusals")]

    # -- opening ---------------------------------------------------------------------------------
    def open(self, department: str, target: str, basis: str, basis_ref: str, actor: str,
             party: str = "organisation", target_name: str | None = None,
             place: Place | None = None, ts: float | None = None,
             context: dict | None = None) -> EnforcementCase:
        """Open an enforcement record for an inspection of `target` by `department`.

        `basis` is `draw` (basis_ref: the draw's audit seq; the target must be among the drawn)
        or `complaint` (basis_ref: the case id of a complaint). Without one the inspection is
        refused (BasisRefused) and the refusal is recorded. One basis opens one case.
        """
        ts = self.clock() if ts is None else ts
        if not actor:
            raise EnforcementError("an action needs an actor: pass --actor NAME")
        if not DEPARTMENT.fullmatch(department or ""):
            raise EnforcementError(f"bad department {str(department)[:40]!r}: a department id "
                                   f"(letters, digits, '_', '-', '.')")
        if party not in PARTIES:
            raise EnforcementError(f"unknown party {party!r}: use one of {', '.join(PARTIES)}")
        basis_key, found, extra = self._basis(department, target, basis, str(basis_ref))
        if found is not None:
            self._refuse(department, target, basis, str(basis_ref), found, actor, ts)
        case_id = f"E{int(self.redis.incr(self._k('seq'))):06d}"
        place = place or extra.get("place")
        data = {**(context or {}), "to": "inspection", "department": department,
                "target": str(target), "target_name": target_name or str(target), "basis": basis,
                "basis_ref": str(basis_ref), "party": party,
                "inspectors": extra.get("inspectors", []),
                "place": None if place is None else place.to_dict(),
                "deadline": self.procedure.deadline("inspection", ts, None, self.tz)}

        def once(pipe) -> None:  # inside the transaction's lock: one basis opens one case
            existing = pipe.hget(self._k("by_basis"), basis_key)
            if existing:
                raise EnforcementError(f"{basis_key} already opened enforcement case "
                                       f"{existing.decode()}")

        return self._write(case_id, "open", actor, ts, data,
                           lambda pipe, new: pipe.hset(self._k("by_basis"), basis_key, new.id),
                           guard=once)

    def open_drawn(self, drawn: dict, actor: str, party: str = "organisation",
                   context: dict | None = None) -> list[EnforcementCase]:
        """The enforcement record of every target of a draw (`inspections.draw`'s result)."""
        return [self.open(drawn["department"], target, "draw", str(drawn["draw"]), actor,
                          party=party, context=context) for target in drawn["targets"]]

    def _basis(self, department: str, target: str, basis: str,
               ref: str) -> tuple[str, str | None, dict]:
        """(basis key, the reason it is refused or None, what the basis adds to the case)."""
        if basis == "draw":
            seq = int(ref) if ref.isdigit() else 0
            records = self.audit.records(seq, seq) if seq >= 1 else []
            data = records[0]["data"] if records and records[0]["seq"] == seq \
                and records[0]["kind"] == "inspection.draw" else None
            key = f"draw:{ref}:{target}"
            if data is None:
                return key, f"audit record {ref} is not a double-random draw", {}
            if data["department"] != department or str(target) not in data["targets"]:
                return key, (f"draw {ref} ({data['department']}) did not draw {target} for "
                             f"{department}"), {}
            return key, None, {"inspectors": list(data["inspectors"])}
        if basis == "complaint":
            from layers.loop.cases import CaseStore

            key = f"complaint:{ref}"
            case = CaseStore(self.bus, None).get(ref)
            sources = self.procedure.basis.complaint_sources
            if case is None:
                return key, f"there is no case {ref}", {}
            if case.source not in sources:
                return key, (f"case {ref} came from {case.source}, not a complaint "
                             f"({', '.join(sources)})"), {}
            return key, None, {"place": case.place}
        raise EnforcementError(f"unknown basis {basis!r}: use draw or complaint")

    def _refuse(self, department: str, target: str, basis: str, ref: str, why: str,
                actor: str, ts: float) -> None:
        rule = self.procedure.basis.rule
        data = {"department": department, "target": str(target), "basis": basis,
                "basis_ref": ref, "reason": why, "rule": rule.zh}
        self.audit.append("enforcement.refusal", "enforcement:refusals", actor, ts, data)
        raise BasisRefused(f"inspection of {target} by {department} refused: {why}; "
                           f"{rule.zh} ({rule.en})")

    # -- acting ----------------------------------------------------------------------------------
    def act(self, case_id: str, action: str, actor: str, amount_yuan: float | None = None,
            note: str = "", ts: float | None = None,
            context: dict | None = None) -> EnforcementCase:
        """Do one step of the procedure (or `flag`/`note`) as `actor`; returns the new state.

        `decide` needs the fine (`amount_yuan`) and yields a payment request; from the
        inspection stage it is a decision on the spot (简易程序), within the legal limits.
        """
        if not actor:
            raise EnforcementError("an action needs an actor: pass --actor NAME")
        if action == "pay":
            raise EnforcementError("a payment is recorded by the gateway's signed callback, "
                                   "not by hand", "pay_by_gateway")
        ts = self.clock() if ts is None else ts
        case = self.require(case_id)
        proc.check(case, action)
        data: dict = {**(context or {}), **({"note": note} if note else {})}
        extra = None
        if action in proc.MOVES:
            data.update(self._move(case, action, ts, amount_yuan))
            extra = self._payment_effect(case, action, data, ts)
        return self._write(case_id, action, actor, ts, data, extra, expect=case.history)

    def flag(self, case_id: str, actor: str, note: str, ts: float | None = None,
             context: dict | None = None) -> EnforcementCase:
        """A supervisor flags a case for review (recorded; the case does not move)."""
        if not note.strip():
            raise EnforcementError("a flag needs a note saying what to review", "note_needed")
        return self.act(case_id, "flag", actor, note=note, ts=ts, context=context)

    def _move(self, case: EnforcementCase, action: str, ts: float,
              amount_yuan: float | None) -> dict:
        to = proc.next_stage(case, action)
        filed = ts if action == "file" else case.filed_at
        data = {"to": to, "deadline": None if to == CLOSED else
                self.procedure.deadline(to, ts, filed, self.tz)}
        if action in ("notify", "decide") and amount_yuan is not None:
            data["amount_fen"] = _fen(amount_yuan)
        if action == "decide":
            if "amount_fen" not in data:
                raise EnforcementError("a penalty decision needs the fine: pass --amount YUAN",
                                       "fine_needed")
            data["on_site"] = case.stage == "inspection"
            if data["on_site"] and data["amount_fen"] > self.procedure.simplified.max_fen(case.party):
                limit = self.procedure.simplified.max_fen(case.party) / proc.FEN_PER_YUAN
                raise EnforcementError(f"a fine decided on the spot is at most {limit:.0f} yuan "
                                       f"for a {case.party} (简易程序); file the case instead",
                                       "over_on_site_limit", limit=limit, party=case.party)
        return data

    def _payment_effect(self, case: EnforcementCase, action: str, data: dict, ts: float):
        """What a move does to the case's payment request, in the same transaction."""
        if action == "decide":
            due = data["deadline"] if data["to"] == "payment" else None
            request = pay.new_request(case.id, case.department, data["amount_fen"], ts, due,
                                      data["on_site"])
            data["payment"] = request.id
            return lambda pipe, _new: self.payments.queue_save(pipe, request)
        request = self.payments.get(case.payment) if case.payment else None
        if request is None:
            return None
        if action in ("serve", "uphold"):
            request.due = data["deadline"]
        elif action == "revoke":
            request.status = "cancelled"
        else:
            return None
        return lambda pipe, _new: self.payments.queue_save(pipe, request)

    def _write(self, case_id: str, action: str, actor: str, ts: float, data: dict,
               extra=None, expect: int | None = None, guard=None) -> EnforcementCase:
        out: dict = {}

        def build(pipe) -> dict:
            if guard is not None:
                guard(pipe)
            raw = pipe.hget(self._k("state"), case_id)
            old = EnforcementCase.from_json(raw) if raw else None
            if action == "open" and old is not None:
                raise EnforcementError(f"enforcement case {case_id} exists already")
            if expect is not None and (old is None or old.history != expect):
                raise EnforcementError(f"enforcement case {case_id} changed meanwhile: try again",
                                       "changed", case=case_id)
            out["old"] = old
            return {**data, "action": action}

        def after(pipe, record) -> None:
            new = proc.fold(out["old"], record)
            out["new"] = new
            self._index(pipe, new)
            if extra is not None:
                extra(pipe, new)

        self.audit.append(KIND, case_id, actor, ts, build, after)
        return out["new"]

    def _index(self, pipe, new: EnforcementCase) -> None:
        k, cid = self._k, new.id
        pipe.hset(k("state"), cid, new.to_json())
        pipe.zadd(k("created"), {cid: new.created})
        pipe.sadd(k(f"dept:{new.department}"), cid)
        if new.is_open:
            pipe.sadd(k("open"), cid)
        else:
            pipe.srem(k("open"), cid)
        if new.is_open and new.deadline is not None:
            pipe.zadd(k("deadline"), {cid: new.deadline})
        else:
            pipe.zrem(k("deadline"), cid)
        if new.flagged:
            pipe.sadd(k("flagged"), cid)

    # -- the payment callback --------------------------------------------------------------------
    def receive_callback(self, headers, body: bytes, addr: str = "",
                         now: float | None = None) -> dict:
        """Check a gateway's callback and record the payment it reports (closing the payment
        stage). Returns the answer; raises `payments.CallbackRefused` (logged) otherwise."""
        now = self.clock() if now is None else now
        try:
            return self._accept(headers, body, now)
        except pay.CallbackRefused as exc:
            self.payments.refused(exc.status, exc.reason, addr, now)
            log.warning("payment callback from %s refused (%d): %s", addr or "?", exc.status,
                        exc.reason)
            raise

    def _accept(self, headers, body: bytes, now: float) -> dict:
        nonce, notice = pay.verify(self.payments.secret(), headers, body, now)
        if not self.payments.use_nonce(nonce):
            raise pay.CallbackRefused(409, "replayed callback: this nonce was used already")
        request = self.payments.get(notice.payment)
        if request is None:
            raise pay.CallbackRefused(404, f"no payment request {notice.payment!r}")
        if request.status == "paid":
            if request.txn == notice.txn:
                return {"ok": True, "payment": request.id, "case": request.case,
                        "status": "paid", "duplicate": True}
            raise pay.CallbackRefused(409, f"payment request {request.id} was paid already "
                                           f"(another transaction)")
        if request.status != "open":
            raise pay.CallbackRefused(409, f"payment request {request.id} is {request.status}")
        if notice.amount_fen != request.amount_fen:
            raise pay.CallbackRefused(400, f"amount {notice.amount_fen} fen is not the "
                                           f"{request.amount_fen} fen requested")
        case = self.get(request.case)
        if case is None or case.stage != "payment":
            where = case.stage if case else "missing"
            raise pay.CallbackRefused(409, f"enforcement case {request.case} is not at the "
                                           f"payment stage (it is {where})")
        request.status, request.paid_at, request.txn = "paid", notice.paid_at, notice.txn
        data = {"to": proc.next_stage(case, "pay"), "paid_fen": notice.amount_fen,
                "txn": notice.txn, "payment": request.id, "gateway": request.gateway,
                "deadline": self.procedure.deadline("closure", now, case.filed_at, self.tz)}
        try:
            new = self._write(case.id, "pay", f"gateway:{request.gateway}", now, data,
                              lambda pipe, _new: self.payments.queue_save(pipe, request),
                              expect=case.history)
        except EnforcementError as exc:  # the case moved meanwhile (another callback, an appeal)
            raise pay.CallbackRefused(409, f"{exc}; call back again") from exc
        return {"ok": True, "payment": request.id, "case": new.id, "status": "paid",
                "stage": new.stage}


def _fen(yuan: float) -> int:
    try:
        exact = float(yuan) * proc.FEN_PER_YUAN
        fen = round(exact)
    except (TypeError, ValueError, OverflowError):
        fen, exact = 0, 0.0
    if not fen > 0 or abs(fen - exact) > 1e-6:
        raise EnforcementError(f"amount {yuan!r} must be a positive number of yuan with at most "
                               f"2 decimals", "bad_amount")
    return int(fen)
