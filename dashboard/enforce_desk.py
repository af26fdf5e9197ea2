"""The officer's case desk on the Enforcement page (办案): one open case of their department with
its stage, the stage's deadline in city time and the time left, one button per action the
procedure allows now (with the fine and a note where the action takes them), the payment code
and link while a fine is due, and the audit trail (who did what when).

`act` goes through `EnforcementStore.act`, the store the CLI uses, in the logged-in user's name
(so it is audited as theirs) once `policy.can_act_enforcement` allows it; what the procedure or
the store refuses comes back as its reason in the page language (`refusal_text`). The rest are
pure functions of the case, its records and the clock; `panel` turns them into components.
"""

from __future__ import annotations

import re

import dash_mantine_components as dmc
from dash import html

from dashboard.case_view import actor_text, clicked_action, duration_text, note_for
from dashboard.i18n import add_labels, t
from dashboard.policy import (
    User,
    can_act_enforcement,
    can_see_enforcement_case,
    may_move_enforcement,
)
from dashboard.session import require
from layers.loop import procedure as proc
from layers.loop.procedure import EnforcementCase, EnforcementError, Procedure
from twin.settings import city_time

ACTIONS = tuple(a for a in proc.MOVES if a != "pay") + ("note",)  # pay: the gateway's callback
AMOUNT_ACTIONS = ("notify", "decide")  # the proposed fine (notify), the fine decided (decide)
MAX_YUAN = 100_000_000  # what the amount box takes at all; the law's limits are the store's
_NUMBER = re.compile(r"-?[0-9]{0,12}(\.[0-9]{0,6})?")

add_labels({
    "enf_desk": {"zh": "办案", "en": "Work a case"},
    "col_department": {"zh": "部门", "en": "Department"},  # as dashboard.enforce_view has them
    "col_target": {"zh": "检查对象", "en": "Target"},
    "desk_pick": {"zh": "选择本部门在办案件", "en": "Pick an open case of your department"},
    "desk_stage": {"zh": "当前环节", "en": "Stage"},
    "desk_deadline": {"zh": "环节期限（城市时间）", "en": "Stage deadline (city time)"},
    "desk_left": {"zh": "剩余 {}", "en": "{} left"},
    "desk_overdue": {"zh": "已超期 {}", "en": "overdue by {}"},
    "desk_no_deadline": {"zh": "无期限", "en": "No deadline"},
    "desk_party": {"zh": "当事人", "en": "Party"},
    "desk_party_person": {"zh": "个人", "en": "a person"},
    "desk_party_organisation": {"zh": "单位", "en": "an organisation"},
    "desk_fine": {"zh": "罚款/已缴(元)", "en": "Fine / paid (yuan)"},
    "desk_amount": {"zh": "罚款金额（元）", "en": "Fine (yuan)"},
    "desk_amount_spot": {"zh": "当场处罚（简易程序）最多 {} 元", "en":
                         "On the spot (simplified procedure) at most {} yuan"},
    "desk_amount_any": {"zh": "告知拟罚款或作出处罚决定时填写", "en":
                        "For the proposed fine (notice) or the fine decided"},
    "desk_note": {"zh": "办案说明", "en": "Note"},
    "desk_no_actions": {"zh": "当前无可办理的操作", "en": "No action available to you now"},
    "desk_done": {"zh": "已办理：{} {}", "en": "Done: {} {}"},
    "desk_pay": {"zh": "扫码缴纳罚款 {} 元", "en": "Scan to pay the fine of {} yuan"},
    "desk_pay_link": {"zh": "缴款链接", "en": "Payment link"},
    "desk_trail": {"zh": "办案记录", "en": "Audit trail"},
    "trail_stage": {"zh": "进入环节", "en": "To stage"},
    "desk_detail_fine": {"zh": "罚款 {} 元", "en": "fine {} yuan"},
    "desk_detail_on_site": {"zh": "当场处罚", "en": "on the spot"},
    "desk_detail_paid": {"zh": "已缴 {} 元", "en": "paid {} yuan"},
    "actor_demo_officer": {"zh": "演示执法人员", "en": "demo officer"},
    "actor_demo_draw": {"zh": "双随机抽取", "en": "random draw"},
    "actor_gateway_simulator": {"zh": "支付平台（模拟）", "en": "payment gateway (simulator)"},
    "actor_operator": {"zh": "本机操作员", "en": "local operator"},
})
_ACT_LABELS = {
    "open": ("登记检查", "Inspection recorded"), "clear": ("检查未发现违法", "Clear: nothing found"),
    "find": ("发现违法", "Violation found"), "file": ("立案", "File the case"),
    "notify": ("告知拟处罚", "Notify the proposed penalty"),
    "request_hearing": ("申请听证", "Hearing requested"),
    "conclude": ("告知或听证结束", "Notice or hearing concluded"),
    "decide": ("作出处罚决定", "Decide the penalty"), "serve": ("送达决定书", "Serve the decision"),
    "pay": ("缴纳罚款", "Fine paid"), "appeal": ("申请复议或诉讼", "Appealed"),
    "uphold": ("维持原决定", "Decision upheld"), "revoke": ("撤销决定", "Decision revoked"),
    "drop": ("撤销案件", "Drop the case"), "close": ("结案", "Close the case"),
    "flag": ("标记复查", "Flagged for review"), "note": ("备注", "Note"),
}
add_labels({f"enf_act_{a}": {"zh": zh, "en": en} for a, (zh, en) in _ACT_LABELS.items()})
add_labels({
    "enf_refused": {"zh": "无法办理该操作", "en": "The action was refused: {}"},
    "enf_refused_not_now": {"zh": "案件 {case} 处于“{stage}”环节，不能“{action}”（当前可办：{allowed}）",
                            "en": "Case {case} is at the stage “{stage}”: “{action}” is not "
                                  "possible now (allowed now: {allowed})"},
    "enf_refused_fine_needed": {"zh": "作出处罚决定需填写罚款金额（元）", "en":
                                "A penalty decision needs the fine: enter it in yuan"},
    "enf_refused_over_on_site_limit": {
        "zh": "当场处罚（简易程序）对{party}的罚款最多 {limit} 元：请改为立案办理",
        "en": "A fine decided on the spot is at most {limit} yuan for {party} (simplified "
              "procedure): file the case instead"},
    "enf_refused_bad_amount": {"zh": "罚款金额须为正数，最多两位小数", "en":
                               "The fine must be a positive number of yuan with at most 2 decimals"},
    "enf_refused_changed": {"zh": "案件 {case} 刚被他人更新：请重试", "en":
                            "Case {case} changed meanwhile: try again"},
    "enf_refused_pay_by_gateway": {"zh": "罚款由支付平台的签名回调记录，不能手工登记", "en":
                                   "A payment is recorded by the gateway's signed callback, "
                                   "not by hand"},
    "enf_refused_no_case": {"zh": "没有执法案件 {case}", "en": "No enforcement case {case}"},
    "enf_refused_nothing": {"zh": "无", "en": "nothing"},
})


# -- who may work which case -------------------------------------------------------------------
def shows_desk(user: User | None) -> bool:
    """Whether the page shows the user the desk (officers, admins)."""
    return may_move_enforcement(user)


def workable(cases: list[EnforcementCase], user: User | None) -> list[EnforcementCase]:
    """The open cases the user may act on, the soonest deadline first."""
    keep = [c for c in cases if can_act_enforcement(user, c, "note")]
    return sorted(keep, key=lambda c: (c.deadline is None, c.deadline or 0.0, c.id))


def options(cases: list[EnforcementCase], user: User | None, procedure: Procedure,
            lang: str) -> list[dict]:
    """The desk's case picker: id · target · stage."""
    return [{"value": c.id, "label": f"{c.id} · {c.target_name} · "
                                     f"{procedure.name(c.stage, lang)}"}
            for c in workable(cases, user)]


def actions_for(user: User | None, case: EnforcementCase) -> list[str]:
    """One button per action the procedure allows now (and a note), for a user who may act."""
    if not can_act_enforcement(user, case, "note"):
        return []
    return [a for a in ACTIONS if proc.allowed(case, a) and can_act_enforcement(user, case, a)]


def visible_case(store, user: User | None, case_id: str | None) -> EnforcementCase | None:
    """One case the user may see; None when none is picked; 403 for an unknown case or another
    department's (the answer never tells which)."""
    if not case_id:
        return None
    case = store.get(case_id)
    require(case is not None and can_see_enforcement_case(user, case),
            f"enforcement case {case_id}")
    return case


# -- acting ----------------------------------------------------------------------------------------
def parse_amount(value) -> float | None:
    """The amount box's value as yuan: None when empty; a number as typed (the store checks it)."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    return float(text) if text and _NUMBER.fullmatch(text) and text not in ("-", ".") else None


def act(store, user: User | None, case_id: str, action: str, amount=None,
        note: str | None = "") -> EnforcementCase:
    """Do `action` on a case as the logged-in user, through the store (audited in their name).

    403 unless `policy.can_act_enforcement`; EnforcementError (with its reason) when the
    procedure or the store refuses it."""
    require(action in ACTIONS, f"enforcement action {action!r}")
    case = visible_case(store, user, case_id)
    require(case is not None and can_act_enforcement(user, case, action),
            f"{action} on enforcement case {case_id}")
    yuan = parse_amount(amount) if action in AMOUNT_ACTIONS else None
    return store.act(case.id, action, user.username, amount_yuan=yuan,
                     note=(note or "").strip(), context={"via": "dashboard"})


def refusal_text(exc: EnforcementError, procedure: Procedure, lang: str) -> str:
    """A refusal of the procedure or the store, in the page language."""
    params = dict(getattr(exc, "params", {}) or {})
    key = f"enf_refused_{getattr(exc, 'reason', None)}"
    if key not in _REFUSALS:
        return t("enf_refused", lang).format(exc) if lang != "zh" else t("enf_refused", lang)
    if "stage" in params:
        params["stage"] = procedure.name(params["stage"], lang)
    if "action" in params:
        params["action"] = action_label(params["action"], lang)
    if "allowed" in params:
        sep = "、" if lang == "zh" else ", "
        params["allowed"] = sep.join(action_label(a, lang) for a in params["allowed"]) \
            or t("enf_refused_nothing", lang)
    if "party" in params:
        params["party"] = t(f"desk_party_{params['party']}", lang)
    if "limit" in params:
        params["limit"] = f"{float(params['limit']):g}"
    return t(key, lang).format(**params)


_REFUSALS = {f"enf_refused_{r}" for r in ("not_now", "fine_needed", "over_on_site_limit",
                                          "bad_amount", "changed", "pay_by_gateway", "no_case")}


def press(store, user: User | None, triggered_id, triggered_value, amounts: list[dict],
          notes: list[dict], procedure: Procedure, lang: str):
    """What the desk's act callback shows: (True, done) after a move, (False, the refusal in
    the page language) when refused, None when a re-render fired the callback."""
    pressed = clicked_action(triggered_id, triggered_value)
    if pressed is None:
        return None
    case_id, action = pressed
    amount = next((a.get("value") for a in amounts or []
                   if isinstance(a.get("id"), dict) and a["id"].get("case") == case_id), None)
    try:
        new = act(store, user, case_id, action, amount, note_for(notes, case_id))
    except EnforcementError as exc:
        return False, refusal_text(exc, procedure, lang)
    return True, t("desk_done", lang).format(new.id, action_label(action, lang))


# -- what the panel shows --------------------------------------------------------------------------
def action_label(action: str, lang: str) -> str:
    return t(f"enf_act_{action}", lang) if action in _ACT_LABELS else action


def deadline_info(case: EnforcementCase, now: float, tz: str | None, lang: str) -> dict:
    """The stage's deadline: its last minute in city time, and the time left or overdue."""
    if case.deadline is None or not case.is_open:
        return {"when": t("desk_no_deadline", lang), "text": "", "overdue": False}
    left = case.deadline - now
    key = "desk_overdue" if left < 0 else "desk_left"
    # a deadline is the end of its last day: show that day's last minute
    when = city_time(case.deadline - 1, tz).strftime("%Y-%m-%d %H:%M")
    return {"when": when, "text": t(key, lang).format(duration_text(left, lang)),
            "overdue": left < 0}


def amount_hint(case: EnforcementCase, procedure: Procedure, lang: str) -> str:
    """What the amount box says: the on-the-spot limit from the inspection, else its use."""
    if case.stage == "inspection":
        limit = procedure.simplified.max_fen(case.party) / proc.FEN_PER_YUAN
        return t("desk_amount_spot", lang).format(f"{limit:g}")
    return t("desk_amount_any", lang)


def trail_rows(records: list[dict], procedure: Procedure, tz: str | None,
               lang: str) -> list[dict]:
    """The audit trail, oldest first: time (city time), who (`person`: a user name, as written),
    what, the stage it led to, the figures it carried, and the note as typed."""
    rows = []
    for rec in records:
        data = rec.get("data") or {}
        details = []
        if data.get("amount_fen") is not None:
            details.append(t("desk_detail_fine", lang).format(f"{data['amount_fen'] / 100:.2f}"))
        if data.get("on_site"):
            details.append(t("desk_detail_on_site", lang))
        if data.get("paid_fen") is not None:
            details.append(t("desk_detail_paid", lang).format(f"{data['paid_fen'] / 100:.2f}"))
        to = data.get("to")
        actor = actor_text(rec["actor"], lang)
        rows.append({"seq": rec["seq"], "time": city_time(rec["ts"], tz).strftime(
                         "%Y-%m-%d %H:%M"), "actor": actor, "person": actor == rec["actor"],
                     "action": action_label(data.get("action", "?"), lang),
                     "stage": procedure.name(to, lang) if to else "",
                     "details": ("；" if lang == "zh" else "; ").join(details),
                     "note": str(data.get("note", ""))})
    return rows


def panel(store, user: User | None, case_id: str | None, procedure: Procedure, now: float,
          tz: str | None, lang: str, departments: dict[str, str] | None = None):
    """The case panel: facts, payment code, action buttons with their inputs, audit trail."""
    case = visible_case(store, user, case_id)
    if case is None:
        return None
    due = deadline_info(case, now, tz, lang)
    fine = "-" if case.amount_fen is None else f"{case.amount_fen / 100:.2f}"
    facts = html.Dl(className="desk-facts", children=[
        html.Dt(t("col_department", lang)),
        html.Dd((departments or {}).get(case.department, case.department)),
        html.Dt(t("col_target", lang)), html.Dd(case.target_name),
        html.Dt(t("desk_party", lang)), html.Dd(t(f"desk_party_{case.party}", lang)),
        html.Dt(t("desk_stage", lang)), html.Dd(procedure.name(case.stage, lang),
                                                id="enf-desk-stage"),
        html.Dt(t("desk_deadline", lang)), html.Dd([
            due["when"], " ", html.Span(due["text"], id="enf-desk-left",
                                        className="overdue" if due["overdue"] else "")]),
        html.Dt(t("desk_fine", lang)), html.Dd(f"{fine} / {case.paid_fen / 100:.2f}")])
    return dmc.Stack([html.H4(f"{case.id} · {case.target_name}", id="enf-desk-title"), facts,
                      *_payment(store, case, lang), _buttons(case, user, procedure, lang),
                      html.H4(t("desk_trail", lang)),
                      _trail(trail_rows(store.history(case.id), procedure, tz, lang), lang)],
                     gap="xs", className="enf-desk-panel")


def _payment(store, case: EnforcementCase, lang: str) -> list:
    """The QR code of the payment request (the payment route) and its link, while it is due."""
    request = store.payments.get(case.payment) if case.payment and case.stage == "payment" \
        else None
    if request is None:
        return []
    caption = t("desk_pay", lang).format(f"{request.amount_yuan:.2f}")
    return [html.Figure(className="desk-pay", children=[
        html.Img(src=f"/api/v1/payments/{request.id}/qr.svg", className="pay-qr",
                 id="enf-desk-qr", height=160, alt=caption),
        html.Figcaption([caption, " · ", html.A(t("desk_pay_link", lang), href=request.url,
                                                 target="_blank", id="enf-desk-pay-link")])])]


def _buttons(case: EnforcementCase, user: User | None, procedure: Procedure, lang: str):
    allowed = actions_for(user, case)
    if not allowed:
        return dmc.Text(t("desk_no_actions", lang), c="dimmed", size="sm", id="enf-desk-none")
    key = {"case": case.id}
    amount = dmc.NumberInput(id={"type": "enf-desk-amount", **key}, label=t("desk_amount", lang),
                             description=amount_hint(case, procedure, lang), min=0,
                             decimalScale=2, hideControls=True, className="desk-amount") \
        if any(a in AMOUNT_ACTIONS for a in allowed) else None
    note = dmc.Textarea(id={"type": "enf-desk-note", **key}, label=t("desk_note", lang),
                        autosize=True, minRows=1, className="desk-note")
    buttons = [dmc.Button(action_label(a, lang), id={"type": "enf-desk-act", "action": a, **key},
                          n_clicks=0, size="sm", variant="light" if a == "note" else "filled",
                          color="red" if a in ("drop", "clear") else "blue",
                          className=f"desk-act act-{a}") for a in allowed]
    return dmc.Stack([*([amount] if amount is not None else []), note,
                      dmc.Group(buttons, gap="xs")], gap="xs", className="desk-actions")


def _trail(rows: list[dict], lang: str):
    cols = ("trail_time", "trail_actor", "trail_action", "trail_stage", "trail_note")
    return html.Table(className="trail-table", id="enf-desk-trail", children=[
        html.Thead(html.Tr([html.Th(t(c, lang)) for c in cols])),
        html.Tbody([html.Tr([html.Td(r["time"]),  # a person by their user name, as written
                             html.Td(r["actor"], className="verbatim" if r["person"] else ""),
                             html.Td(r["action"]),
                             html.Td(r["stage"]),
                             html.Td([r["details"], " " if r["details"] and r["note"] else "",
                                      html.Span(r["note"], className="verbatim")])])
                    for r in rows])])
