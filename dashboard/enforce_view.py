"""What the Enforcement page (执法监督) shows, as pure functions: case rows with their stage
deadlines, the published figures, on-time rates per department and stage, and the flag action.

Every function takes the user: a role that may not see enforcement cases gets nothing, an officer
their own department's cases only (`policy.can_see_enforcement_case`), and a flag is refused
unless `policy.can_flag`. The officer's case desk is `dashboard.enforce_desk`.
"""

from __future__ import annotations

from dashboard.i18n import add_labels, t
from dashboard.policy import (
    User,
    can_flag,
    can_see_enforcement_case,
    may_flag,
    may_move_enforcement,
)
from layers.loop import enforcement_stats as stats
from layers.loop.procedure import EnforcementCase, EnforcementError, Procedure
from twin.settings import city_time

add_labels({
    "enf_cases": {"zh": "执法案件", "en": "Enforcement cases"},
    "enf_none": {"zh": "暂无执法案件", "en": "No enforcement cases"},
    "enf_figures": {"zh": "公开统计", "en": "Published figures"},
    "enf_on_time": {"zh": "各部门各环节按时率", "en": "On time per department and stage"},
    "enf_flag": {"zh": "标记复查", "en": "Flag for review"},
    "enf_flag_note": {"zh": "复查原因", "en": "What to review"},
    "enf_flagged": {"zh": "已标记复查", "en": "Flagged for review"},
    "enf_no_flag": {"zh": "您的角色不能标记复查", "en": "Your role may not flag cases"},
    "enf_pick": {"zh": "选择案件", "en": "Pick a case"},
    "col_target": {"zh": "检查对象", "en": "Target"},
    "col_stage": {"zh": "环节", "en": "Stage"},
    "col_stage_deadline": {"zh": "环节期限", "en": "Stage deadline"},
    "col_fine": {"zh": "罚款/已缴(元)", "en": "Fine / paid (yuan)"},
    "col_pay": {"zh": "扫码缴款", "en": "Scan to pay"},
    "col_department": {"zh": "部门", "en": "Department"},
    "col_rate": {"zh": "按时率", "en": "On time"},
    "col_judged": {"zh": "已评环节", "en": "Judged"},
    "fig_cases": {"zh": "案件", "en": "Cases"},
    "fig_open": {"zh": "在办", "en": "Open"},
    "fig_overdue": {"zh": "超期", "en": "Overdue"},
    "fig_flagged": {"zh": "标记复查", "en": "Flagged"},
    "fig_on_site": {"zh": "现场扫码缴款(笔/元)", "en": "Paid on the spot (count / yuan)"},
    "fig_collected": {"zh": "罚没收缴总额(元)", "en": "Collected in total (yuan)"},
})


def visible(cases: list[EnforcementCase], user: User | None) -> list[EnforcementCase]:
    """Every department's cases for those who may see enforcement (an officer's own
    department's), none for anyone else."""
    return [c for c in cases if can_see_enforcement_case(user, c)]


def shows_flag(user: User | None) -> bool:
    """Whether the page shows the flag form: to all but officers, who work cases and may not
    flag (commanders see it and are told they may not)."""
    return may_flag(user) or not may_move_enforcement(user)


def case_rows(cases: list[EnforcementCase], procedure: Procedure, now: float, lang: str,
              tz: str | None = None, names: dict[str, str] | None = None) -> list[dict]:
    """One row per case: id, department, target, stage (named), its last day (city time),
    overdue, fine and paid (yuan), flagged, and the payment request while payment is due."""
    rows = []
    for c in cases:
        # a deadline is the end of its last day: show that day
        deadline = None if c.deadline is None else city_time(c.deadline - 1, tz).strftime(
            "%Y-%m-%d")
        fine = "-" if c.amount_fen is None else f"{c.amount_fen / 100:.2f}"
        rows.append({"id": c.id, "department": (names or {}).get(c.department, c.department), "target": c.target_name,
                     "stage": procedure.name(c.stage, lang), "deadline": deadline or "-",
                     "overdue": c.is_open and c.overdue(now), "flagged": c.flagged,
                     "fine": f"{fine} / {c.paid_fen / 100:.2f}",
                     "payment": c.payment if c.stage == "payment" else None})
    return rows


def figures(cases: list[EnforcementCase], now: float, lang: str) -> list[tuple[str, str]]:
    """(label, value) of the published figures."""
    s = stats.summary(cases, now)
    return [(t("fig_cases", lang), str(s["cases"])), (t("fig_open", lang), str(s["open"])),
            (t("fig_overdue", lang), str(s["overdue"])),
            (t("fig_flagged", lang), str(s["flagged"])),
            (t("fig_on_site", lang), f"{s['on_site_payments']} / {s['on_site_yuan']:.2f}"),
            (t("fig_collected", lang), f"{s['collected_yuan']:.2f}")]


def on_time_rows(cases: list[EnforcementCase], procedure: Procedure, now: float,
                 lang: str, names: dict[str, str] | None = None) -> list[dict]:
    return [{**r, "department": (names or {}).get(r["department"], r["department"]),
             "stage": procedure.name(r["stage"], lang), "rate": f"{r['rate']:.0%}"}
            for r in stats.on_time(cases, now)]


def flag(store, user: User | None, case_id: str | None, note: str | None, lang: str) -> str:
    """Flag a case as `user`; the message to show (refusals are messages too)."""
    case = store.get(case_id) if case_id else None
    if case is None or not can_see_enforcement_case(user, case):
        return t("enf_pick", lang)
    if not can_flag(user, case):
        return t("enf_no_flag", lang)
    try:
        store.flag(case.id, user.username, note or "")
    except EnforcementError as exc:
        return str(exc)
    return f"{t('enf_flagged', lang)}: {case.id}"
