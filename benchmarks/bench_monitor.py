"""personae monitor: new users against a saved model, at 1M and 10M users.

    .venv/bin/python benchmarks/bench_monitor.py                # 1M and 10M
    .venv/bin/python benchmarks/bench_monitor.py --sizes 1M

Training: 100k generated users (15 features, 5 groups; the generator of bench_segment.py),
``personae run --algorithm kmeans --k 5``. New users: the same groups, ``f03`` moved by one
standard deviation (the planted drift), the first 100k ids the training users (so
transitions are counted), written to benchmarks/.data as Parquet. Each ``personae monitor``
runs in its own process; wall time and peak resident memory are measured from outside
(benchmarks/measure.py). The table also checks the known answer: only f03 drifts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
VENV_BIN = Path(sys.executable).parent
FEATURES = 15
SIZES = {"100k": 100_000, "1M": 1_000_000, "3M": 3_000_000, "10M": 10_000_000}
SHIFTED = "f03"


def generate(n: int, shift: float, name: str, seed: int) -> Path:
    """n users in 5 groups (same centres whatever the seed); ``SHIFTED`` moved by ``shift``
    overall standard deviations. Written in chunks of 1M rows."""
    path = DATA / f"{name}_{n}.parquet"
    if path.exists():
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    DATA.mkdir(parents=True, exist_ok=True)
    centers = np.random.default_rng(0).uniform(-6, 6, size=(5, FEATURES))
    spreads = np.array([1.0, 1.3, 0.8, 1.6, 1.1])
    weights = np.array([0.35, 0.25, 0.2, 0.12, 0.08])
    sd = float(np.sqrt(np.sum(weights * (spreads ** 2 + (centers[:, 3] - weights @
                                                             centers[:, 3]) ** 2))))
    rng = np.random.default_rng(seed)
    writer = None
    try:
        for start in range(0, n, 1_000_000):
            size = min(1_000_000, n - start)
            part = rng.choice(5, size=size, p=weights)
            X = centers[part] + rng.normal(size=(size, FEATURES)) * spreads[part, None]
            X[:, 3] += shift * sd
            columns = {"user_id": np.arange(start, start + size, dtype=np.int64)}
            columns.update({f"f{j:02d}": X[:, j].astype(np.float32) for j in range(FEATURES)})
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return path


def measure(command: list[str]) -> dict[str, float]:
    line = subprocess.run([sys.executable, str(HERE / "measure.py"), "--", *command],
                          capture_output=True, text=True, check=True).stdout
    return json.loads(line)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M")
    args = parser.parse_args(argv)
    train = generate(100_000, 0.0, "monitor_train", seed=1)
    run_dir = DATA / "monitor_run"
    # a cached run from before models kept their reference would rebuild it on every
    # monitor (and time that instead): fit again
    if not (run_dir / "model" / "reference.json").exists():
        subprocess.run([str(VENV_BIN / "personae"), "run", str(train), "--algorithm",
                        "kmeans", "--k", "5", "--report-map", "none", "--out", str(run_dir)],
                       check=True, stdout=subprocess.DEVNULL)
    print("| new users | seconds | peak GiB | drift stages (s) | only f03 drifts |")
    print("|---:|---:|---:|---|---|")
    for label in args.sizes.split(","):
        new = generate(SIZES[label], 1.0, "monitor_new", seed=2)
        out = DATA / f"monitor_out_{label}"
        figures = measure([str(VENV_BIN / "personae"), "monitor", str(run_dir), str(new),
                           "--out", str(out)])
        if figures["returncode"] != 0:
            print(f"| {label} | failed: {figures['stderr_tail']} |")
            continue
        summary = json.loads((out / "monitor.json").read_text())
        drift = pd.read_csv(out / "drift.csv")
        drifted = drift.loc[drift["verdict"] != "stable", "feature"].tolist()
        stages = ", ".join(f"{k} {v:.1f}" for k, v in summary["timings_seconds"].items())
        print(f"| {label} | {figures['seconds']:.1f} | {figures['peak_gib']:.2f} | {stages} "
              f"| {'yes' if drifted == [SHIFTED] else f'no: {drifted}'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
