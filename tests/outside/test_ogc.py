"""The OGC API read by clients written by others: GDAL's OAPIF driver (ogrinfo), OWSLib
(features and processes) and mapbox-vector-tile; errors are OGC exception JSON with a 4xx;
every route has the pages' role rules."""

from __future__ import annotations

import subprocess
import time

import pytest
import requests

from tests.outside.conftest import GRIDS
from tests.outside.tools import need, need_program


def _get(ogc, path, headers=None, **params):
    return requests.get(f"{ogc}{path}", headers=headers or {}, params=params, timeout=60)


def _ogrinfo(ogc, headers: dict, *args: str) -> str:
    ogrinfo = need_program("ogrinfo", "gdal-bin")
    header_lines = "\r\n".join(f"{k}: {v}" for k, v in headers.items())
    done = subprocess.run([ogrinfo, "-ro", "--config", "GDAL_HTTP_HEADERS", header_lines,
                           f"OAPIF:{ogc}", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- GDAL -----------------------------------------------------------------------------------------
def test_gdal_lists_the_collections(ogc, credentials):
    out = _ogrinfo(ogc, credentials("commander"))
    for name in ("cells", "units", "grids", "facilities", "sensors", "cameras",
                 "live-video.person.count", "alerts", "cases"):
        assert f": {name} (" in out or f": {name}\n" in out, name


def test_gdal_reads_features_with_their_attributes(ogc, credentials):
    out = _ogrinfo(ogc, credentials("commander"), "-al", "-q", "-where", "kind = 'shelter'",
                   "facilities")
    assert "kind (String) = shelter" in out and "POINT (" in out


def test_gdal_pages_through_a_collection(ogc, credentials, demo_twin):
    out = _ogrinfo(ogc, credentials("commander"), "-so", "units")
    assert f"Feature Count: {len(demo_twin.units)}" in out


# -- OWSLib ---------------------------------------------------------------------------------------
def test_owslib_reads_cells_in_a_bbox_with_their_static_variables(ogc, credentials, demo_twin):
    features = need("owslib.ogcapi.features")
    api = features.Features(ogc, headers=credentials("commander"))
    lat, lng = demo_twin.centers
    bbox = [float(lng[100]) - 0.01, float(lat[100]) - 0.01, float(lng[100]) + 0.01,
            float(lat[100]) + 0.01]
    items = api.collection_items("cells", bbox=bbox, limit=50)
    assert 0 < items["numberReturned"] <= 50
    props = items["features"][0]["properties"]
    assert {"cell", "population", "land_use", "grid"} <= set(props)
    assert len(props["cell"]) == 15  # a hex id at the edge


def test_owslib_runs_a_process_and_gets_its_impact_and_cells(ogc, credentials):
    processes = need("owslib.ogcapi.processes")
    api = processes.Processes(ogc, headers=credentials("planner"))
    assert {"flood", "toxic_release", "explosion", "epidemic", "evacuation"} <= {
        p["id"] for p in api.processes()}
    assert "tnt_kg" in api.process("explosion")["inputs"]
    result = api.execute("explosion", inputs={
        "location": {"facility": "F-hazchem_site-port-warehouse"}, "tnt_kg": 500, "duration": 60,
        "output_every": 60}, response="raw")
    assert result["impact"]["hazard"] == "explosion"
    assert result["cells"]["type"] == "FeatureCollection" and result["cells"]["features"]


def test_a_process_runs_asynchronously_with_a_job_status_and_a_netcdf_result(
        ogc, credentials, tmp_path):
    from tests.outside.tools import xdggs_centres

    headers = {**credentials("planner"), "Prefer": "respond-async"}
    body = {"inputs": {"location": {"facility": "F-hazchem_site-port-warehouse"}, "tnt_kg": 100, "duration": 60,
                       "output_every": 60},
            "outputs": {"netcdf": {}}}
    started = requests.post(f"{ogc}/processes/explosion/execution", json=body, headers=headers,
                            timeout=60)
    assert started.status_code == 201, started.text
    job = started.headers["Location"]
    status = {}
    for _ in range(600):
        status = requests.get(job, headers=headers, timeout=60).json()
        if status["status"] in ("successful", "failed"):
            break
        time.sleep(0.2)
    assert status["status"] == "successful", status
    result = requests.get(f"{job}/results", headers=headers, timeout=60)
    (tmp_path / "r.nc").write_bytes(result.content)
    assert len(xdggs_centres(tmp_path / "r.nc")[0]) > 0


def test_bad_process_inputs_name_the_input(ogc, credentials):
    res = requests.post(f"{ogc}/processes/explosion/execution", timeout=60,
                        headers=credentials("planner"),
                        json={"inputs": {"location": {"facility": "F-hazchem_site-port-warehouse"},
                                         "tnt_kg": -5, "duration": 60, "output_every": 60}})
    assert 400 <= res.status_code < 500
    assert "tnt_kg" in res.json()["description"]


# -- vector tiles ---------------------------------------------------------------------------------
def test_a_live_layer_tile_decodes_as_mvt_with_the_cells_values(ogc, credentials, demo_twin,
                                                                live_bus):
    import math

    import numpy as np

    mvt = need("mapbox_vector_tile")
    pos = int(np.flatnonzero(demo_twin.ds["grid"].values == GRIDS[0])[0])
    lat, lng = (float(a[pos]) for a in demo_twin.centers)
    z = 12
    x = int((lng + 180) / 360 * 2 ** z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2 ** z)
    res = _get(ogc, f"/collections/live-video.person.count/tiles/WebMercatorQuad/{z}/{y}/{x}",
               credentials("commander"), f="mvt")
    assert res.status_code == 200 and res.headers["Content-Type"].startswith(
        "application/vnd.mapbox-vector-tile")
    layer = mvt.decode(res.content)["video.person.count"]
    values = [f["properties"]["value_1h"] for f in layer["features"]]
    assert sum(values) == 4 * 3 and all(f["geometry"]["type"] == "Polygon"
                                        for f in layer["features"])


def test_coarser_zooms_roll_cells_up_to_coarser_h3_levels():
    from dashboard.ogc.tiles import level_for_zoom

    levels = [level_for_zoom(z, 39.0, 9) for z in range(4, 16)]
    assert levels == sorted(levels) and levels[0] < 9 and levels[-1] == 9


# -- live layers, alerts, cases -------------------------------------------------------------------
def test_a_live_layer_lists_only_cells_holding_something_unless_asked(ogc, credentials,
                                                                      demo_twin):
    held = _get(ogc, "/collections/live-video.person.count/items", credentials("commander"))
    assert [f["properties"]["value_1h"] for f in held.json()["features"]] == [12.0]
    every = _get(ogc, "/collections/live-video.person.count/items", credentials("commander"),
                 all_cells="true", limit=1)
    assert every.json()["numberMatched"] == len(demo_twin)


def test_live_layers_follow_the_wall_and_the_grid_page(ogc, credentials):
    path = "/collections/live-video.person.count/items"
    assert _get(ogc, path, credentials("planner")).json()["numberMatched"] == 1  # the wall
    assert _get(ogc, path, credentials("grid_a")).json()["numberMatched"] == 1   # grid 5: theirs
    assert _get(ogc, path, credentials("grid_b")).json()["numberMatched"] == 0


def test_a_grid_managers_credentials_see_only_their_grids_cases(ogc, credentials):
    mine = _get(ogc, "/collections/cases/items", credentials("grid_a")).json()
    assert [f["properties"]["grid"] for f in mine["features"]] == [GRIDS[0]]
    every = _get(ogc, "/collections/cases/items", credentials("commander")).json()
    assert sorted(f["properties"]["grid"] for f in every["features"]) == list(GRIDS)
    alerts = _get(ogc, "/collections/alerts/items", credentials("grid_b")).json()
    assert [f["properties"]["grid"] for f in alerts["features"]] == [GRIDS[1]]


def test_alerts_are_known_by_their_public_ids_like_caps(ogc, credentials):
    headers = credentials("commander")
    alerts = _get(ogc, "/collections/alerts/items", headers).json()["features"]
    assert alerts and not any(a["id"].startswith("A0") for a in alerts)
    cap = requests.get(ogc.removesuffix("/ogc") + f"/cap/alerts/{alerts[0]['id']}.xml",
                       headers=headers, timeout=60)
    assert cap.status_code == 200 and cap.headers["Content-Type"].startswith(
        "application/cap+xml")


def test_cases_carry_no_free_text(ogc, credentials):
    case = _get(ogc, "/collections/cases/items", credentials("commander")).json()["features"][0]
    assert not {"note", "notes", "title", "manager", "owner", "evidence"} & set(
        case["properties"])


# -- access and errors ----------------------------------------------------------------------------
def test_a_logged_in_browser_session_reads_the_api_too(ogc, session_cookie):
    res = _get(ogc, "/collections/cases/items", session_cookie("grid_b"))
    assert res.status_code == 200
    assert [f["properties"]["grid"] for f in res.json()["features"]] == [GRIDS[1]]


def test_a_key_that_is_not_valid_is_refused_with_401(ogc):
    res = _get(ogc, "/collections/cells/items", {"Authorization": "Bearer cok_made_up"})
    assert res.status_code == 401 and "not valid" in res.json()["description"]


@pytest.mark.parametrize("path", ["/", "/collections/cells/items", "/processes"])
def test_without_credentials_the_api_answers_401_ogc_json(ogc, path):
    res = _get(ogc, path)
    assert res.status_code == 401 and res.json()["code"] and "API key" in res.json()[
        "description"]


@pytest.mark.parametrize("user, path", [("planner", "/collections/cases/items"),
                                        ("grid_a", "/processes/flood/execution"),
                                        ("grid_a", "/jobs")])
def test_roles_the_pages_refuse_are_refused_here_with_403(ogc, credentials, user, path):
    if path.endswith("/execution"):
        res = requests.post(f"{ogc}{path}", json={"inputs": {}}, headers=credentials(user),
                            timeout=60)
    else:
        res = _get(ogc, path, credentials(user))
    assert res.status_code == 403 and "may not" in res.json()["description"]


@pytest.mark.parametrize("path, params, status, words", [
    ("/collections/cells/items", {"bbox": "100,20,200,30"}, 400, "out of range"),
    ("/collections/cells/items", {"bbox": "100,-95,110,30"}, 400, "out of range"),
    ("/collections/nowhere/items", {}, 404, "not found"),
    ("/collections/cells/items", {"limit": "100000"}, 400, "Limit of 1000"),
    ("/collections/cells/items", {"population": "many"}, 400, "number"),
])
def test_bad_queries_get_an_ogc_exception_with_a_4xx(ogc, credentials, path, params, status,
                                                     words):
    res = _get(ogc, path, credentials("commander"), **params)
    assert res.status_code == status
    body = res.json()
    assert {"code", "description"} <= set(body) and words.lower() in body["description"].lower()
