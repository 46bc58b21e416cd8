"""Every algorithm (and auto) on suites with a known answer, and at 1M users for speed.

    .venv/bin/python benchmarks/bench_algorithms.py                  # quality table
    .venv/bin/python benchmarks/bench_algorithms.py --suites blobs,noise --algorithms auto
    .venv/bin/python benchmarks/bench_algorithms.py --seed 1     # another random_state
    .venv/bin/python benchmarks/bench_algorithms.py --speed          # 1M x 15, one process each

Quality: generated suites (well-separated blobs, anisotropic, uneven sizes, nested groups,
noise points, overlapping Gaussians; seeds fixed) and labelled real sets from
../shared/data/clustbench (Gagolewski 2022; best ARI over the reference partitions).
Each run goes through ``SegmentModel`` (the same cleaning and scaling users get). Noise
(truth 0, or predicted -1) is a group of its own in the ARI; "K found" compares segments
(edge users excluded) with the true number of groups (noise excluded).

Small: ``--speed --n 10000 --features 20 --whole-run`` is issue 26's "every named algorithm
with its automatic parameters on 10k users x 20 features" (``segment()`` per algorithm,
bisecting included: ``--algorithms kmeans,...,bisecting``).

Speed: 1,000,000 users x 15 features (8 Gaussian groups), ``SegmentModel.fit`` per
algorithm in its own process; wall time, the process's own peak resident memory
(``peak_gib``) and the peak summed over it and its worker processes (``peak_tree_gib``,
sampled every 0.2 s from /proc: auto fits its candidates in parallel workers).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data" / "clustbench"
ALGORITHMS = ["kmeans", "minibatch", "gmm", "dbscan", "hdbscan", "hierarchical", "meanshift",
              "auto"]
REAL = ["fcps/hepta", "fcps/tetra", "fcps/lsun", "fcps/atom", "sipu/aggregation",
        "sipu/jain", "uci/wine", "uci/wdbc", "uci/ecoli"]


def _blobs(n: int, centers: int, d: int, seed: int, std: float = 1.0,
           box: tuple[float, float] = (-12, 12)) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=n, centers=centers, n_features=d, cluster_std=std,
                      center_box=box, random_state=seed)
    return X, y + 1


def generated() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    suites = {"blobs": _blobs(2000, 5, 8, 0)}
    # scikit-learn's own anisotropic example (random_state=170): K-means cuts it wrongly.
    X, y = make_blobs(n_samples=1500, random_state=170)
    suites["anisotropic"] = (X @ np.array([[0.6, -0.6], [-0.4, 0.8]]), y + 1)
    X, y = make_blobs(n_samples=[1600, 300, 100], n_features=6, cluster_std=1.0,
                      center_box=(-10, 10), random_state=2)
    suites["uneven_sizes"] = (X, y + 1)
    broad = rng.uniform(-30, 30, size=(3, 6))
    parts, truth = [], []
    for b in range(3):
        for s in range(2):
            center = broad[b] + rng.normal(0, 4, size=6)
            parts.append(center + rng.normal(0, 0.8, size=(300, 6)))
            truth += [2 * b + s + 1] * 300
    suites["nested_groups"] = (np.vstack(parts), np.array(truth))
    X, y = _blobs(1800, 4, 5, 3, std=0.8)
    noise = rng.uniform(X.min(0) - 2, X.max(0) + 2, size=(200, 5))
    suites["noise_points"] = (np.vstack([X, noise]), np.concatenate([y, np.zeros(200, int)]))
    suites["overlapping"] = _blobs(2000, 3, 5, 4, std=2.2, box=(-5, 5))
    return suites


def real(names: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for name in names:
        base = SHARED / name
        if not base.with_suffix(".data.gz").exists():
            continue
        X = np.loadtxt(gzip.open(f"{base}.data.gz", "rt"), ndmin=2)
        labels = [np.loadtxt(gzip.open(p, "rt"), dtype=int)
                  for p in sorted(base.parent.glob(f"{base.name}.labels*.gz"))]
        out[name] = (X, labels[0])
        out[name + "#all"] = (X, np.stack(labels))  # type: ignore[assignment]
    return out


def score(truth: np.ndarray, labels: np.ndarray) -> tuple[float, bool, int]:
    truths = truth if truth.ndim == 2 else truth[None, :]
    best = max(truths, key=lambda t: adjusted_rand_score(t, labels))
    k_true = len(np.unique(best[best > 0]))
    k_found = len(np.unique(labels[labels >= 0]))
    return float(adjusted_rand_score(best, labels)), k_found == k_true, k_found


def run_quality(suites: list[str], algorithms: list[str], seed: int = 0) -> pd.DataFrame:
    from personae import SegmentModel

    data = generated()
    data.update({k.removesuffix("#all"): v for k, v in real(REAL).items() if k.endswith("#all")})
    rows = []
    for suite, (X, truth) in data.items():
        if suites and suite not in suites:
            continue
        frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
        for algorithm in algorithms:
            started = time.perf_counter()
            # the algorithm's own partition: what the table measures, not the persona level
            model = SegmentModel(algorithm=algorithm, stability=False, log_transform=False,
                                 persona_levels=False, random_state=seed).fit(frame)
            ari, found, k = score(truth, model.natural_labels_)
            chosen = model.algorithm_choice_.name if model.algorithm_choice_ else algorithm
            rows.append({"suite": suite, "algorithm": algorithm, "ari": round(ari, 3),
                         "k_found": found, "k": k, "chosen": chosen,
                         "seconds": round(time.perf_counter() - started, 1)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> str:
    ari = table.pivot(index="suite", columns="algorithm", values="ari")
    ari = ari[[a for a in ALGORITHMS if a in ari.columns]]
    k = table.pivot(index="suite", columns="algorithm", values="k_found")
    lines = [ari.to_string(), "", "true number of groups found (share of suites):",
             (k.mean().round(2)).to_string()]
    if "auto" in ari.columns and len(ari.columns) > 1:
        singles = ari.drop(columns=["auto"])
        gap = singles.max(axis=1) - ari["auto"]
        chosen = table[table["algorithm"] == "auto"].set_index("suite")["chosen"]
        lines += ["", "auto: chosen algorithm and gap to the best single algorithm:",
                  pd.DataFrame({"chosen": chosen, "best_single": singles.idxmax(axis=1),
                                "gap": gap.round(3)}).to_string(),
                  f"suites where auto is > 0.05 ARI behind the best: {int((gap > 0.05).sum())}"
                  f" of {len(gap)}"]
    return "\n".join(lines)


def speed_one(algorithm: str, n: int, features: int, whole_run: bool) -> None:
    from personae import SegmentModel, segment

    X, _ = _blobs(n, 8, features, 7, std=1.5, box=(-8, 8))
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"f{i}" for i in range(features)])
    frame.insert(0, "user_id", np.arange(n))
    started = time.perf_counter()
    if whole_run:  # what `segment(table, algorithm=...)` costs a user: checks, profiles...
        model = segment(frame, algorithm=algorithm, random_state=0).model
    else:
        model = SegmentModel(algorithm=algorithm, random_state=0).fit(frame)
    print(json.dumps({"algorithm": algorithm, "fit_seconds": round(time.perf_counter() - started,
                                                                    1),
                      "segments": model.n_clusters_, "timings": {k: round(v, 1) for k, v in
                                                                 model.timings_.items()},
                      "chosen": model.algorithm_choice_.name if model.algorithm_choice_
                      else algorithm,
                      "peak_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                        / 2**20, 2)}))


def _tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (auto's worker processes)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * resource.getpagesize()
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree.update(children)
        frontier = children
    return sum(rss.get(pid, 0) for pid in tree)


def run_speed(algorithms: list[str], n: int, features: int, whole_run: bool) -> pd.DataFrame:
    rows = []
    for algorithm in algorithms:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, __file__, "--speed-one", algorithm, "--n",
                                  str(n), "--features", str(features)]
                                 + (["--whole-run"] if whole_run else []),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak = 0
        while child.poll() is None:
            peak = max(peak, _tree_rss(child.pid))
            time.sleep(0.2)
        out, err = child.communicate()
        wall = time.perf_counter() - started
        result = json.loads(out.strip().splitlines()[-1]) if child.returncode == 0 \
            else {"error": err[-300:]}
        result["peak_tree_gib"] = round(peak / 2**30, 2)
        rows.append({"algorithm": algorithm, "wall_seconds": round(wall, 1), **result})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suites", default="")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--speed-one", default=None)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=15)
    parser.add_argument("--whole-run", action="store_true",
                        help="time segment() (the checks, profiles and personas too), not "
                             "SegmentModel.fit alone")
    parser.add_argument("--seed", type=int, default=0,
                        help="random_state of every fit (the suites' data stay the same)")
    args = parser.parse_args()
    algorithms = [a for a in args.algorithms.split(",") if a]
    if args.speed_one:
        speed_one(args.speed_one, args.n, args.features, args.whole_run)
    elif args.speed:
        print(run_speed(algorithms, args.n, args.features, args.whole_run).to_string())
    else:
        table = run_quality([s for s in args.suites.split(",") if s], algorithms,
                            args.seed)
        print(summary(table))


if __name__ == "__main__":
    main()
