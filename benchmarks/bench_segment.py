"""personae run vs the course's reference pipeline, and personae alone at 1M and 10M users.

    .venv/bin/python benchmarks/bench_segment.py                 # 100k vs reference, 1M, 10M
    .venv/bin/python benchmarks/bench_segment.py --sizes 100k,1M --reference full
    .venv/bin/python benchmarks/bench_segment.py --sizes 1M --reference skip --rounds 3 \
        --before /tmp/before     # a copy of personae/ from an earlier commit, each round
                                 # before / now / plain script, labels compared

Data: 15 generated features, 5 true segments (Gaussian blobs of unequal spread), written to
benchmarks/.data as Parquet. Each contender runs in its own process; wall time and peak
resident memory are measured from outside (benchmarks/measure.py).

The reference is what the course teaches: StandardScaler; for k in 2..9, KMeans and
silhouette_score on all rows; refit the best k with n_init=10. Its silhouette is O(n^2):
``--reference full`` runs it as is (about 20 min at 100k on 2 cores); the default
``--reference estimate`` runs the whole loop but scores silhouette on all rows for one K
only and multiplies that time by 8, and says so in the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
VENV_BIN = Path(sys.executable).parent
TRUE_K = 5
FEATURES = 15
SIZES = {"100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}


def generate(n: int, seed: int = 0) -> Path:
    """Write n users in TRUE_K groups to Parquet, in chunks so 10M fits comfortably."""
    path = DATA / f"users_{n}.parquet"
    truth_path = DATA / f"truth_{n}.npy"
    if path.exists() and truth_path.exists():
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-6, 6, size=(TRUE_K, FEATURES))
    spreads = np.array([1.0, 1.3, 0.8, 1.6, 1.1])
    weights = np.array([0.35, 0.25, 0.2, 0.12, 0.08])
    truth = rng.choice(TRUE_K, size=n, p=weights).astype(np.int8)
    writer = None
    chunk = 1_000_000
    try:
        for start in range(0, n, chunk):
            part = truth[start:start + chunk]
            X = centers[part] + rng.normal(size=(len(part), FEATURES)) * spreads[part, None]
            columns = {"user_id": np.arange(start, start + len(part), dtype=np.int64)}
            columns.update({f"f{j:02d}": X[:, j].astype(np.float32) for j in range(FEATURES)})
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    np.save(truth_path, truth)
    return path


REFERENCE = r"""
import sys, time, numpy as np, pandas as pd
from sklearn.preprocessing import StandardScaler
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
path, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
X = StandardScaler().fit_transform(pd.read_parquet(path).drop(columns="user_id").to_numpy())
scores, silhouette_seconds = {}, 0.0
for k in range(2, 10):
    labels = KMeans(n_clusters=k, random_state=0).fit_predict(X)
    if mode == "full" or k == 2:
        started = time.perf_counter()
        scores[k] = silhouette_score(X, labels)
        silhouette_seconds += time.perf_counter() - started
    else:  # estimate: same cost as the measured K, scored on a sample to keep the choice
        scores[k] = silhouette_score(X, labels, sample_size=20000, random_state=0)
best = max(scores, key=scores.get)
labels = KMeans(n_clusters=best, n_init=10, random_state=0).fit_predict(X)
np.save(out + ".npy", labels)
open(out + ".txt", "w").write(f"{best} {silhouette_seconds}")
"""


# What a data scientist writes by hand at 1M users: sampled silhouette over 2..9, refit the
# best K with n_init=10, a profile of means, the labels to Parquet.
PLAIN = r"""
import sys, numpy as np, pandas as pd
from sklearn.preprocessing import StandardScaler
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
path, out = sys.argv[1], sys.argv[2]
users = pd.read_parquet(path)
X = StandardScaler().fit_transform(users.drop(columns="user_id").to_numpy())
scores = {}
for k in range(2, 10):
    labels = KMeans(n_clusters=k, random_state=0).fit_predict(X)
    scores[k] = silhouette_score(X, labels, sample_size=10000, random_state=0)
best = max(scores, key=scores.get)
labels = KMeans(n_clusters=best, n_init=10, random_state=0).fit_predict(X)
users.assign(segment=labels).groupby("segment").mean().to_csv(out + "_profile.csv")
pd.DataFrame({"user_id": users["user_id"], "segment": labels}).to_parquet(out + ".parquet")
np.save(out + ".npy", labels)
"""


MINIBATCH = r"""
import sys, time, numpy as np, pandas as pd
from sklearn.preprocessing import StandardScaler
from sklearn.cluster import MiniBatchKMeans
path, k, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
X = StandardScaler().fit_transform(pd.read_parquet(path).drop(columns="user_id").to_numpy())
X = X.astype(np.float32)
started = time.perf_counter()
model = MiniBatchKMeans(n_clusters=k, random_state=0, n_init=3).fit(X)
seconds = time.perf_counter() - started
np.save(out + ".npy", model.labels_)
open(out + ".txt", "w").write(f"{seconds} {model.inertia_}")
"""


def measure(command: list[str], code: Path | None = None) -> dict[str, float]:
    """Wall seconds and peak memory of ``command``; ``code``: a folder holding the
    ``personae`` package to run instead of this checkout's (put first on PYTHONPATH)."""
    env = None if code is None else {**os.environ, "PYTHONPATH": str(code)}
    output = subprocess.run([sys.executable, str(HERE / "measure.py"), "--", *command],
                            capture_output=True, text=True, check=True, env=env).stdout
    result = json.loads(output.strip().splitlines()[-1])
    if result["returncode"] != 0:
        raise RuntimeError(f"{command[:3]} failed: {result['stderr_tail']}")
    return result


def ari(truth_path: Path, labels: np.ndarray) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(np.load(truth_path), labels))


def run_personae(n: int, path: Path, algorithm: str, code: Path | None = None
                 ) -> dict[str, object]:
    out = DATA / (f"run_{n}" if code is None else f"run_{n}_before")
    result = measure([str(VENV_BIN / "personae"), "run", str(path), "--out", str(out),
                      "--algorithm", algorithm], code)
    info = json.loads((out / "run.json").read_text())
    labels = pd.read_parquet(out / "users_segmented.parquet", columns=["segment"])["segment"]
    return {"users": n, "contender": f"personae run --algorithm {algorithm}"
                                     + ("" if code is None else " (before)"),
            "seconds": result["seconds"], "stages": info["timings_seconds"],
            "peak_gib": result["peak_gib"], "k": info["segments"]["k"],
            "ari": ari(DATA / f"truth_{n}.npy", labels.to_numpy()),
            "note": "stages: " + ", ".join(f"{k} {v:.1f}s"
                                            for k, v in info["timings_seconds"].items())}


def run_reference(n: int, path: Path, mode: str) -> dict[str, object]:
    stem = DATA / f"reference_{n}"
    script = DATA / "reference.py"
    script.write_text(REFERENCE)
    result = measure([sys.executable, str(script), str(path), mode, str(stem)])
    seconds = result["seconds"]
    best, silhouette_seconds = Path(f"{stem}.txt").read_text().split()
    note = "silhouette on all rows for every K"
    if mode == "estimate":
        # The 7 unmeasured full silhouettes would each cost what the measured one did.
        seconds += 7 * float(silhouette_seconds)
        note = (f"ESTIMATE: full silhouette measured for K=2 ({float(silhouette_seconds):.0f}s)"
                " and counted 8 times")
    return {"users": n, "contender": "course reference", "seconds": round(seconds, 1),
            "peak_gib": result["peak_gib"], "k": int(best),
            "ari": ari(DATA / f"truth_{n}.npy", np.load(f"{stem}.npy")), "note": note}


def run_plain(n: int, path: Path) -> dict[str, object]:
    """The hand-written scikit-learn script (PLAIN), same data, same machine, same run."""
    stem = DATA / f"plain_{n}"
    script = DATA / "plain.py"
    script.write_text(PLAIN)
    result = measure([sys.executable, str(script), str(path), str(stem)])
    labels = np.load(f"{stem}.npy")
    return {"users": n, "contender": "plain scikit-learn script", "seconds": result["seconds"],
            "peak_gib": result["peak_gib"], "k": int(len(np.unique(labels))),
            "ari": ari(DATA / f"truth_{n}.npy", labels),
            "note": "sampled silhouette 2..9, n_init=10 refit, profile, Parquet; no report"}


def run_minibatch(n: int, path: Path) -> dict[str, object]:
    """MiniBatchKMeans told the true K, on the same scaled data: the 'scale' alternative."""
    stem = DATA / f"minibatch_{n}"
    script = DATA / "minibatch.py"
    script.write_text(MINIBATCH)
    result = measure([sys.executable, str(script), str(path), str(TRUE_K), str(stem)])
    fit_seconds, inertia = map(float, Path(f"{stem}.txt").read_text().split())
    ours = json.loads((DATA / f"run_{n}" / "run.json").read_text())
    our_inertia = ours["metrics"]["inertia_all_users"]
    return {"users": n, "contender": "MiniBatchKMeans (K given)", "seconds": result["seconds"],
            "peak_gib": result["peak_gib"], "k": TRUE_K,
            "ari": ari(DATA / f"truth_{n}.npy", np.load(f"{stem}.npy")),
            "note": f"fit alone {fit_seconds:.1f}s (personae's full K-means: "
                    f"{ours['timings_seconds']['cluster']:.1f}s); inertia "
                    f"{inertia / our_inertia - 1:+.1%} vs personae"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1M,10M")
    parser.add_argument("--reference", choices=["estimate", "full", "skip"], default="estimate")
    parser.add_argument("--algorithm", default="auto",
                        help="personae's algorithm (auto: the default of personae run)")
    parser.add_argument("--no-plain", action="store_true",
                        help="skip the hand-written scikit-learn script at 1M")
    parser.add_argument("--minibatch", action="store_true",
                        help="also time scikit-learn's MiniBatchKMeans at 1M and 10M")
    parser.add_argument("--before", type=Path, default=None,
                        help="a folder holding an earlier personae package: run it too, "
                             "first in each round, and compare its labels with this one's")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat every contender; medians and stage medians follow")
    args = parser.parse_args()
    rows = []
    for label in args.sizes.split(","):
        n = SIZES[label]
        path = generate(n)
        for _ in range(args.rounds):
            rows.extend(_round(n, path, args))
        if n == 100_000 and args.reference != "skip":
            rows.append(run_reference(n, path, args.reference))
            print(rows[-1], flush=True)
    stages = [(row["contender"], row.pop("stages")) for row in rows if "stages" in row]
    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.rounds > 1:
        print()
        print(table.groupby(["users", "contender"])[["seconds", "peak_gib"]].median()
              .to_string(float_format=lambda v: f"{v:.2f}"))
        print()
        by_stage = pd.DataFrame([{"contender": c, **s} for c, s in stages])
        print(by_stage.groupby("contender").median().T.to_string(
            float_format=lambda v: f"{v:.2f}"))


def _round(n: int, path: Path, args: argparse.Namespace) -> list[dict[str, object]]:
    """One round at n users: the earlier code (if any), this code, the plain script."""
    rows = []
    if args.before is not None:
        rows.append(run_personae(n, path, args.algorithm, args.before))
        print(_load(), rows[-1], flush=True)
    rows.append(run_personae(n, path, args.algorithm))
    print(_load(), rows[-1], flush=True)
    if args.before is not None:
        same = _same_labels(DATA / f"run_{n}_before", DATA / f"run_{n}")
        rows[-1]["note"] += f"; labels as before: {same}"
    if not args.no_plain and n == 1_000_000:
        rows.append(run_plain(n, path))
        print(_load(), rows[-1], flush=True)
    if args.minibatch and n >= 1_000_000:
        rows.append(run_minibatch(n, path))
        print(_load(), rows[-1], flush=True)
    return rows


def _same_labels(before: Path, now: Path) -> str:
    """'all N users' when every user has the same segment in both runs, else how many differ."""
    a = pd.read_parquet(before / "users_segmented.parquet", columns=["segment"])["segment"]
    b = pd.read_parquet(now / "users_segmented.parquet", columns=["segment"])["segment"]
    differ = int((a.to_numpy() != b.to_numpy()).sum())
    return f"all {len(a):,} users" if differ == 0 else f"{differ:,} users differ"


def _load() -> str:
    return f"[load {os.getloadavg()[0]:.1f}]"


if __name__ == "__main__":
    main()
