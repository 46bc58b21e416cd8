"""Rewrite the lock from a tested environment and say which versions changed.

    python scripts/refresh_lock.py requirements/constraints.txt .venv-latest/bin/python
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEADER = ("# Exact versions the suite passed with (make test, on Python 3.11). "
          "Refreshed by 'make upgrade'.")


def pins(lines: list[str]) -> dict[str, str]:
    """name (lower case) -> version of every ``name==version`` line."""
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[name.strip().lower()] = version.strip()
    return found


def frozen(python: str) -> list[str]:
    listing = subprocess.run([python, "-m", "pip", "freeze", "--exclude-editable"],
                             check=True, capture_output=True, text=True).stdout
    return sorted((line for line in listing.splitlines()
                   if "==" in line and not line.lower().startswith("personae==")),
                  key=str.lower)


def changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    lines = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if before is None:
            lines.append(f"  added    {name} {after}")
        elif after is None:
            lines.append(f"  removed  {name} {before}")
        else:
            lines.append(f"  {name} {before} -> {after}")
    return lines


def main(lock: str, python: str) -> int:
    path = Path(lock)
    old = pins(path.read_text(encoding="utf-8").splitlines()) if path.exists() else {}
    new_lines = frozen(python)
    path.write_text("\n".join([HEADER, *new_lines]) + "\n", encoding="utf-8")
    changed = changes(old, pins(new_lines))
    print(f"{path}: {len(changed)} versions changed" + (":" if changed else ""))
    print("\n".join(changed))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
