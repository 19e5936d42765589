"""The floor plan holds: layers point down, no import cycle, upward imports only in the facades.

import-linter enforces the layers in `make test` (pyproject's [tool.importlinter]); these tests
check what it does not: the module graph (module-level imports) has no cycle, the only upward
imports are the lazy ones listed in pyproject's `ignore_imports`, each inside a method, no
module is over 500 lines, and no package imports another package's private names.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "cspolicy"

# Layer of each top-level part of the package, lowest first (DESIGN.md, docs/architecture.md).
LAYERS = {
    "_version": 0,
    "diagnostics": 0,
    "source": 1,
    "expressions": 2,
    "engine": 3,
    "analysis": 4,
    "authoring": 4,
    "caseload": 4,
    "rete": 4,
    "store": 4,
    "service": 5,
    "cli": 6,
    "docs": 7,
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    scope: str  # "module", "type-checking" or the qualified name of the function it is in


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(importer: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path) -> list[Import]:
    importer = module_name(path)
    found: list[Import] = []

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = "type-checking"
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = child.name if scope in ("module", "type-checking") else f"{scope}.{child.name}"
            elif isinstance(child, ast.ClassDef) and scope == "module":
                inner = f"class:{child.name}"
            if isinstance(child, ast.ImportFrom):
                target = resolve(importer, path, child)
                if target.startswith("cspolicy"):
                    # `from cspolicy.pkg import module` imports that module
                    for alias in child.names:
                        candidate = f"{target}.{alias.name}"
                        module = candidate if _is_module(candidate) else target
                        found.append(Import(importer, module, child.lineno, _scope(inner, child)))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("cspolicy"):
                        found.append(Import(importer, alias.name, child.lineno, _scope(inner, child)))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), "module")
    return found


def _scope(scope: str, node: ast.AST) -> str:
    if scope.startswith("class:"):
        # a class body runs at import time; a method of it does not
        return scope.removeprefix("class:") if "." in scope else "module"
    return scope


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (SRC / relative).with_suffix(".py").exists() or (SRC / relative / "__init__.py").exists()


def layer_of(module: str) -> tuple[int, str] | None:
    parts = module.split(".")
    if len(parts) < 2:
        # the root package re-exports the engine's public API: above the engine, below the rest
        return (4, "cspolicy") if module == "cspolicy" else None
    part = parts[1]
    return (LAYERS[part], part) if part in LAYERS else None


ALL_IMPORTS = [imp for path in sorted(SRC.rglob("*.py")) for imp in imports_of(path)]


def is_upward(imp: Import) -> bool:
    low, high = layer_of(imp.importer), layer_of(imp.imported)
    if low is None or high is None or low[1] == "cspolicy":
        return False
    if high[1] == "cspolicy":
        return low[0] <= 4 and low[1] != "cspolicy"  # the root is read from above only
    return high[0] > low[0] or (high[0] == low[0] == 4 and high[1] != low[1])


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {p.stem for p in SRC.glob("*.py")} | {p.parent.name for p in SRC.glob("*/__init__.py")}
    parts.discard("__init__")
    assert sorted(p for p in parts if p not in LAYERS) == []


def test_module_level_import_graph_has_no_cycle() -> None:
    graph: nx.DiGraph = nx.DiGraph()
    for imp in ALL_IMPORTS:
        if imp.scope == "module" and imp.importer != imp.imported:
            # a package's __init__ re-exporting its own modules is not an edge back into it
            if imp.imported.startswith(imp.importer + "."):
                continue
            graph.add_edge(imp.importer, imp.imported)
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], f"import cycles: {cycles[:5]}"


def test_upward_imports_are_exactly_the_facades_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    listed = {
        tuple(part.strip() for part in line.split("->"))
        for contract in contracts
        for line in contract.get("ignore_imports", [])
    }
    upward = [imp for imp in ALL_IMPORTS if is_upward(imp) and imp.scope != "type-checking"]
    assert {(imp.importer, imp.imported) for imp in upward} == listed
    # each inside a method (lazy), never at module level or under TYPE_CHECKING alone
    assert all(imp.scope not in ("module", "type-checking") for imp in upward), upward
    facades = sorted({imp.scope for imp in upward})
    assert facades == [
        "PolicySet.check",
        "PolicySet.evaluate_batches",
        "PolicySet.evaluate_frame",
        "PolicySet.to_rete",
    ]


def test_the_engine_and_below_never_import_the_root_package() -> None:
    offenders = [
        imp
        for imp in ALL_IMPORTS
        if imp.imported == "cspolicy" and (layer := layer_of(imp.importer)) and layer[0] <= 4
    ]
    assert offenders == []


def test_no_module_over_500_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in SRC.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}


def test_no_package_imports_another_packages_private_names() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        importer = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (target := resolve(importer, path, node)):
                if not target.startswith("cspolicy."):
                    continue
                same_package = target.split(".")[:2] == importer.split(".")[:2]
                private = [
                    a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")
                ]
                if private and not same_package:
                    offenders.append(f"{importer}: from {target} import {', '.join(private)}")
    assert offenders == []


def test_no_module_reads_a_decisions_private_state() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in SRC.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "decision._" in line or "._run" in line
    ]
    assert offenders == []


@pytest.mark.skipif(not (Path(sys.executable).parent / "lint-imports").exists(), reason="needs import-linter")
def test_import_linter_contracts_are_kept() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 kept, 0 broken" in result.stdout
