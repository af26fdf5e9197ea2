"""What the Cases and Grid pages show of the closed loop, as plain data: pure, unit-tested.

Every function that returns case data takes the user and keeps only what `auth.can_see_case`
allows, so a page cannot show another grid's case by forgetting a check; `act` refuses what
`auth.can_act` does not allow. The pages only turn these rows into components.
"""

from __future__ import annotations

import re

from dashboard.i18n import LABELS, add_labels, t
from dashboard.policy import User, can_act, can_see_case, can_see_grid, visible_grids
from dashboard.session import require
from layers.loop import sla as sla_mod
from layers.loop.cases import OPEN, CaseStore
from layers.loop.records import Case
from twin.settings import city_time

UI_ACTIONS = ("accept", "arrive", "resolve")

add_labels({
    "status_new": {"zh": "新建", "en": "New"},
    "status_dispatched": {"zh": "已派单", "en": "Dispatched"},
    "status_accepted": {"zh": "已接单", "en": "Accepted"},
    "status_on_scene": {"zh": "已到场", "en": "On scene"},
    "status_resolved": {"zh": "已办结", "en": "Resolved"},
    "status_closed": {"zh": "已结案", "en": "Closed"},
    "status_escalated": {"zh": "已升级", "en": "Escalated"},
    "status_reopened": {"zh": "已重启", "en": "Reopened"},
    "action_open": {"zh": "立案", "en": "Opened"},
    "action_merge": {"zh": "合并上报", "en": "Report merged"},
    "action_dispatch": {"zh": "派单", "en": "Dispatch"},
    "action_accept": {"zh": "接单", "en": "Accept"},
    "action_arrive": {"zh": "到场", "en": "On scene"},
    "action_resolve": {"zh": "办结", "en": "Resolve"},
    "action_close": {"zh": "结案", "en": "Close"},
    "action_reopen": {"zh": "重启", "en": "Reopen"},
    "action_escalate": {"zh": "升级", "en": "Escalate"},
    "action_note": {"zh": "备注", "en": "Note"},
    "milestone_accept": {"zh": "接单", "en": "accept"},
    "milestone_arrive": {"zh": "到场", "en": "arrive"},
    "milestone_resolve": {"zh": "办结", "en": "resolve"},
    "note_escalated": {"zh": "{}超时 {}，升级至{}（{}）", "en":
                       "{} overdue by {}; escalated to the {} ({})"},
    "note_merged": {"zh": "新的上报并入本案（{} 条群众诉求）", "en":
                    "A new report joined the case ({} citizen reports)"},
    "note_dispatched": {"zh": "按类别和位置派至责任部门与网格", "en":
                        "Sent to the responsible departments and grid"},
    "level_1": {"zh": "街镇", "en": "street/town"},
    "level_2": {"zh": "区指挥中心", "en": "district command"},
    "owner_command": {"zh": "区指挥中心", "en": "district command centre"},
    "actor_rule": {"zh": "预警规则 {}", "en": "rule {}"},
    "actor_system": {"zh": "系统", "en": "system"},
    "actor_system_sla": {"zh": "时限监督", "en": "SLA watch"},
    "actor_system_demo_responder": {"zh": "演示处置人员", "en": "demo responder"},
    "case_overdue_by": {"zh": "超时 {}", "en": "overdue {}"},
    "case_left": {"zh": "剩余 {}", "en": "{} left"},
    "case_no_deadline": {"zh": "—", "en": "—"},
    "score_accepted": {"zh": "按时接单率", "en": "Accepted on time"},
    "score_resolved": {"zh": "按时办结率", "en": "Resolved on time"},
    "score_received": {"zh": "受理数", "en": "Received"},
})


def case_store() -> CaseStore | None:
    """The running app's case store (None when the dashboard runs without a bus)."""
    from dashboard.context import context

    bus = context().bus
    return None if bus is None else CaseStore(bus, None)


class NoteRequired(ValueError):
    """A resolution without a note; the message says what to write."""


class PhotoRefused(NoteRequired):
    """A resolution's photo that cannot be stored (`reason`: a `dashboard.media` code)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def refusal_text(exc: Exception, lang: str) -> str:
    """What the page says when an action is refused for its input, in the UI language."""
    if isinstance(exc, PhotoRefused):
        return t(f"photo_{exc.reason}" if f"photo_{exc.reason}" in _PHOTO_KEYS
                 else "photo_bad_upload", lang)
    if isinstance(exc, NoteRequired):
        return t("note_required", lang)
    return str(exc)


# -- reading -----------------------------------------------------------------------------------
def visible_cases(store: CaseStore, user: User | None, status: str | None = None,
                  department: str | None = None, grid: int | None = None,
                  category: str | None = None, limit: int = 300) -> list[Case]:
    """The cases a user may see matching every filter given, newest first."""
    grids = visible_grids(user)
    if grids is not None:
        wanted = sorted(grids if grid is None else grids & {int(grid)})
        cases = [c for g in wanted for c in store.list(status=status, department=department,
                                                       grid=g, limit=limit)]
    else:
        cases = store.list(status=status, department=department, grid=grid, limit=limit)
    keep = [c for c in cases if can_see_case(user, c)
            and (category is None or c.category == category)]
    return sorted(keep, key=lambda c: (-c.created, c.id))[:limit]


def visible_case(store: CaseStore, user: User | None, case_id: str | None) -> Case | None:
    """One case by id if the user may see it; None when none is asked for; 403 otherwise (also
    for an unknown id, so the answer never tells whether another grid's case exists)."""
    if not case_id:
        return None
    case = store.get(case_id)
    require(case is not None and can_see_case(user, case), f"case {case_id}")
    return case


def act(store: CaseStore, user: User | None, case_id: str, action: str,
        note: str = "", photo: str | None = None) -> Case:
    """Do a case action as the logged-in user (refused with 403 unless `can_act`); a resolution
    may carry a photo (a browser upload, stored by `dashboard.media`, named in the record)."""
    from dashboard import media

    require(action in UI_ACTIONS or action == "note", f"action {action!r}")
    case = visible_case(store, user, case_id)
    require(case is not None and can_act(user, case, action), f"{action} on case {case_id}")
    note = (note or "").strip()
    if action == "resolve" and not note:
        raise NoteRequired(f"resolving case {case_id} needs a note: say what was done")
    context = None
    if photo and action == "resolve":
        try:
            context = {"photos": [media.save(case_id, media.from_upload(photo))]}
        except media.MediaError as exc:
            raise PhotoRefused(str(exc), exc.reason) from exc
    return store.act(case_id, action, actor=user.username, note=note, context=context)


def actions_for(user: User | None, case: Case) -> list[str]:
    """The UI actions (accept, on scene, resolve) the user may do on the case now."""
    return [a for a in UI_ACTIONS if can_act(user, case, a)]


# -- formatting ------------------------------------------------------------------------------------
UNITS = {"zh": ("分钟", "小时", "天"), "en": ("min", "h", "d")}


def duration_text(seconds: float, lang: str = "en") -> str:
    """'45 min', '3 h 05 min', '2 d 4 h' (zh: '45 分钟', '3 小时 05 分钟', '2 天 4 小时')."""
    m_, h_, d_ = UNITS["zh" if lang == "zh" else "en"]
    minutes = int(abs(seconds) // 60)
    if minutes < 60:
        return f"{minutes} {m_}"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} {h_} {minutes:02d} {m_}"
    days, hours = divmod(hours, 24)
    return f"{days} {d_} {hours} {h_}"


def countdown(case: Case, now: float, lang: str = "zh") -> dict:
    """Time left to the case's current deadline: seconds (negative = overdue), text, overdue."""
    deadline = case.deadline
    if deadline is None:
        return {"seconds": None, "text": t("case_no_deadline", lang), "overdue": False,
                "milestone": None}
    left = float(deadline) - now
    key = "case_overdue_by" if left < 0 else "case_left"
    return {"seconds": left, "text": t(key, lang).format(duration_text(left, lang)),
            "overdue": left < 0, "milestone": case.deadline_kind}


def clock_text(ts: float | None, tz: str | None = None) -> str:
    """Epoch seconds as the city's local time 'MM-DD HH:MM' (tz: the twin's, by default)."""
    from dashboard.context import city_timezone

    return "" if ts is None else city_time(ts, tz or city_timezone()).strftime("%m-%d %H:%M")


def department_names(twin, lang: str) -> dict[str, str]:
    """Department id -> its name in `lang`."""
    deps = twin.departments
    column = "name" if lang == "zh" or "name_en" not in deps else "name_en"
    if column not in deps:
        return {str(d): str(d) for d in deps["id"]}
    return {str(i): str(n) for i, n in zip(deps["id"], deps[column], strict=True)}


def category_label(category: str, lang: str) -> str:
    return sla_mod.default().label(category, lang)


_CJK = re.compile(r"[\u3400-\u9fff]")


def title_text(case: Case, lang: str) -> str:
    """A case's title in the UI language: rule titles are written in Chinese, so the English
    UI names the case by its category instead."""
    title = case.title or ""
    if lang != "zh" and (not title or _CJK.search(title)):
        return category_label(case.category, lang)
    return title or case.id


def queue_rows(cases: list[Case], now: float, lang: str, departments: dict[str, str]) -> list[dict]:
    """Rows of the case queue: overdue first, then by the time left (soonest first)."""
    rows = []
    for c in cases:
        clock = countdown(c, now, lang)
        place = c.place
        rows.append({"id": c.id, "title": title_text(c, lang),
                     "category": category_label(c.category, lang),
                     "status": c.status, "status_text": t(f"status_{c.status}", lang),
                     "severity": int(c.severity), "grid": place.grid,
                     "grid_id": place.grid_id or "", "unit": place.unit_name or "",
                     "departments": ", ".join(departments.get(d, d) for d in c.departments),
                     "created": clock_text(c.created), "countdown": clock["text"],
                     "seconds": clock["seconds"], "overdue": clock["overdue"]})
    return sorted(rows, key=lambda r: (not r["overdue"], r["seconds"] is None,
                                       r["seconds"] or 0.0, r["id"]))


def trail_rows(records: list[dict], lang: str) -> list[dict]:
    """The audit trail of a case: actor, time, action and note of every record, oldest first."""
    rows = []
    for rec in records:
        data = rec.get("data") or {}
        action = data.get("action", "?")
        key = f"action_{action}"
        said = record_note(data, lang)
        rows.append({"seq": rec["seq"], "case": rec.get("subject", ""),
                     "actor": actor_text(rec["actor"], lang),
                     "time": clock_text(rec["ts"]),
                     "action": t(key, lang) if key in _ACTION_KEYS else action,
                     "note": said if said is not None else str(data.get("note", "")),
                     "verbatim": said is None, "photos": list(data.get("photos", []))})
    return rows


def record_note(data: dict, lang: str) -> str | None:
    """The note of a system record, written from its data in the UI language (an escalation's
    milestone and lateness, a merged report); None for a person's own note (shown as typed)."""
    action = data.get("action")
    if action == "escalate":
        milestone = data.get("milestone")
        what = t(f"milestone_{milestone}", lang) if milestone in ("accept", "arrive",
                                                                   "resolve") else ""
        owner = data.get("owner") or ""
        owner = t("owner_command", lang) if owner == "command" else owner
        return t("note_escalated", lang).format(
            what, duration_text(float(data.get("overdue_s") or 0), lang),
            t(f"level_{int(data.get('level', 1))}", lang), owner)
    if action == "merge":
        return t("note_merged", lang).format(int(data.get("reports") or 0))
    if action == "dispatch":
        return t("note_dispatched", lang)
    if action == "open":
        return ""
    return None


def actor_text(actor: str, lang: str) -> str:
    """Who did it: people by their user name, the system's parts by what they are."""
    if actor.startswith("rule:"):
        return t("actor_rule", lang).format(actor[5:])
    key = f"actor_{actor.replace(':', '_').replace('-', '_')}"
    return t(key, lang) if key in LABELS else actor


_ACTION_KEYS = {f"action_{a}" for a in ("open", "merge", "dispatch", *UI_ACTIONS, "close",
                                         "reopen", "escalate", "note")}


# -- components shared by the Cases and Grid pages ----------------------------------------------
add_labels({
    "col_id": {"zh": "编号", "en": "Case"},
    "col_title": {"zh": "事件", "en": "Title"},
    "col_category": {"zh": "类别", "en": "Category"},
    "col_status": {"zh": "状态", "en": "Status"},
    "col_grid": {"zh": "网格", "en": "Grid"},
    "col_departments": {"zh": "责任部门", "en": "Departments"},
    "col_deadline": {"zh": "时限", "en": "SLA"},
    "trail_time": {"zh": "时间", "en": "Time"},
    "trail_actor": {"zh": "操作人", "en": "Actor"},
    "trail_action": {"zh": "操作", "en": "Action"},
    "trail_note": {"zh": "说明", "en": "Note"},
    "note_placeholder": {"zh": "处置说明（办结时必填）", "en": "Note (needed to resolve)"},
    "cases_none": {"zh": "暂无案件", "en": "No cases"},
    "cases_no_bus": {"zh": "未连接事件总线：案件需要 Redis（cityops serve/demo）",
               "en": "No event bus: cases need Redis (cityops serve/demo)"},
    "case_done": {"zh": "已完成：{}", "en": "Done: {}"},
    "score_commanders_only": {"zh": "部门考核仅对指挥长和管理员开放",
                              "en": "Department scores are for commanders and admins"},
    "case_no_actions": {"zh": "当前无可执行操作", "en": "No action available to you now"},
    "photo_upload": {"zh": "办结照片（可选，JPEG/PNG/WebP，≤5 MB）：点击或拖入", "en":
                     "Photo of the result (optional, JPEG/PNG/WebP, up to 5 MB): tap or drop"},
    "photo_chosen": {"zh": "已选照片：{}（办结时上传）", "en": "Photo chosen: {} (sent on resolve)"},
    "photo_refused_big": {"zh": "照片“{name}”有 {size} MB，超过 {mb} MB 上限，未添加：请压缩或换一张",
                      "en": "The photo \"{name}\" is {size} MB, over the {mb} MB limit, and was "
                            "not added: make it smaller or choose another"},
    "note_required": {"zh": "办结需填写处置说明：写明做了什么", "en":
                      "Resolving needs a note: say what was done"},
})
_PHOTO_KEYS = {"photo_too_big", "photo_not_image", "photo_bad_upload", "photo_bad_case"}
add_labels({
    "photo_too_big": {"zh": "照片不能超过 5 MB", "en": "A photo may be at most 5 MB"},
    "photo_not_image": {"zh": "只接受 JPEG、PNG 或 WebP 照片", "en":
                        "Only JPEG, PNG or WebP photos are accepted"},
    "photo_bad_upload": {"zh": "照片上传不完整，请重新选择", "en":
                         "The photo did not arrive whole: choose it again"},
    "photo_bad_case": {"zh": "案件编号无效", "en": "Not a case id"},
})


def status_badge(status: str, lang: str, overdue: bool = False):
    import dash_mantine_components as dmc

    color = "red" if overdue else {"resolved": "green", "closed": "gray",
                                   "escalated": "orange"}.get(status, "blue")
    return dmc.Badge(t(f"status_{status}", lang), color=color, variant="light")


def queue_table(rows: list[dict], lang: str, row_type: str):
    """The case queue as a table; each row is clickable (id {'type': row_type, 'case': id})."""
    from dash import html

    if not rows:
        return html.P(t("cases_none", lang), className="muted", id=f"{row_type}-empty")
    cols = ("col_id", "col_title", "col_status", "col_grid", "col_departments", "col_deadline")
    head = html.Thead(html.Tr([html.Th(t(c, lang)) for c in cols]))
    body = html.Tbody([html.Tr(
        id={"type": row_type, "case": r["id"]}, n_clicks=0,
        className="case-row" + (" overdue" if r["overdue"] else ""),
        children=[html.Td(r["id"]), html.Td([r["title"], *([html.Div(r["category"], className="muted")]
                                                       if r["category"] != r["title"] else [])]),
                  html.Td(status_badge(r["status"], lang, r["overdue"])), html.Td(r["grid_id"]),
                  html.Td(r["departments"]), html.Td(r["countdown"], className="countdown")])
        for r in rows])
    return html.Table([head, body], className="case-table")


def action_panel(case: Case, user: User | None, lang: str, prefix: str):
    """Buttons for the actions the user may do now, and the note; none when they may not act."""
    import dash_mantine_components as dmc

    allowed = actions_for(user, case)
    if not allowed:
        return dmc.Text(t("case_no_actions", lang), c="dimmed", size="sm", className="no-actions")
    key = {"case": case.id}
    buttons = [dmc.Button(t(f"action_{a}", lang), id={"type": f"{prefix}-act", "action": a, **key},
                          n_clicks=0, size="sm", color="red" if a == "resolve" else "yellow",
                          autoContrast=True,
                          variant="filled" if a == "accept" else "light", className=f"act-{a}")
               for a in allowed]
    from dash import dcc, html

    from dashboard import media

    photo = dcc.Upload(id={"type": f"{prefix}-photo", **key}, accept="image/jpeg,image/png,image/webp",
                       max_size=media.MAX_BYTES, className="photo-upload",
                       children=html.Div(photo_label(None, lang), **too_big_attrs(lang))
                       ) if "resolve" in allowed else None
    refused = html.Div(className="photo-refused", role="alert", **{"aria-live": "assertive"})
    return dmc.Stack([
        dmc.Textarea(id={"type": f"{prefix}-note", **key}, placeholder=t("note_placeholder", lang),
                     autosize=True, minRows=1, className="case-note",
                     **{"aria-label": t("note_placeholder", lang)}),
        photo, refused if photo is not None else None, dmc.Group(buttons, gap="xs")],
        gap="xs", className="case-actions")


def too_big_attrs(lang: str) -> dict:
    """What assets/upload-label.js needs to refuse a photo over the limit in the browser (the
    upload box drops such a file without a word): the limit and the refusal, in `lang`."""
    from dashboard import media

    return {"data-max-bytes": str(media.MAX_BYTES),
            "data-too-big": t("photo_refused_big", lang).replace("{mb}",
                                                                  str(media.MAX_BYTES // 2**20))}


def trail_table(rows: list[dict], lang: str):
    """The audit trail of a case as a table (time, actor, action, note)."""
    from dash import html

    cols = ("trail_time", "trail_actor", "trail_action", "trail_note")
    return html.Table(className="trail-table", children=[
        html.Thead(html.Tr([html.Th(t(c, lang)) for c in cols])),
        html.Tbody([html.Tr([html.Td(r["time"]), html.Td(r["actor"]), html.Td(r["action"]),
                             html.Td([r["note"], *_photos(r)],
                                     className="verbatim" if r["verbatim"] else "")])
                    for r in rows])])


def _photos(row: dict) -> list:
    """Thumbnails of a record's photos, each a link to the photo (served to who may see it)."""
    from dash import html

    from dashboard import media

    return [html.A(html.Img(src=media.url(row["case"], name), alt=name[:8], className="thumb"),
                   href=media.url(row["case"], name), target="_blank")
            for name in row.get("photos", [])]


def clicked_action(triggered_id, triggered_value) -> tuple[str, str] | None:
    """(case id, action) of a pressed action button; None when a re-render fired the callback."""
    if not isinstance(triggered_id, dict) or not triggered_value:
        return None
    return triggered_id.get("case"), triggered_id.get("action")


def press(triggered_id, triggered_value, note_states: list[dict],
          user: User | None, photo_states: list[dict] | None = None) -> tuple[str, str] | None:
    """Do the case action a pressed button asks for, with the note typed for its case.

    Returns (case id, action), or None when a re-render fired the callback; raises CaseError
    or NoteRequired when the action cannot be done (403 when the user may not do it).
    """
    pressed = clicked_action(triggered_id, triggered_value)
    if pressed is None:
        return None
    case_id, action = pressed
    act(case_store(), user, case_id, action, note_for(note_states, case_id),
        note_for(photo_states or [], case_id) or None)
    return pressed


def act_and_report(triggered_id, triggered_value, note_states: list[dict], user: User | None,
                   version: int | None, lang: str, photo_states: list[dict] | None = None) -> tuple:
    """What a page's action callback returns: (new version, feedback) after pressing a case
    action button, (no_update, an error) when it cannot be done, no_updates for a re-render."""
    import dash_mantine_components as dmc
    from dash import no_update

    from layers.loop.cases import CaseError

    try:
        pressed = press(triggered_id, triggered_value, note_states, user, photo_states)
    except (CaseError, NoteRequired) as exc:
        return no_update, dmc.Alert(refusal_text(exc, lang), color="red", className="act-error")
    if pressed is None:
        return no_update, no_update
    case_id, action = pressed
    return (version or 0) + 1, dmc.Text(t("case_done", lang).format(
        f"{case_id} {t(f'action_{action}', lang)}"), c="green", size="sm")


def input_pending(tick_fired: bool, notes: list | None, photos: list | None) -> bool:
    """A periodic refresh must wait: the user has typed a note or chosen a photo in the
    panel it would redraw (a redraw would throw them away)."""
    return tick_fired and any(bool(v and str(v).strip()) for v in [*(notes or []),
                                                                 *(photos or [])])


def photo_label(filename: str | None, lang: str) -> str:
    """What the photo box says: how to add a photo, or which one is chosen."""
    return t("photo_chosen", lang).format(filename) if filename else t("photo_upload", lang)


def note_for(states: list[dict], case_id: str) -> str:
    """The value given for a case (its note, its photo), from a pattern-matching State list
    (ids carry the case)."""
    for item in states or []:
        if isinstance(item.get("id"), dict) and item["id"].get("case") == case_id:
            return item.get("value") or ""
    return ""


def open_cases_of_grid(store: CaseStore, user: User | None, grid: int) -> list[Case]:
    """The grid's open cases the user may see (refused with 403 for another manager's grid)."""
    require(can_see_grid(user, grid), f"grid {grid}")
    return [c for c in visible_cases(store, user, grid=grid) if c.status in OPEN]


def restrict_options(options: list[dict], allowed: set[int] | frozenset[int] | None) -> list[dict]:
    """Dropdown options limited to the allowed values (all of them when `allowed` is None)."""
    return options if allowed is None else [o for o in options if int(o["value"]) in allowed]
