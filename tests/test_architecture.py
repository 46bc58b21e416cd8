"""docs/architecture.md is the project's map of what is: every module of personae/ is on it,
in its package's section, and nothing on it is gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "personae"


def _sections() -> dict[str, str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    parts = re.split(r"^### ", text, flags=re.M)[1:]
    return {part.split("/", 1)[0].split()[0]: part for part in parts}


def _modules() -> dict[str, list[str]]:
    """package (top level: 'personae') -> the file names of its modules, sub-packages
    included (levels/fit.py is in cluster's section)."""
    out: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) == 1:
            out.setdefault("personae", []).append(parts[0])
        elif path.name != "__init__.py":
            out.setdefault(parts[0], []).append(path.name)
    return out


def test_every_module_is_on_the_map() -> None:
    sections = _sections()
    missing = [f"{package}/{name}" for package, names in _modules().items()
               for name in names
               if package not in sections or f"`{name}`" not in sections[package]
               and f"{name}" not in sections[package]]
    assert not missing, f"docs/architecture.md does not say what these are for: {missing}"


def test_nothing_on_the_map_is_gone() -> None:
    modules = _modules()
    gone = [f"{package}/{name}" for package, text in _sections().items()
            for name in re.findall(r"`([a-z_]+\.py)`", text)
            if name not in modules.get(package, [])]
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"
