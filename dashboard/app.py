"""The Dash app: `create_app(twin)` builds it; pages live in `dashboard.pages`.

Everything is served by the app itself (Dash and dash-deck bundles, our CSS): no CDN, no tiles.
The UI language is the `lang` query parameter (zh default, en), kept by every link.
"""

from __future__ import annotations

import dash
import dash_mantine_components as dmc
from dash import Dash, dcc, html

from dashboard.context import set_context
from dashboard.i18n import other, t


def header(lang: str, path: str) -> html.Header:
    """The top bar: title, navigation and the language switch (all labels translated)."""
    links = [("nav_command", "/"), ("nav_grid", "/grid")]
    return html.Header(className="topbar", children=[
        html.H1(t("app_title", lang), id="app-title"),
        html.Nav([dcc.Link(t(key, lang), href=f"{href}?lang={lang}",
                           className="active" if href == path else "")
                  for key, href in links]),
        dcc.Link(t("language", lang), id="lang-switch", href=f"{path}?lang={other(lang)}",
                 className="lang-switch"),
    ])


def create_app(twin, title: str = "CityOps Twin") -> Dash:
    """A Dash app on `twin`, serving every asset locally."""
    set_context(twin)
    app = Dash(__name__, use_pages=True, pages_folder="", title=title,
               serve_locally=True, suppress_callback_exceptions=True,
               assets_folder=str(__import__("pathlib").Path(__file__).parent / "assets"))
    from dashboard.pages import command, grid

    for module in (command, grid):
        dash.register_page(module.__name__, path=module.PATH, layout=module.layout,
                           title=title)
    app.layout = dmc.MantineProvider(html.Div([dash.page_container], className="app"),
                                     forceColorScheme="dark")
    return app
