"""README "Use it from QGIS / GDAL / Python": its three examples, copied as they are, run
against the running dashboard with a key made as the README says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.outside.tools import need, need_program

README = Path(__file__).parents[2] / "README.md"


def examples() -> list[tuple[str, str]]:
    """(language, code) of each fenced block of the section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Use it from QGIS / GDAL / Python", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(bash|python)\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def env(ogc, keys_file):
    from dashboard.apikeys import add

    key = add(keys_file, "readme", "commander")
    return {**os.environ, "CITYOPS_URL": ogc.removesuffix("/ogc"), "CITYOPS_KEY": key}


def test_the_section_has_a_gdal_and_two_python_examples():
    assert [lang for lang, _ in examples()] == ["bash", "python", "python"]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_each_example_runs_as_written(which, env, tmp_path):
    lang, code = examples()[which]
    if lang == "bash":
        need_program("ogr2ogr", "gdal-bin")
        code = "\n".join(line for line in code.splitlines()
                         if not line.startswith("export CITYOPS_"))  # the test sets them
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "shelters.gpkg").stat().st_size > 0
        assert "facilities" in done.stdout
    else:
        need("owslib")
        need("xdggs")
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()
