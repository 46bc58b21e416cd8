import importlib.util
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "refresh_lock.py"
spec = importlib.util.spec_from_file_location("refresh_lock", SCRIPT)
refresh_lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(refresh_lock)

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,15}", fullmatch=True)
versions = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True)


@given(st.dictionaries(names.map(str.lower), versions, max_size=8))
def test_pins_read_back_what_a_lock_writes(pinned):
    lines = ["# header"] + [f"{n}=={v}  # note" for n, v in pinned.items()] + ["", "-e ."]
    assert refresh_lock.pins(lines) == pinned


def test_changes_name_every_added_removed_and_moved_package():
    old = {"duckdb": "1.4.1", "pandas": "2.3.0", "rich": "14.0.0"}
    new = {"duckdb": "2.0.1", "pandas": "2.3.0", "gensim": "4.4.0"}
    assert refresh_lock.changes(old, new) == [
        "  duckdb 1.4.1 -> 2.0.1", "  added    gensim 4.4.0", "  removed  rich 14.0.0"]


def test_the_lock_pins_every_direct_dependency():
    lock = refresh_lock.pins((SCRIPT.parents[1] / "requirements" / "constraints.txt")
                             .read_text().splitlines())
    for name in ("numpy", "pandas", "duckdb", "scikit-learn", "pyarrow", "plotly", "rich"):
        assert name in lock, f"{name} is not pinned in requirements/constraints.txt"


def test_the_lock_pins_every_dependency_of_what_make_test_installs():
    """pyproject's dependencies and the extras the Makefile installs (EXTRAS) all read
    their version from the lock: an extra that gains a package gains its pin."""
    import re
    import tomllib

    root = SCRIPT.parents[1]
    lock = {name.replace("_", "-") for name in refresh_lock.pins(
        (root / "requirements" / "constraints.txt").read_text().splitlines())}
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    extras = re.search(r"^EXTRAS := (.+)$", (root / "Makefile").read_text(), re.M)
    assert extras is not None
    wanted = list(project["dependencies"])
    for extra in extras.group(1).split(","):
        wanted += project["optional-dependencies"][extra.strip()]
    for requirement in wanted:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")
        assert name in lock, f"{name} ({requirement}) is not pinned in the lock"
