"""Batch assignment: `personae assign` on N users (issue 26 target: 1M users <= 2 s; issue
15's was 5 s), the whole command and each of its stages, printed as one table.

    .venv/bin/python benchmarks/bench_assign.py                    # 1M users, 3 runs
    .venv/bin/python benchmarks/bench_assign.py --users 100k --repeat 1 --events-users 20k
    git archive bd2f477 personae | tar -x -C /tmp/before
    .venv/bin/python benchmarks/bench_assign.py --before /tmp/before   # rounds of both

The model: K-means (K=4) on the Online Retail II event features (../shared/data), as in
bench_serve.py, or any model folder with --model. The users: rows of its training users
drawn with replacement and given new ids (bench_serve.py's generator), as Parquet.
"The command" is the CLI in its own process (wall seconds; CPU = user + system of that
process, which load from other jobs inflates less than wall time), run with this checkout
first on PYTHONPATH; with --before, each round runs the code of that folder first and this
checkout second, and the two outputs must hold the same columns and values. The stages are
the command's calls timed one by one in this process, after the imports, which are timed in
a process of their own (with the heavy libraries they loaded). --events-users also times
`personae assign --events` on a log of that many customers (the real invoice lines of
customers drawn with replacement, each copy a new customer).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import build_model  # noqa: E402
from personae.config import EventsConfig  # noqa: E402

# The installed entry point's two lines, and at exit the process's own peak memory: Linux
# starts a child's ru_maxrss at its parent's (this process holds the 1M users), so wait4's
# figure would be this process's peak, not the command's.
PERSONAE = ["-c", "import atexit, sys\natexit.register(lambda: sys.stderr.write('\\nPEAK_KB=' "
            "+ next(line.split()[1] for line in open('/proc/self/status') "
            "if line.startswith('VmHWM'))))\nfrom personae.cli import app\napp()"]
CHECKOUT = Path(__file__).resolve().parents[1]
# what `personae assign MODEL TABLE --out FILE` imports before its first stage
COMMAND_IMPORTS = ("import sys, personae.cli, personae.data.readers, personae.data.writers, "
                   "personae.features.table, personae.model, personae.result; print(','.join("
                   "m for m in ('sklearn', 'scipy') if m in sys.modules) or 'none')")


def count(text: str) -> int:
    scale = {"k": 1e3, "m": 1e6}.get(text[-1].lower(), 1)
    return int(float(text.rstrip("kKmM")) * scale)


def users_file(users: pd.DataFrame, n: int, folder: Path) -> Path:
    rng = np.random.default_rng(0)
    big = users.iloc[rng.integers(0, len(users), n)].reset_index(drop=True)
    big["user_id"] = np.arange(n)
    path = folder / f"users_{n}.parquet"
    big.to_parquet(path)
    return path


def events_file(events: pd.DataFrame, n: int, folder: Path) -> Path:
    """The invoice lines of n customers drawn with replacement from the real log, each copy
    a new customer (its id and invoice numbers made unique)."""
    rng = np.random.default_rng(1)
    known = events["Customer ID"].dropna().unique()
    drawn = rng.choice(known, n)
    lines = events.dropna(subset=["Customer ID"]).groupby("Customer ID").indices
    parts = []
    for copy, customer in enumerate(drawn):
        part = events.iloc[lines[customer]]
        parts.append(part.assign(**{"Customer ID": float(copy),
                                    "Invoice": part["Invoice"].astype(str) + f"-{copy}"}))
    path = folder / f"events_{n}.parquet"
    pd.concat(parts, ignore_index=True).to_parquet(path)
    return path


def command(args: list[str], code: Path = CHECKOUT) -> dict[str, float]:
    """Wall and CPU seconds and peak memory of one CLI run in its own process, with the
    personae package of ``code`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, *PERSONAE, *args],
                                   stdout=subprocess.DEVNULL, stderr=errors, env=env)
        _, status, usage = os.wait4(process.pid, 0)  # this child's CPU alone
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        said = errors.read().decode()
    if process.returncode:
        raise SystemExit(f"personae {' '.join(args)} failed: {said[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss_mb": int(said.rpartition("PEAK_KB=")[2].strip()) / 1024}


def stages(model_dir: Path, path: Path, out: Path) -> tuple[dict[str, float], str]:
    """Seconds of each stage of `personae assign MODEL INPUT --out OUT`, in this process
    (``cli/run.py``'s ``_assign_table``, call by call), and the heavy libraries its imports
    load."""
    started = time.perf_counter()
    heavy = subprocess.run([sys.executable, "-c", COMMAND_IMPORTS], check=True,
                           capture_output=True, text=True, cwd=tempfile.gettempdir(),
                           env={**os.environ, "PYTHONPATH": str(CHECKOUT)}).stdout.strip()
    seconds = {"imports (own process, with the interpreter)": time.perf_counter() - started}
    from personae.data.readers import read_table
    from personae.data.writers import write_frame_atomic
    from personae.features.table import user_ids
    from personae.model import SegmentModel
    from personae.result import users_table

    def timed(name: str, call, *args):  # type: ignore[no-untyped-def]
        begun = time.perf_counter()
        value = call(*args)
        seconds[name] = time.perf_counter() - begun
        return value

    model = timed("load model", SegmentModel.load, model_dir)
    frame = timed("read Parquet", read_table, path)
    ids = timed("check ids", user_ids, frame, model.id_column_, str(path))
    X = timed("clean + scale (transform)", model.transform, frame, str(path))
    with threadpool_limits(limits=1, user_api="blas"):  # as the command assigns
        labels = timed("labels (assign_matrix: nearest centre, novel)", model.assign_matrix,
                       X)
    others = {name: column for name, column in labels.items() if name != "segment"}
    table = timed("assemble output (users_table)", users_table, frame, ids,
                  labels["segment"], others)
    timed("write Parquet", write_frame_atomic, table, out)
    return seconds, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model folder (default: built here)")
    parser.add_argument("--users", default="1M")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--events-users", default="0", help="also time assign --events")
    parser.add_argument("--before", type=Path, help="a folder holding the personae package "
                                                    "before a change: rounds of both")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-assign-"))
    try:
        events = None
        if args.model is None:
            model_dir, users, events = build_model(scratch)
            from personae.data.event_options import save_event_options
            from personae.features.events_io import map_columns

            mapping = map_columns({str(c): "" for c in events.columns}, {}, "retail")
            save_event_options(model_dir, mapping, EventsConfig())
        else:
            model_dir = args.model
            users = pd.read_parquet(model_dir.parent / "users_segmented.parquet")
        n = count(args.users)
        path = users_file(users, n, scratch)
        size_mb = path.stat().st_size / 1e6
        from personae.model import SegmentModel

        model = SegmentModel.load(model_dir)
        what = f"{len(model.feature_names)} features, {model.segmenter_.name} K={model.n_clusters_}"
        runs: list[tuple[str, dict[str, float]]] = []
        for _ in range(args.repeat):
            outs = {}
            for name, code in ([("before", args.before)] if args.before else []) + [
                    ("this checkout", CHECKOUT)]:
                outs[name] = scratch / f"assigned-{len(runs)}.parquet"
                runs.append((name, command(["assign", str(model_dir), str(path), "--out",
                                            str(outs[name])], code)))
            if args.before and not pd.read_parquet(outs["before"]).equals(
                    pd.read_parquet(outs["this checkout"])):
                raise SystemExit("before and this checkout wrote different assignments")
        parts, heavy = stages(model_dir, path, scratch / "stages.parquet")
        n_events = count(args.events_users)
        events_run = None
        if n_events:
            if events is None:
                raise SystemExit("--events-users needs the model built here (no --model)")
            log = events_file(events, n_events, scratch)
            events_run = command(["assign", str(model_dir), "--events", str(log), "--out",
                                  str(scratch / "from_events.parquet")])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"`personae assign` of {n:,} users ({size_mb:.0f} MB Parquet, {what}); target "
          "<= 2 s (issue 26)" + ("; before and after wrote the same table in every round"
                                 if args.before else ""))
    print("| what | seconds | note |")
    print("|---|---:|---|")
    for i, (name, run) in enumerate(runs):
        print(f"| the command ({name}), round {i // (2 if args.before else 1) + 1} | "
              f"{run['wall']:.2f} | CPU {run['cpu']:.2f} s, peak {run['rss_mb']:,.0f} MB, "
              f"{n / run['wall']:,.0f} users/s |")
    for name, value in parts.items():
        note = f"scikit-learn/scipy loaded: {heavy}" if name.startswith("imports") else ""
        print(f"| stage: {name} | {value:.2f} | {note} |")
    if events_run is not None:
        print(f"| assign --events, {n_events:,} customers' invoice lines | "
              f"{events_run['wall']:.2f} | "
              f"CPU {events_run['cpu']:.2f} s, peak {events_run['rss_mb']:,.0f} MB |")


if __name__ == "__main__":
    main()
