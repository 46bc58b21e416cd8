"""No import cycles inside personae.

The import graph is read with ``ast``, not by importing. Edges: every ``import personae.x``
and ``from personae.x import y`` statement, at module level and inside functions alike (a
function-level import that closes a cycle only hides it until that function runs), under
``if TYPE_CHECKING:`` too. ``from personae.x import y`` is an edge to the module
``personae.x.y`` when that is a module, else to ``personae.x`` (where the name ``y`` is
defined).

Not counted: the package ``__init__`` files Python runs on the way to a module
(``import personae.monitor.reference`` runs ``personae/monitor/__init__.py``). Counting
them finds one more loop today, pipeline -> monitor/__init__ -> monitor.monitor -> pipeline
(the last a function-level import: a monitor refit runs ``segment``); it goes away when the
reference bins leave the monitor package (they are part of the fitted model), not by
renaming imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "personae"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imported(path: Path, name: str, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """(personae module, line) for every import statement in the file."""
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found += [(f"{target}.{alias.name}", node.lineno) if
                      f"{target}.{alias.name}" in modules else (target, node.lineno)
                      for alias in node.names]
    return found


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported personae module: line of the first such import}."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for target, line in _imported(path, name, modules):
            if target in modules and target != name and target not in parents:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = cycles(graph)
    described = ["; ".join(f"{a} -> {b} (line {graph[a][b]})" for a in c for b in c
                           if b in graph[a]) for c in found]
    assert not found, "import cycles: " + " | ".join(described)


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []


# Libraries that live in one package each (../shared/STYLE.md; ruff's banned-api says the
# same per folder). duckdb is not here: it is used in features/, data/, experiments/ and
# serve/early_path.py, so "duckdb only in features and data" does not hold today.
HOMES = {"jinja2": "personae.report", "markupsafe": "personae.report",
         "plotly": "personae.report", "rich": "personae.cli", "fastapi": "personae.serve",
         "uvicorn": "personae.serve", "pyspark": "personae.spark"}


def test_heavy_libraries_are_imported_only_in_their_package() -> None:
    strays = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            strays += [f"{name} imports {root} (line {node.lineno}); it belongs to "
                       f"{HOMES[root]}" for root in roots if root in HOMES
                       and not (name + ".").startswith(HOMES[root] + ".")]
    assert not strays, "; ".join(strays)


@pytest.mark.parametrize("module", ["personae", "personae.cli", "personae.config"])
def test_importing_the_package_or_the_command_line_leaves_heavy_libraries_unloaded(
        module: str) -> None:
    # `personae --help` and `import personae` answer at once: scikit-learn, scipy and pandas
    # load where a run uses them (issue 26).
    code = (f"import sys, {module}; print(','.join(sorted(m for m in "
            "('sklearn', 'scipy', 'pandas', 'duckdb') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT.parent)
    assert done.stdout.strip() == ""


def test_the_public_api_still_loads_by_name() -> None:
    code = ("from personae import segment, SegmentModel, load_run, RunConfig, PersonaeError; "
            "import personae; print(personae.ConfigError.__mro__[1].__name__, "
            "callable(segment), SegmentModel.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT.parent)
    assert done.stdout.split() == ["PersonaeError", "True", "SegmentModel"]


def test_the_command_line_loads_the_config_only_for_a_command_that_reads_it() -> None:
    # `personae --help` answers in about half Typer's floor without pydantic and yaml
    # (issue 26); personae.config, and with it both, loads inside the commands
    code = ("import sys, personae.cli; print(','.join(sorted(m for m in "
            "('personae.config', 'pydantic', 'yaml') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT.parent)
    assert done.stdout.strip() == ""
