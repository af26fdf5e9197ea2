"""`cityops twin build | info | export`: bad input is one stderr line naming the file, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from dashboard.cli import main
from tests.twin.test_build import (
    LAT0,
    LNG0,
    RES,
    write_boundary,
    write_csv,
    write_facilities,
    write_population,
    write_units,
)

ROOT = Path(__file__).resolve().parents[2]
INFO_KEYS = ("name", "resolution", "cells", "land_cells", "population", "units", "zones",
             "grids", "facilities", "sensors", "cameras", "departments")


def _write_points(folder) -> str:
    path = folder / "points.geojson"
    gpd.GeoDataFrame(geometry=shapely.points([[LNG0, LAT0]]), crs=4326).to_file(path)
    return str(path)


def _write_flat_polygon(folder) -> str:
    path = folder / "flat.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
            [[117.6, 39.0], [117.7, 39.0], [117.8, 39.0], [117.6, 39.0]]]}}]}))
    return str(path)


def _write_projected(folder) -> str:
    path = folder / "metres.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
            [[500000, 4300000], [510000, 4300000], [510000, 4310000], [500000, 4300000]]]}}]}))
    return str(path)


def _write_swapped(folder) -> str:
    return write_csv(folder, "swapped.csv", f"lat,lng,count\n{LNG0},{LAT0},5\n")


# (name, files to write -> extra argv, the file the message must name, words it must contain)
BAD_INPUTS = {
    "no polygons": (lambda d: ["--boundary", _write_points(d)], "points.geojson",
                    "no polygons"),
    "invalid geometry": (lambda d: ["--boundary", _write_flat_polygon(d)], "flat.geojson",
                         "cannot be repaired"),
    "projected coordinates": (lambda d: ["--boundary", _write_projected(d)], "metres.geojson",
                              "projected"),
    "swapped coordinates": (lambda d: ["--boundary", write_boundary(d), "--population",
                                       _write_swapped(d)], "swapped.csv", "swapped"),
    "resolution above 15": (lambda d: ["--boundary", write_boundary(d), "--resolution", "16"],
                            "--resolution", "0-15"),
    "resolution below 0": (lambda d: ["--boundary", write_boundary(d), "--resolution", "-1"],
                           "--resolution", "0-15"),
    "empty result": (lambda d: ["--boundary", write_boundary(d), "--resolution", "1"],
                     "boundary.geojson", "no H3 cell"),
    "missing column": (lambda d: ["--boundary", write_boundary(d), "--population",
                                  write_csv(d, "nocount.csv", f"lat,lng\n{LAT0},{LNG0}\n")],
                       "nocount.csv", "missing column"),
    "non-numeric value": (lambda d: ["--boundary", write_boundary(d), "--population",
                                     write_csv(d, "text.csv", f"lat,lng,count\n{LAT0},{LNG0},x\n")],
                          "text.csv", "must be a number"),
    "unreadable file": (lambda d: ["--boundary", write_csv(d, "junk.geojson", "junk")],
                        "junk.geojson", "cannot read"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_naming_the_file(tmp_path, capsys, case):
    args, filename, words = BAD_INPUTS[case]
    extra = args(tmp_path)
    argv = ["twin", "build", *extra, "--out", str(tmp_path / "out")]
    if "--resolution" not in extra:
        argv += ["--resolution", str(RES)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cityops: error: ")
    assert filename in err and words in err
    assert not (tmp_path / "out").exists()


def test_build_reports_points_outside_the_boundary_on_stderr(tmp_path, capsys):
    population = write_population(tmp_path, outside=2)
    code = main(["twin", "build", "--boundary", write_boundary(tmp_path), "--population",
                 population, "--resolution", str(RES), "--out", str(tmp_path / "t")])
    assert code == 0
    err = capsys.readouterr().err
    assert f"cityops: warning: {population}: 2 of 402 points lie outside the boundary" in err


@pytest.fixture
def twin_folder(tmp_path, capsys) -> Path:
    """A twin folder built through the CLI from every kind of input."""
    out = tmp_path / "city"
    assert main(["twin", "build", "--boundary", write_boundary(tmp_path), "--units",
                 write_units(tmp_path), "--population", write_population(tmp_path),
                 "--facilities", write_facilities(tmp_path), "--resolution", str(RES),
                 "--name", "testcity", "--out", str(out)]) == 0
    capsys.readouterr()
    return out


def test_info_prints_the_json_summary(twin_folder, capsys):
    assert main(["twin", "info", str(twin_folder)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert all(key in summary for key in INFO_KEYS)
    assert (summary["name"], summary["resolution"], summary["units"]) == ("testcity", RES, 2)
    assert summary["grids"] >= 1 and summary["facilities"] == 2


def test_info_on_a_folder_that_is_no_twin_exits_2(tmp_path, capsys):
    assert main(["twin", "info", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path) in err


def test_export_geojson_has_hex_cell_ids_and_the_chosen_variables(twin_folder, tmp_path):
    out = tmp_path / "cells.geojson"
    assert main(["twin", "export", str(twin_folder), "--format", "geojson", "--variables",
                 "population", "unit", "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    props = data["features"][0]["properties"]
    assert set(props) == {"cell", "population", "unit"}
    assert isinstance(props["cell"], str) and len(props["cell"]) == 15


def test_export_geojson_follows_rfc_7946_seven_decimals_and_no_crs(twin_folder, tmp_path):
    out = tmp_path / "cells.geojson"
    assert main(["twin", "export", str(twin_folder), "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in data and data["type"] == "FeatureCollection"
    ring = data["features"][0]["geometry"]["coordinates"][0]
    assert all(len(repr(v).split(".")[-1]) <= 7 for point in ring for v in point)
    assert max(len(repr(v).split(".")[-1]) for point in ring for v in point) == 7


def test_departments_are_plain_parquet_without_geometry(twin_folder):
    import pyarrow.parquet as pq

    schema = pq.read_schema(twin_folder / "departments.parquet")
    assert b"geo" not in (schema.metadata or {})
    assert "geometry" not in schema.names


def test_export_geoparquet_round_trips_every_static_variable(twin_folder, tmp_path):
    out = tmp_path / "cells.parquet"
    assert main(["twin", "export", str(twin_folder), "--out", str(out)]) == 0
    frame = gpd.read_parquet(out)
    assert {"cell", "population", "elevation_m", "unit", "grid", "is_land"} <= set(frame.columns)
    assert frame.crs.to_epsg() == 4326


def test_export_of_an_unknown_variable_exits_2(twin_folder, tmp_path, capsys):
    assert main(["twin", "export", str(twin_folder), "--variables", "nonsense", "--out",
                 str(tmp_path / "x.geojson")]) == 2
    assert "nonsense" in capsys.readouterr().err


def test_build_demo_writes_the_binhai_twin(tmp_path, capsys):
    demo = pytest.importorskip("twin.demo")
    if not hasattr(demo, "binhai"):
        pytest.skip("twin.demo.binhai not written yet")
    assert main(["twin", "build", "--demo", "binhai", "--resolution", "7", "--out",
                 str(tmp_path / "demo")]) == 0
    capsys.readouterr()
    assert main(["twin", "info", str(tmp_path / "demo")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resolution"] == 7 and summary["cells"] > 0


def _run(*code_or_args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *code_or_args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)


def test_the_cityops_program_exits_2_on_bad_input(tmp_path):
    boundary = _write_points(tmp_path)
    done = _run("-m", "dashboard.cli", "twin", "build", "--boundary", boundary,
                "--resolution", "8", "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert boundary in done.stderr and "no polygons" in done.stderr


def test_twin_info_does_not_import_dash(twin_folder):
    code = ("import sys; from dashboard.cli import main; "
            f"rc = main(['twin', 'info', {str(twin_folder)!r}]); "
            "print('DASH' if 'dash' in sys.modules else 'NODASH', rc)")
    done = _run("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "NODASH 0"


def test_population_points_file_may_be_a_vector_file(tmp_path):
    path = tmp_path / "people.gpkg"
    gpd.GeoDataFrame({"count": [3, 4]}, geometry=shapely.points([[LNG0, LAT0], [LNG0, LAT0]]),
                     crs=4326).to_file(path)
    assert main(["twin", "build", "--boundary", write_boundary(tmp_path), "--population",
                 str(path), "--resolution", str(RES), "--out", str(tmp_path / "t")]) == 0
    assert pd.read_json(tmp_path / "t" / "twin.json", typ="series")["build"]["report"][
        "population"]["features"] == 2


def test_info_of_the_demo_twin_needs_no_folder(capsys):
    assert main(["twin", "info", "--demo", "binhai", "--demo-resolution", "7"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["name"], summary["resolution"]) == ("binhai", 7)


@pytest.mark.parametrize("argv", [["twin", "info"], ["twin", "info", "x", "--demo", "binhai"]])
def test_info_needs_exactly_one_of_a_folder_or_the_demo(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "DIR or --demo binhai" in err


@pytest.mark.parametrize("argv, usage", [
    (["twin", "info", "x", "--bogus"], "usage: cityops twin info"),
    (["cases", "list", "--bogus"], "usage: cityops cases list"),
    (["sim", "run", "f.yaml", "--demo", "binhai", "--out", "x.nc", "--bogus"],
     "usage: cityops sim run"),
])
def test_an_unknown_flag_prints_the_sub_commands_usage(capsys, argv, usage):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith(usage)
    assert err.strip().splitlines()[-1].endswith("error: unrecognized arguments: --bogus")


@pytest.mark.parametrize("argv", [
    ["demo", "--resolution", "15", "--twin-only"],
    ["twin", "build", "--demo", "binhai", "--resolution", "15", "--out", "never"],
    ["twin", "info", "--demo", "binhai", "--demo-resolution", "15"],
])
def test_a_demo_resolution_out_of_range_exits_2_naming_the_range(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "use 5-11" in err


def test_build_refuses_too_many_cells_before_making_any(tmp_path, capsys, monkeypatch):
    from twin import cells

    monkeypatch.setattr(cells, "fill_polygons", lambda *a: pytest.fail("cells were made"))
    code = main(["twin", "build", "--boundary", write_boundary(tmp_path), "--resolution", "15",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "resolution 15 would make about" in err and "more than the limit of 5,000,000" in err
    assert "use resolution 13 or coarser" in err and not (tmp_path / "out").exists()


def test_the_cell_limit_is_a_setting(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CITYOPS_MAX_CELLS", "50")
    code = main(["twin", "build", "--boundary", write_boundary(tmp_path), "--resolution",
                 str(RES), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "limit of 50 ($CITYOPS_MAX_CELLS)" in err
    assert f"use resolution {RES - 1} or coarser" in err
