"""The import layering of DESIGN.md holds: twin <- layers, sim <- dashboard."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_contracts_cover_each_rule_of_the_design():
    text = (ROOT / "pyproject.toml").read_text()
    for rule in ('source_modules = ["twin"]', 'source_modules = ["sim"]',
                 'source_modules = ["layers"]'):
        assert rule in text
