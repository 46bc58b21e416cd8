"""How many homes each job has: the foundation's own figures, before and after a change.

    python benchmarks/bench_foundation.py [TREE ...]

For each tree (default: this checkout), one table row: functions that assign users to
segments, JSON document readers, numeric settings outside config.py, the largest
function's parameter count, modules over 400 lines, import cycles between personae's modules
and, where the ``duplicates`` command is on PATH, its pairs for ``personae/``. Counted with
``ast`` from the source, so two trees compare by the same rule.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

# A function assigns users when it places rows of the model's space on segments: it calls
# a segmenter's predict or the persona levels' placing on a matrix (not a wrapper of one).
PLACING_CALLS = ("assign_levels", "segmenter.predict", "seg.predict", "segmenter_.predict")


def modules(tree: Path) -> dict[str, ast.Module]:
    out = {}
    for path in sorted((tree / "personae").rglob("*.py")):
        name = ".".join(path.relative_to(tree).with_suffix("").parts).removesuffix(".__init__")
        out[name] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def assigners(parsed: dict[str, ast.Module], tree: Path) -> list[str]:
    found = []
    for name, module in parsed.items():
        if name.startswith("personae.cluster."):  # the algorithms' own predict
            continue
        for node in ast.walk(module):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                text = ast.unparse(node)
                if any(call + "(" in text for call in PLACING_CALLS):
                    found.append(f"{name}.{node.name}")
    return found


def json_readers(tree: Path) -> int:
    return sum(len(re.findall(r"json\.loads\(", p.read_text(encoding="utf-8")))
               for p in (tree / "personae").rglob("*.py"))


def constants_outside_config(parsed: dict[str, ast.Module]) -> int:
    count = 0
    for name, module in parsed.items():
        if name == "personae.config":
            continue
        for node in module.body:
            if isinstance(node, ast.Assign) and all(
                    isinstance(t, ast.Name) and t.id.isupper() for t in node.targets) and \
                    isinstance(node.value, ast.Constant) and \
                    isinstance(node.value.value, (int, float)) and \
                    not isinstance(node.value.value, bool):
                count += 1
    return count


def largest_signature(parsed: dict[str, ast.Module]) -> tuple[int, str]:
    best = (0, "")
    for name, module in parsed.items():
        for node in ast.walk(module):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                n = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) - \
                    (1 if a.args and a.args[0].arg in ("self", "cls") else 0)
                best = max(best, (n, f"{name}.{node.name}"))
    return best


def long_modules(tree: Path) -> list[str]:
    return [str(p.relative_to(tree)) for p in sorted((tree / "personae").rglob("*.py"))
            if len(p.read_text(encoding="utf-8").splitlines()) > 400]


def import_cycles(parsed: dict[str, ast.Module]) -> list[tuple[str, str]]:
    """Pairs of modules that import each other (anywhere in the module)."""
    edges: dict[str, set[str]] = {name: set() for name in parsed}
    for name, module in parsed.items():
        for node in ast.walk(module):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from package import submodule" depends on the submodule, not the package
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in parsed
                           else node.module for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            edges[name].update(t for t in targets if t in parsed and t != name)
    return sorted((a, b) for a in edges for b in edges[a] if a < b and a in edges[b])


def duplicate_pairs(tree: Path) -> str:
    if shutil.which("duplicates") is None:
        return "n/a"
    text = subprocess.run(["duplicates", "--repo", str(tree / "personae"), "--most", "1",
                           "--seconds", "120"], capture_output=True, text=True).stdout
    found = re.search(r"^(\d+) pairs of places", text, re.M)
    return found.group(1) if found else "0"


def main(trees: list[str]) -> None:
    rows = []
    for given in trees or ["."]:
        tree = Path(given).resolve()
        parsed = modules(tree)
        size, where = largest_signature(parsed)
        rows.append((given, len(assigners(parsed, tree)), json_readers(tree),
                     constants_outside_config(parsed), f"{size} ({where.split('.')[-1]})",
                     len(long_modules(tree)), len(import_cycles(parsed)),
                     duplicate_pairs(tree)))
    header = ("tree", "assigning functions", "json.loads", "numeric constants outside config",
              "largest signature", "modules > 400 lines", "import cycles", "duplicate pairs")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(map(str, row)) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
