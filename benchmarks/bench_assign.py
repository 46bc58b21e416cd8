"""Batch assignment: `personae assign` on N users (issue 15 target: 1M users <= 5 s on 2
cores), the whole command and each of its stages, printed as one table.

    .venv/bin/python benchmarks/bench_assign.py                    # 1M users, 3 runs
    .venv/bin/python benchmarks/bench_assign.py --users 100k --repeat 1 --events-users 20k

The model: K-means (K=4) on the Online Retail II event features (../shared/data), as in
bench_serve.py, or any model folder with --model. The users: rows of its training users
drawn with replacement and given new ids (bench_serve.py's generator), as Parquet.
"The command" is the CLI in its own process (wall seconds; CPU = user + system of that
process, which load from other jobs inflates less than wall time); the stages are the same
calls timed one by one in this process, after the imports. --events-users also times
`personae assign --events` on a log of that many customers (the real invoice lines of
customers drawn with replacement, each copy a new customer).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import build_model  # noqa: E402
from personae.config import EventsConfig  # noqa: E402

PERSONAE = str(Path(sys.executable).parent / "personae")


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


def command(args: list[str]) -> dict[str, float]:
    """Wall and CPU seconds and peak memory of one CLI run in its own process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([PERSONAE, *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"personae {' '.join(args)} failed: {done.stderr[-2000:]}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall": wall, "cpu": after.ru_utime - before.ru_utime + after.ru_stime
            - before.ru_stime, "rss_mb": after.ru_maxrss / 1024}


def stages(model_dir: Path, path: Path, out: Path) -> dict[str, float]:
    """Seconds of each stage of `personae assign MODEL INPUT --out OUT`, in this process."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import personae.cli"], check=True)
    seconds = {"import (own process)": time.perf_counter() - started}
    from personae.data.readers import read_table
    from personae.data.writers import write_frame_atomic
    from personae.features.table import user_ids
    from personae.model import SegmentModel
    from personae.pipeline import users_table

    def timed(name: str, call, *args):  # type: ignore[no-untyped-def]
        begun = time.perf_counter()
        value = call(*args)
        seconds[name] = time.perf_counter() - begun
        return value

    model = timed("load model", SegmentModel.load, model_dir)
    frame = timed("read Parquet", read_table, path)
    ids = timed("check ids", user_ids, frame, model.id_column_, str(path))
    X = timed("clean + scale", model.transform, frame, str(path))
    labels = timed("predict", model.segmenter_.predict, X)
    table = timed("assemble output", users_table, frame, ids, labels)
    timed("write Parquet", write_frame_atomic, table, out)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model folder (default: built here)")
    parser.add_argument("--users", default="1M")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--events-users", default="0", help="also time assign --events")
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
        out = scratch / "assigned.parquet"
        runs = [command(["assign", str(model_dir), str(path), "--out", str(out)])
                for _ in range(args.repeat)]
        parts = stages(model_dir, path, scratch / "stages.parquet")
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
          "<= 5 s on 2 cores")
    print("| what | seconds | note |")
    print("|---|---:|---|")
    for i, run in enumerate(runs, 1):
        print(f"| the command, run {i} | {run['wall']:.2f} | CPU {run['cpu']:.2f} s, peak "
              f"{run['rss_mb']:,.0f} MB, {n / run['wall']:,.0f} users/s |")
    for name, value in parts.items():
        print(f"| stage: {name} | {value:.2f} | |")
    if events_run is not None:
        print(f"| assign --events, {n_events:,} customers' invoice lines | "
              f"{events_run['wall']:.2f} | "
              f"CPU {events_run['cpu']:.2f} s, peak {events_run['rss_mb']:,.0f} MB |")


if __name__ == "__main__":
    main()
