"""The OGC API under /ogc/ on the dashboard's Flask server: pygeoapi's API with our plugins.

Why pygeoapi's `API` object and a blueprint of ours rather than pygeoapi's own Flask app or
blueprint (`pygeoapi.flask_app`): that module reads ONE configuration from files named by
environment variables when it is imported and keeps it in globals, while a mount needs its own
(the twin's extent, the server's URL, our plugins bound to this twin and bus), and tests run
several. So `mount` builds `pygeoapi.api.API` from a config dict and routes the OGC paths to
pygeoapi's own API functions (landing page, conformance, OpenAPI, collections, items, queryables,
tiles, processes, jobs): the OGC behaviour (parameters, paging links, exceptions, formats) is
pygeoapi's. Being on the same server, the OGC API shares the dashboard's sessions and keys.

Who may read what (the pages' rules, `dashboard.policy`): every route needs a logged-in user or
an API key (`dashboard.apikeys`: `Authorization: Bearer KEY` or `X-API-Key`; a key stands for
its role and grids); live layers need a role that may open the wall or the Grid page, alerts and cases
one that may open the Cases page (grid managers: their grids' only, filtered in the providers),
processes and jobs one that may open the Scenarios page.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from http import HTTPStatus
from pathlib import Path

from flask import Blueprint, Flask, make_response, request
from werkzeug.exceptions import Unauthorized

from dashboard.ogc import state
from dashboard.policy import User, can_open
from layers.live import schema as S
from twin.dataset import REGISTRIES, TABLES

PREFIX = "/ogc"
LIMITS = {"default_items": 100, "max_items": 1000, "on_exceed": "error"}
FEATURES = "dashboard.ogc.features"


def _collection(title: str, description: str, bbox: list[float], providers: list[dict],
                keywords: list[str]) -> dict:
    return {"type": "collection", "title": title, "description": description,
            "keywords": keywords, "links": [],
            "extents": {"spatial": {"bbox": bbox,
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": providers}


def _feature(mount_id: str, cls: str, id_field: str, **options) -> dict:
    return {"type": "feature", "name": f"{FEATURES}.{cls}", "data": mount_id,
            "id_field": id_field, "options": options}


def live_collection(layer: str) -> str:
    return f"live-{layer}"


def config(mount: state.Mount, url: str) -> dict:
    """The pygeoapi configuration of a mount (collections, processes, tiles, limits, jobs)."""
    twin = mount.twin
    bbox = [round(float(v), 6) for v in mount.cells.total_bounds]
    res: dict[str, dict] = {
        "cells": _collection(f"{twin.name}: H3 cells", f"The twin's H3 cells (level "
                             f"{twin.resolution}) with their static variables",
                             bbox, [_feature(mount.id, "CellsProvider", "cell")],
                             ["h3", "cells"])}
    for name in REGISTRIES:
        if name not in TABLES:
            res[name] = _collection(f"{twin.name}: {name}", f"The {name} registry of the twin",
                                    bbox, [_feature(mount.id, "RegistryProvider", "id",
                                                    registry=name)], [name])
    if mount.bus is not None:
        for layer in S.LAYERS:
            tile = {"type": "tile", "name": "dashboard.ogc.tiles.LiveTileProvider",
                    "data": mount.id, "options": {"layer": layer, "zoom": {"min": 0, "max": 18},
                                                  "schemes": ["WebMercatorQuad"]},
                    "format": {"name": "mvt", "mimetype": "application/vnd.mapbox-vector-tile"}}
            res[live_collection(layer)] = _collection(
                f"live: {layer}", f"The live layer {layer}: each cell's current value per "
                f"window (value_5m, value_1h, value_24h); cells holding nothing are left out "
                f"unless all_cells=true", bbox,
                [_feature(mount.id, "LiveLayerProvider", "cell", layer=layer), tile],
                ["live", layer])
        res["alerts"] = _collection("open alerts", "Alerts whose case is open", bbox,
                                    [_feature(mount.id, "AlertsProvider", "id")], ["alerts"])
        res["cases"] = _collection("open cases", "Open cases (work orders) at their place",
                                   bbox, [_feature(mount.id, "CasesProvider", "id")], ["cases"])
    from dashboard.ogc.processes import hazard_models

    for hazard in hazard_models():
        res[hazard] = {"type": "process", "processor": {
            "name": "dashboard.ogc.processes.HazardProcessor", "hazard": hazard,
            "data": mount.id}}
    jobs = mount.home / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    return {
        "server": {"url": url, "mimetype": "application/json; charset=UTF-8",
                   "encoding": "utf-8", "language": "en-US", "pretty_print": False,
                   "limits": dict(LIMITS), "map": {"url": "", "attribution": ""},
                   "manager": {"name": "TinyDB", "connection": str(mount.home / "jobs.db"),
                               "output_dir": str(jobs)}},
        "logging": {"level": "WARNING"},
        "metadata": {
            "identification": {"title": f"CityOps Twin: {twin.name}",
                               "description": "The city twin's cells, registries, live layers, "
                                              "open alerts and cases, and what-if simulations",
                               "keywords": ["digital twin", "h3"], "keywords_type": "theme",
                               "terms_of_service": "", "url": url},
            "license": {"name": "the deployment's terms", "url": url},
            "provider": {"name": "CityOps Twin", "url": url},
            "contact": {"name": "operator", "url": url, "hours": "", "instructions": "",
                        "role": "pointOfContact"}},
        "resources": res,
    }


def _rule(path: str) -> tuple[str, set[str] | None]:
    """(what, pages) the path needs: a user who may open one of `pages` (None: any user)."""
    parts = path.removeprefix(PREFIX).strip("/").split("/")
    if parts[0] in ("processes", "jobs") and len(parts) > 1 or parts[0] == "jobs":
        return "the what-if processes", {"/scenarios"}
    if parts[0] == "collections" and len(parts) > 2:
        cid = parts[1]
        if cid.startswith("live-"):
            return "the live layers", {"/", "/grid"}
        if cid in ("alerts", "cases"):
            return f"the open {cid}", {"/cases"}
    return "the OGC API", None


def allowed(user: User | None, path: str) -> tuple[bool, str]:
    """Whether a user (or key) may call an OGC path, and what was asked for."""
    what, pages = _rule(path)
    if user is None:
        return False, what
    return pages is None or any(can_open(user, p) for p in pages), what


def _principal() -> User | None:
    """The user or API key of the request (a key that is not valid: Unauthorized)."""
    from dashboard.session import current_principal

    return current_principal()


def public_url() -> str | None:
    """$CITYOPS_PUBLIC_URL (the dashboard's address as clients see it) + /ogc, when set."""
    base = os.environ.get("CITYOPS_PUBLIC_URL", "").rstrip("/")
    return base + PREFIX if base else None


def mount(server: Flask, twin, bus=None, home: Path | None = None,
          url: str | None = None) -> state.Mount:
    """Serve the OGC API of `twin` (and the live `bus`) under /ogc/ on a Flask server.

    `url` is the API's address as clients see it (default $CITYOPS_PUBLIC_URL + /ogc, else the
    address of the first request); `home` keeps jobs and results.
    """
    import pygeoapi.api as core
    import pygeoapi.api.itemtypes as items
    import pygeoapi.api.processes as processes
    import pygeoapi.api.tiles as tiles
    from pygeoapi.api import API, APIRequest, apply_gzip
    from pygeoapi.openapi import get_oas

    from twin.settings import home as default_home

    m = state.add(state.Mount(uuid.uuid4().hex[:12], twin, bus,
                              Path(home or default_home() / "ogc")))
    m.home.mkdir(parents=True, exist_ok=True)
    apis: dict[str, API] = {}

    def api_for() -> API:
        """pygeoapi's API; its links point to `url`, else to the address of the first request
        (fixed from then on: a later Host header changes nothing)."""
        if not apis:
            base = url or public_url() or request.host_url.rstrip("/") + PREFIX
            cfg = config(m, base)
            apis["api"] = API(cfg, get_oas(cfg, fail_on_invalid_collection=False))
            logging.getLogger("pygeoapi").setLevel(logging.CRITICAL)  # 4xx are the client's
        return apis["api"]

    def answer(fn, *args, skip_valid_check: bool = False):
        api = api_for()
        req = APIRequest.from_flask(request, api.locales)
        if not skip_valid_check and not req.is_valid():
            headers, status, content = api.get_format_exception(req)
        else:
            headers, status, content = fn(api, req, *args)
            content = apply_gzip(headers, content)
        response = make_response(content, status)
        if headers:
            response.headers = headers
        response.headers["Cache-Control"] = "private, no-store"
        return response

    bp = Blueprint(f"ogc_{m.id}", __name__, url_prefix=PREFIX)

    def refuse(status: HTTPStatus, text: str):
        headers, code, content = api_for().get_exception(status, {}, "json", status.phrase, text)
        return make_response(content, code, {"Content-Type": "application/json"})

    @bp.before_request
    def guard():
        state.VIEWER.set(None)
        try:
            user = _principal()
        except Unauthorized as exc:
            return refuse(HTTPStatus.UNAUTHORIZED, str(exc.description))
        ok, what = allowed(user, request.path)
        state.VIEWER.set(user)
        if ok:
            return None
        if user is None:
            return refuse(HTTPStatus.UNAUTHORIZED, f"{what} need a login or an API key "
                                                   f"(Authorization: Bearer KEY)")
        return refuse(HTTPStatus.FORBIDDEN, f"the role {user.role} may not read {what}")

    routes = [
        ("/", core.landing_page, False), ("/openapi", core.openapi_, False),
        ("/conformance", core.conformance, False),
        ("/TileMatrixSets", tiles.tilematrixsets, False),
        ("/TileMatrixSets/<tms>", tiles.tilematrixset, False),
        ("/collections", core.describe_collections, False),
        ("/collections/<cid>", core.describe_collections, False),
        ("/collections/<cid>/queryables", items.get_collection_queryables, False),
        ("/collections/<cid>/items", items.get_collection_items, True),
        ("/collections/<cid>/items/<iid>", items.get_collection_item, True),
        ("/collections/<cid>/tiles", tiles.get_collection_tiles, False),
        ("/collections/<cid>/tiles/<tms>", tiles.get_collection_tiles_metadata, True),
        ("/collections/<cid>/tiles/<tms>/<z>/<y>/<x>", tiles.get_collection_tiles_data, True),
        ("/processes", processes.describe_processes, False),
        ("/processes/<pid>", processes.describe_processes, False),
        ("/jobs", processes.get_jobs, False), ("/jobs/<jid>", processes.get_jobs, False),
        ("/jobs/<jid>/results", processes.get_job_result, False),
    ]
    for path, fn, skip in routes:
        names = tuple(re.findall(r"<(\w+)>", path))

        def view(_fn=fn, _skip=skip, _names=names, **kwargs):
            return answer(_fn, *(kwargs[n] for n in _names), skip_valid_check=_skip)

        bp.add_url_rule(path, f"{fn.__name__}:{path}", view, methods=["GET"])
    bp.add_url_rule("/processes/<pid>/execution", "execute",
                    lambda pid: answer(processes.execute_process, pid), methods=["POST"])
    bp.add_url_rule("/jobs/<jid>", "delete_job",
                    lambda jid: answer(processes.delete_job, jid), methods=["DELETE"])
    server.register_blueprint(bp)
    return m
