"""The structure of DESIGN.md holds, checked on the real import graph and the real source.

- import-linter's contracts (pyproject.toml): twin <- layers (live <- loop <- protocols),
  sim <- dashboard, sim and twin pure;
- no import cycles between modules (grimp's graph, the one import-linter builds);
- one cell representation: only twin/cells.py imports h3;
- one key registry: only layers/keys.py spells a Redis key, and only the stores that own key
  families (layers.keys.FAMILIES) touch a bus's raw client.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from layers.keys import FAMILIES, OWNERS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("twin", "layers", "sim", "dashboard")
KEY_PREFIXES = sorted({f.pattern.split("{")[0].split(":")[0] + ":" for f in FAMILIES})
# modules that reach the client because they ARE the connection, not a store
CONNECTION_MODULES = {"layers.live.bus", "layers.live.server", "layers.testing"}


def _modules() -> dict[str, ast.Module]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(
                ".__init__")
            out[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return out


MODULES = _modules()


def test_import_linter_contracts_are_kept():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v) & modules:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_itself_through_others():
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)  # runtime only
    modules = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    assert _cycles(graph, modules) == []


def _imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_twin_cells_imports_h3():
    importers = sorted(m for m, tree in MODULES.items()
                       if any(n == "h3" or n.startswith("h3.") for n in _imports(tree)))
    assert importers == ["twin.cells"]


def _strings(tree: ast.Module) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(node.value)
        elif isinstance(node, ast.JoinedStr):  # f"cases:grid:{g}": its literal parts
            out += [v.value for v in node.values if isinstance(v, ast.Constant)]
    return out


FAMILY_NAMES = {f.pattern for f in FAMILIES}  # naming a family (keys.every) is not spelling a key


def _looks_like_key(text: str, prefix: str) -> bool:
    return text.startswith(prefix) and " " not in text and text not in FAMILY_NAMES


@pytest.mark.parametrize("prefix", KEY_PREFIXES)
def test_no_module_but_the_key_registry_spells_a_key(prefix):
    spelled = sorted(m for m, tree in MODULES.items() if m != "layers.keys"
                     and any(_looks_like_key(s, prefix) for s in _strings(tree)))
    assert spelled == [], f"{prefix}... keys spelled outside layers/keys.py"


def test_only_the_stores_reach_the_raw_client():
    users = sorted(m for m, tree in MODULES.items()
                   if any(isinstance(n, ast.Attribute) and n.attr == "redis"
                          and isinstance(n.ctx, ast.Load)
                          and not (isinstance(n.value, ast.Name) and n.value.id == "args")
                          for n in ast.walk(tree)))
    assert set(users) <= OWNERS | CONNECTION_MODULES, set(users) - OWNERS - CONNECTION_MODULES


def test_every_store_named_in_the_registry_exists():
    assert OWNERS <= set(MODULES)


def test_the_architecture_page_lists_every_key_family_with_its_owner():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    rows = {(f"`{f.pattern}`", f.type, f.owner) for f in FAMILIES}
    listed = {tuple(c.strip() for c in line.strip("|").split("|"))
              for line in text.splitlines() if line.startswith("| `")}
    assert listed == rows
