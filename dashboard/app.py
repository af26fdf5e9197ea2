"""The Dash app: `create_app(twin)` builds it; pages live in `dashboard.pages`.

Everything is served by the app itself (Dash and dash-deck bundles, our CSS): no CDN, no tiles.
The UI language is the `lang` query parameter (zh default, en), kept by every link.
"""

from __future__ import annotations

import os
from pathlib import Path

import dash
import dash_mantine_components as dmc
from dash import Dash, Input, Output, dcc, html

from dashboard.context import set_context


def page_modules() -> list:
    """Every module in `dashboard.pages` that defines PATH and layout (found, not listed)."""
    import importlib
    import pkgutil

    import dashboard.pages as pages

    found = [importlib.import_module(f"dashboard.pages.{m.name}")
             for m in pkgutil.iter_modules(pages.__path__)]
    return sorted((m for m in found if hasattr(m, "PATH") and hasattr(m, "layout")),
                  key=lambda m: m.PATH)


def page_inputs(modules: list) -> dict:
    """The input contracts (`INPUTS`) of every page, merged; an input declared twice fails."""
    merged: dict = {}
    for module in modules:
        for name, check in getattr(module, "INPUTS", {}).items():
            if name in merged:
                raise ValueError(f"{module.__name__}: the input {name} is declared by another "
                                 f"page too: component ids must be unique")
            merged[name] = check
    return merged


_PAGE_CALLBACKS: tuple[dict, list, list] | None = None


def _share_page_callbacks() -> None:
    """Give every app in the process the pages' `@callback`s: Dash moves them from its global
    registry into the first app that serves a request, which would leave a second app
    (tests, screenshots) without any."""
    global _PAGE_CALLBACKS
    from dash import _callback

    if _PAGE_CALLBACKS is None:  # the clientside functions too (inline scripts)
        _PAGE_CALLBACKS = (dict(_callback.GLOBAL_CALLBACK_MAP), list(_callback.GLOBAL_CALLBACK_LIST),
                           list(_callback.GLOBAL_INLINE_SCRIPTS))
    _callback.GLOBAL_CALLBACK_MAP.update(_PAGE_CALLBACKS[0])
    _callback.GLOBAL_CALLBACK_LIST[:] = _PAGE_CALLBACKS[1]
    _callback.GLOBAL_INLINE_SCRIPTS[:] = _PAGE_CALLBACKS[2]


def _media_routes(server, bus) -> None:
    """Case photos (`dashboard.media`), served to the users who may see their case."""
    from dashboard import media
    from dashboard.policy import can_see_case
    from dashboard.session import current_user
    from layers.loop.cases import CaseStore

    def can_see(case_id: str) -> bool | None:
        user = current_user()
        case = CaseStore(bus, None).get(case_id) if bus is not None else None
        if case is None:
            return None
        return user is not None and can_see_case(user, case)

    media.register_routes(server, can_see)


def _basemap_route(server, twin) -> None:
    """GET the basemap (`dashboard.maps.basemap_geojson`) to a logged-in user (the guard); kept
    by the browser for a year when the URL names the current version, revalidated otherwise."""
    from flask import Response, request

    from dashboard import maps

    @server.route(maps.BASEMAP_PATH)
    def cityops_basemap():
        text, version = maps.basemap_geojson(twin)
        if request.if_none_match.contains(version):
            return Response(status=304)
        response = Response(text, mimetype="application/geo+json")
        response.set_etag(version)
        response.headers["Cache-Control"] = ("private, max-age=31536000, immutable"
                                             if request.args.get("v") == version
                                             else "private, no-cache")
        return response


def _report_routes(server, bus, twin) -> None:
    """The printable report of a scenario run (`dashboard.scenario_report`)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from dashboard import results, scenario_report

    def ran_text(ts: float | None) -> str:
        if not ts:
            return ""
        zone = ZoneInfo(getattr(twin, "timezone", None) or "UTC")
        return dt.datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M %Z")

    scenario_report.register_routes(server, lambda: results.store(bus), lambda: twin, ran_text)


def create_app(twin, bus=None, api_keys=(), title: str = "CityOps Twin",
               users: str | Path | None = None, tile_url: str | None = None,
               secure_cookies: bool | None = None, keys_file: str | Path | None = None,
               jobs=None, ogc_url: str | None = None) -> Dash:
    """A Dash app on `twin` (and the live `bus` when given), serving every asset locally.

    `users` is the users file (default $CITYOPS_USERS, else the demo users in data/users.yaml);
    `secure_cookies` marks the session cookie Secure (default $CITYOPS_SECURE_COOKIES): turn it
    on when the dashboard is served over HTTPS. `api_keys` are the Open311 keys; `keys_file`
    holds the data routes' keys (default $CITYOPS_API_KEYS, else $CITYOPS_HOME/api_keys.yaml).
    `jobs` runs the background callbacks (default: diskcache in this process's children;
    `dashboard.background.celery_manager(bus)` for a fleet). The OGC API is mounted under /ogc/
    (`ogc_url`: its address as clients see it, see `dashboard.ogc.server.mount`).
    """
    set_context(twin, bus)
    from dashboard import background, maps

    maps.configure(tile_url or os.environ.get("CITYOPS_TILE_URL") or None)
    app = Dash(__name__, use_pages=True, pages_folder="", title=title,
               serve_locally=True, suppress_callback_exceptions=True,
               background_callback_manager=jobs or background.manager(),
               assets_folder=str(Path(__file__).parent / "assets"))
    modules = page_modules()
    for module in modules:
        dash.register_page(module.__name__, path=module.PATH, layout=module.layout,
                           title=title)
    app.cityops_inputs = page_inputs(modules)
    _share_page_callbacks()
    from dashboard import auth, enforce_api, event_api, web_api
    from dashboard.apikeys import KeyRing
    from dashboard.session import KEYS

    auth.install(app, users, bus=bus, secure_cookies=secure_cookies)
    app.server.extensions[KEYS] = KeyRing(keys_file)
    if bus is not None:
        web_api.register_routes(app.server, bus, twin, set(api_keys))
        enforce_api.register(app.server, bus, tz=twin.timezone)
        event_api.register(app.server, bus, twin)
    _media_routes(app.server, bus)
    _basemap_route(app.server, twin)
    _report_routes(app.server, bus, twin)
    web_api.register_fallbacks(app.server)
    event_api.register_fallbacks(app.server)
    from dashboard.ogc.server import mount

    mount(app.server, twin, bus, url=ogc_url)
    app.layout = dmc.MantineProvider(html.Div([dcc.Location(id="app-url"), dcc.Store(id="app-lang"),
                                               dash.page_container],
                                              className="app"), forceColorScheme="dark")
    app.clientside_callback(  # the document's language follows the page's (screen readers)
        """function(search) {
            const lang = new URLSearchParams(search || '').get('lang') === 'en' ? 'en' : 'zh-CN';
            document.documentElement.lang = lang;
            return lang;
        }""", Output("app-lang", "data"), Input("app-url", "search"))
    app.index_string = app.index_string.replace("<html>", '<html lang="zh-CN">')
    return app
