"""Login page: a plain HTML form posted to the server's /login route (see dashboard.auth).

The form works without any callback, so an anonymous browser needs nothing but this page; the
password is checked on the server, which sets the session cookie and redirects.
"""

from __future__ import annotations

import math
import time

import dash_mantine_components as dmc
from dash import dcc, html

from dashboard.context import city_timezone
from dashboard.i18n import add_labels, lang_of, other, t
from dashboard.policy import local_path
from twin.settings import city_time

PATH = "/login"

add_labels({
    "login_title": {"zh": "登录", "en": "Sign in"},
    "login_user": {"zh": "用户名", "en": "User name"},
    "login_password": {"zh": "密码", "en": "Password"},
    "login_submit": {"zh": "登录", "en": "Sign in"},
    "login_failed": {"zh": "用户名或密码错误", "en": "Wrong user name or password"},
    "login_locked": {"zh": "登录失败次数过多，已暂时锁定：请在 {} 分钟后（{}）再试",
                     "en": "Too many failed sign-ins: locked for now. Try again in {} min "
                           "(at {})"},
})


def message(error: str | None, wait: str | None, lang: str, now: float | None = None):
    """The refusal shown above the form: a wrong password, or a lock-out and when it ends."""
    if not error:
        return None
    if error != "locked":
        return dmc.Alert(t("login_failed", lang), color="red", id="login-error")
    seconds = int(wait) if isinstance(wait, str) and wait.isdigit() and len(wait) < 7 else 900
    until = city_time((time.time() if now is None else now) + seconds, city_timezone())
    return dmc.Alert(t("login_locked", lang).format(max(1, math.ceil(seconds / 60)),
                                                    until.strftime("%H:%M")),
                     color="red", id="login-error", className="login-locked")


def layout(lang: str = "zh", error: str | None = None, next: str | None = None,  # noqa: A002
           wait: str | None = None, **_query) -> html.Div:
    lang = lang_of(lang)
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
            message(error, wait, lang),
            html.Label(t("login_user", lang), htmlFor="login-username"),
            dcc.Input(id="login-username", name="username", type="text", className=field,
                       autoComplete="username", required=True),
            html.Label(t("login_password", lang), htmlFor="login-password"),
            dcc.Input(id="login-password", name="password", type="password", className=field,
                       autoComplete="current-password", required=True),
            dcc.Input(type="hidden", name="next", value=local_path(next) or ""),
            dcc.Input(type="hidden", name="lang", value=lang),
            html.Button(t("login_submit", lang), id="login-submit", type="submit",
                        className="login-submit"),
        ]),
    ])
