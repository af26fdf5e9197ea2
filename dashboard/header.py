"""The top bar every page shows (title, navigation, user, language) and the refusal page.

Kept apart from the app and the pages so both can use it without importing each other.
"""

from __future__ import annotations

import dash_mantine_components as dmc
from dash import dcc, html

from dashboard.i18n import add_labels, lang_of, other, t
from dashboard.policy import can_open, home_page
from dashboard.session import current_user

LOGIN_PATH = "/login"

add_labels({
    "logout": {"zh": "退出", "en": "Sign out"},
    "forbidden": {"zh": "您的角色无权查看此页面", "en": "Your role may not open this page"},
    "go_home": {"zh": "返回我的页面", "en": "Go to my page"},
    "role_admin": {"zh": "管理员", "en": "Admin"},
    "role_commander": {"zh": "指挥长", "en": "Commander"},
    "role_grid_manager": {"zh": "网格员", "en": "Grid manager"},
    "role_planner": {"zh": "规划人员", "en": "Planner"},
    "role_supervisor": {"zh": "执法监督员", "en": "Supervisor"},
    "role_officer": {"zh": "执法人员", "en": "Law-enforcement officer"},
    "nav_enforcement": {"zh": "执法监督", "en": "Enforcement"},
    "nav_patrol": {"zh": "巡检", "en": "Inspection"},
})


def header(lang: str, path: str) -> html.Header:
    """The top bar: title, navigation and the language switch (all labels translated)."""
    lang = lang_of(lang)  # it goes into every link
    user = current_user()  # None outside a request: every link
    links = [("nav_command", "/"), ("nav_grid", "/grid"), ("nav_cases", "/cases"),
             ("nav_scenarios", "/scenarios"), ("nav_enforcement", "/enforcement"),
             ("nav_patrol", "/patrol")]
    return html.Header(className="topbar", children=[
        html.H1(t("app_title", lang), id="app-title"),
        html.Nav([dcc.Link(t(key, lang), href=f"{href}?lang={lang}",
                           className="active" if href == path else "")
                  for key, href in links if user is None or can_open(user, href)]),
        *user_badge(user, lang),
        dcc.Link(html.Span(t("language", lang), lang=other(lang)), id="lang-switch",
                 href=f"{path}?lang={other(lang)}", className="lang-switch"),
    ])


def forbidden(lang: str, user) -> html.Div:
    """What a page shows a user whose role may not open it (the server also refuses its data)."""
    lang = lang_of(lang)
    home = home_page(user) if user is not None else LOGIN_PATH
    return html.Div(className="page forbidden", children=[
        dmc.Alert(t("forbidden", lang), color="red", id="forbidden"),
        dcc.Link(t("go_home", lang), href=f"{home}?lang={lang}", refresh=True)])


def user_badge(user, lang: str) -> list:
    """The header's user name, role and sign-out link (nothing when nobody is logged in)."""
    if user is None:
        return []
    return [html.Span([user.name, " · ", t(f"role_{user.role}", lang)], id="user-name",
                      className="user-name"),
            html.A(t("logout", lang), href=f"/logout?lang={lang}", id="logout",
                   className="logout")]
