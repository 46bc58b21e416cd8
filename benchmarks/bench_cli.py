"""How fast the command line answers (issue 26, item 3): `personae --help`, `personae run
--help` (target 0.3 s), `import personae` (target 0.5 s) and `import personae.cli`, each in a
fresh interpreter, repeated like hyperfine, beside two peers measured in the same run: an
empty interpreter (`python -c pass`) and a bare Typer app answering `--help` (the floor any
Typer command line pays: Typer, rich and, for `--help`, pydantic).

    .venv/bin/python benchmarks/bench_cli.py                  # 10 runs each, median and min
    PYTHONPATH=/path/to/other/checkout .venv/bin/python benchmarks/bench_cli.py  # its code

The command line runs as the installed entry point does (`from personae.cli import app;
app()`), so PYTHONPATH picks the checkout measured. The last column says whether the
process imported scikit-learn, scipy or pandas.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HEAVY = ("sklearn", "scipy", "pandas")
REPORT_HEAVY = ("import sys, atexit; atexit.register(lambda: sys.stderr.write("
                f"'HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules)))")
CLI = "from personae.cli import app; app()"
BARE_TYPER = ("import typer\napp = typer.Typer()\n@app.command()\ndef run(x: bool = False)"
              " -> None: pass\n@app.command()\ndef other(y: bool = False) -> None: pass\napp()")

CASES = {
    "python -c pass (interpreter)": ["-c", "pass"],
    "bare Typer app: run --help": ["-c", BARE_TYPER, "run", "--help"],
    "import personae": ["-c", f"{REPORT_HEAVY}\nimport personae"],
    "import personae.cli": ["-c", f"{REPORT_HEAVY}\nimport personae.cli"],
    "personae --help": ["-c", f"{REPORT_HEAVY}\n{CLI}", "--help"],
    "personae run --help": ["-c", f"{REPORT_HEAVY}\n{CLI}", "run", "--help"],
}


def timed(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system: what other jobs' load inflates less) and
    the heavy libraries the process imported."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    # Run outside any checkout: `python -c` puts the working folder first on sys.path.
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True,
                          cwd=tempfile.gettempdir())
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    heavy = done.stderr.rpartition("HEAVY=")[2].strip() if "HEAVY=" in done.stderr else "-"
    return wall, cpu, heavy or "none"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    rows = []
    for name, case in CASES.items():
        timed(case)  # warm the file cache, as hyperfine's --warmup 1
        results = [timed(case) for _ in range(args.runs)]
        seconds = [wall for wall, _, _ in results]
        cpu = statistics.median(c for _, c, _ in results)
        rows.append((name, statistics.median(seconds), min(seconds), cpu, results[-1][2]))
    print(f"| command ({args.runs} runs) | median s | min s | median CPU s | heavy imports |")
    print("|---|---|---|---|---|")
    for name, median, low, cpu, heavy in rows:
        print(f"| {name} | {median:.3f} | {low:.3f} | {cpu:.3f} | {heavy} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
