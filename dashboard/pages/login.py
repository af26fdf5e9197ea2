"""Login page: a plain HTML form posted to the server's /login route (see dashboard.auth).

The form works without any callback, so an anonymous browser needs nothing but this page; the
password is checked on the server, which sets the session cookie and redirects.
"""

from __future__ import annotations

import dash_mantine_components as dmc
from dash import dcc, html

from dashboard.i18n import add_labels, other, t

PATH = "/login"

add_labels({
    "login_title": {"zh": "登录", "en": "Sign in"},
    "login_user": {"zh": "用户名", "en": "User name"},
    "login_password": {"zh": "密码", "en": "Password"},
    "login_submit": {"zh": "登录", "en": "Sign in"},
    "login_failed": {"zh": "用户名或密码错误", "en": "Wrong user name or password"},
})


def layout(lang: str = "zh", error: str | None = None, next: str | None = None,  # noqa: A002
           **_query) -> html.Div:
    field = "login-field"
    return html.Div(className="page login", children=[
        html.Header(className="topbar", children=[
            html.H1(t("app_title", lang), id="app-title"),
            dcc.Link(html.Span(t("language", lang), lang=other(lang)), id="lang-switch",
                     className="lang-switch",
                     href=f"{PATH}?lang={other(lang)}", refresh=True)]),
        html.Form(method="post", action="/login", id="login-form", className="login-box",
                  children=[
            html.H2(t("login_title", lang)),
            dmc.Alert(t("login_failed", lang), color="red", id="login-error") if error else None,
            html.Label(t("login_user", lang), htmlFor="login-username"),
            dcc.Input(id="login-username", name="username", type="text", className=field,
                       autoComplete="username", required=True),
            html.Label(t("login_password", lang), htmlFor="login-password"),
            dcc.Input(id="login-password", name="password", type="password", className=field,
                       autoComplete="current-password", required=True),
            dcc.Input(type="hidden", name="next", value=next or ""),
            dcc.Input(type="hidden", name="lang", value=lang),
            html.Button(t("login_submit", lang), id="login-submit", type="submit",
                        className="login-submit"),
        ]),
    ])
