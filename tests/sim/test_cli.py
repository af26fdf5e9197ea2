"""Specification of `cityops sim`: run, impact, compare, ensemble; bad input exits 2 in one line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dashboard.cli import main

CHLORINE = {"name": "cl2", "hazard": "toxic_release", "location": {"facility": "F-chem-1"},
            "duration": "1h", "output_every": "10min",
            "parameters": {"chemical": "chlorine", "release_g_s": 5000, "wind_from_deg": 90,
                           "wind_speed_m_s": 3, "stability": "D"}}


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory):
    from twin.testing import small_twin

    folder = tmp_path_factory.mktemp("twin") / "small"
    small_twin().save(folder)
    return folder


def write(path: Path, spec: dict) -> Path:
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def test_run_writes_a_result_and_impact_prints_it(twin_dir, tmp_path, capsys):
    spec = write(tmp_path / "cl2.yaml", CHLORINE)
    out = tmp_path / "cl2.nc"
    assert main(["sim", "run", str(spec), "--twin", str(twin_dir), "--out", str(out)]) == 0
    headline = json.loads(capsys.readouterr().out)
    assert out.is_file() and headline["people_affected"] > 0
    assert main(["sim", "impact", str(out)]) == 0
    impact = json.loads(capsys.readouterr().out)
    assert impact["people_affected"] == headline["people_affected"]


def test_compare_reports_b_minus_a(twin_dir, tmp_path, capsys):
    a = write(tmp_path / "a.yaml", CHLORINE)
    b = write(tmp_path / "b.yaml", CHLORINE | {
        "name": "big", "parameters": CHLORINE["parameters"] | {"release_g_s": 50000}})
    for spec in (a, b):
        main(["sim", "run", str(spec), "--twin", str(twin_dir), "--out", str(spec) + ".nc"])
    capsys.readouterr()
    assert main(["sim", "compare", str(a) + ".nc", str(b) + ".nc"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["people_affected"]["b_minus_a"] > 0


def test_live_readings_come_from_a_json_file(twin_dir, tmp_path, capsys):
    spec = write(tmp_path / "cl2.yaml", CHLORINE)
    live = tmp_path / "live.json"
    live.write_text(json.dumps({"wind_from_deg": 270.0}))
    assert main(["sim", "run", str(spec), "--twin", str(twin_dir), "--live", str(live),
                 "--out", str(tmp_path / "r.nc")]) == 0


@pytest.mark.parametrize("change, message", [
    ({"location": {"facility": "F-missing"}}, "location.facility 'F-missing'"),
    ({"parameters": CHLORINE["parameters"] | {"release_g_s": -1}}, "parameters.release_g_s"),
])
def test_a_bad_scenario_exits_2_with_one_line_naming_the_field(twin_dir, tmp_path, capsys,
                                                               change, message):
    spec = write(tmp_path / "bad.yaml", CHLORINE | change)
    code = main(["sim", "run", str(spec), "--twin", str(twin_dir), "--out",
                 str(tmp_path / "x.nc")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1] and err[-1].startswith("cityops: error:")


@pytest.mark.parametrize("out, message", [
    ("missing-folder/x.nc", "missing-folder does not exist"),
    ("x.csv", "must end in .nc"),
    ("a-folder.nc", "is a folder"),
])
def test_a_bad_out_path_exits_2_before_the_simulation_runs(twin_dir, tmp_path, capsys,
                                                           monkeypatch, out, message):
    import sim

    (tmp_path / "a-folder.nc").mkdir()
    monkeypatch.setattr(sim, "run", lambda *a, **k: pytest.fail("the simulation ran"))
    spec = write(tmp_path / "cl2.yaml", CHLORINE)
    code = main(["sim", "run", str(spec), "--twin", str(twin_dir), "--out", str(tmp_path / out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err


def test_an_unwritable_out_folder_exits_2_before_the_ensemble_runs(twin_dir, tmp_path, capsys,
                                                                    monkeypatch):
    import os

    from sim import ensemble

    monkeypatch.setattr(ensemble, "run", lambda *a, **k: pytest.fail("the ensemble ran"))
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # also as root
    spec = write(tmp_path / "cl2.yaml", CHLORINE)
    code = main(["sim", "ensemble", str(spec), "--twin", str(twin_dir), "--members", "2",
                 "--vary", "wind_from_deg=uniform:0,90", "--out", str(tmp_path / "e.nc")])
    assert code == 2 and "permission denied" in capsys.readouterr().err


def test_a_bad_vary_spec_exits_2(twin_dir, tmp_path, capsys):
    spec = write(tmp_path / "cl2.yaml", CHLORINE)
    code = main(["sim", "ensemble", str(spec), "--twin", str(twin_dir), "--members", "2",
                 "--vary", "wind_from_deg=uniform"])
    assert code == 2 and "PARAM=KIND:A,B" in capsys.readouterr().err


def test_the_installed_command_exits_2_on_an_invalid_field(twin_dir, tmp_path):
    spec = write(tmp_path / "bad.yaml", CHLORINE | {"duration": "forever"})
    proc = subprocess.run([sys.executable, "-m", "dashboard.cli", "sim", "run", str(spec),
                           "--twin", str(twin_dir), "--out", str(tmp_path / "x.nc")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "duration" in lines[0]


def test_the_commands_module_imports_only_argparse_at_the_top():
    code = ("import sys, dashboard.commands.sim; "
            "print(any(m in sys.modules for m in ('sim', 'xarray', 'numpy', 'dask')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"
