"""The Dash app: `create_app(twin)` builds it; pages live in `dashboard.pages`.

Everything is served by the app itself (Dash and dash-deck bundles, our CSS): no CDN, no tiles.
The UI language is the `lang` query parameter (zh default, en), kept by every link.
"""

from __future__ import annotations

from pathlib import Path

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


def page_modules() -> list:
    """Every module in `dashboard.pages` that defines PATH and layout (found, not listed)."""
    import importlib
    import pkgutil

    import dashboard.pages as pages

    found = [importlib.import_module(f"dashboard.pages.{m.name}")
             for m in pkgutil.iter_modules(pages.__path__)]
    return sorted((m for m in found if hasattr(m, "PATH") and hasattr(m, "layout")),
                  key=lambda m: m.PATH)


def create_app(twin, bus=None, api_keys=(), title: str = "CityOps Twin") -> Dash:
    """A Dash app on `twin` (and the live `bus` when given), serving every asset locally."""
    set_context(twin, bus)
    app = Dash(__name__, use_pages=True, pages_folder="", title=title,
               serve_locally=True, suppress_callback_exceptions=True,
               assets_folder=str(Path(__file__).parent / "assets"))
    for module in page_modules():
        dash.register_page(module.__name__, path=module.PATH, layout=module.layout,
                           title=title)
    if bus is not None:
        from dashboard.web_api import register_routes

        register_routes(app.server, bus, twin, set(api_keys))
    app.layout = dmc.MantineProvider(html.Div([dash.page_container], className="app"),
                                     forceColorScheme="dark")
    return app
