"""The ``personae`` command's own exit (``personae.cli.main``): its exit codes, its output and
the exit handlers survive leaving the interpreter without taking it apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

# An exit handler a library would register (a log flushed, a temporary folder removed).
MAIN = ("import atexit, sys\n"
        "atexit.register(lambda: print('HANDLER RAN', file=sys.stderr, flush=True))\n"
        "sys.argv = ['personae', *sys.argv[1:]]\n"
        "from personae.cli import main\nmain()")


def personae(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", MAIN, *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_a_run_exits_0_with_its_folder_written_and_the_handlers_run(
        tmp_path: Path, blobs_csv: Path) -> None:
    out = tmp_path / "run"
    done = personae("run", blobs_csv, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "report: " in done.stdout  # the last line the command prints, not lost
    assert "HANDLER RAN" in done.stderr
    assert len(pd.read_csv(out / "users_segmented.csv")) == 3000


def test_bad_input_still_exits_2_with_its_one_line(tmp_path: Path) -> None:
    done = personae("run", tmp_path / "missing.csv", "--out", tmp_path / "run")
    assert done.returncode == 2
    assert "missing.csv: file not found" in done.stderr
    assert "HANDLER RAN" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_help_exits_0() -> None:
    done = personae("--help")
    assert done.returncode == 0 and "Usage" in done.stdout and "HANDLER RAN" in done.stderr
