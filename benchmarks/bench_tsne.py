"""t-SNE for the report's map: scikit-learn's TSNE against openTSNE at 5k, 10k and 20k users.

    .venv/bin/python benchmarks/bench_tsne.py                  # 5k,10k,20k, seed 0
    .venv/bin/python benchmarks/bench_tsne.py --sizes 5k --seeds 0,1

Data: 15 generated features, 8 groups of unequal size and spread (what the map is drawn
from: the model's scaled feature space), the same rows and seed for both. Settings: those of
personae/profile/maps.py (perplexity 30, PCA start, learning rate auto, one thread); openTSNE
with its own defaults otherwise (FFT-accelerated gradients from 10k points, exaggeration
phase as scikit-learn's). Each contender runs in its own process (a fresh interpreter, its
import time excluded: only the fit is timed).

Quality, on the same 2,000 sampled points for both: trustworthiness (scikit-learn's, 10
neighbours: are the map's neighbours true neighbours) and kNN preservation (the share of each
point's 10 nearest neighbours in the features that are among its 10 nearest on the map,
neighbours searched among all points).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

SIZES = {"5k": 5_000, "10k": 10_000, "20k": 20_000}
FEATURES, GROUPS, SAMPLE, NEIGHBOURS = 15, 8, 2_000, 10
CONTENDERS = ("scikit-learn", "openTSNE")


def users(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-4, 4, size=(GROUPS, FEATURES))
    weights = rng.dirichlet(np.full(GROUPS, 2.0))
    group = rng.choice(GROUPS, size=n, p=weights)
    spread = rng.uniform(0.6, 1.6, size=GROUPS)[group, None]
    return (centres[group] + rng.normal(size=(n, FEATURES)) * spread).astype(np.float32)


def embed(contender: str, X: np.ndarray, seed: int) -> np.ndarray:
    if contender == "scikit-learn":
        from sklearn.manifold import TSNE

        return np.asarray(TSNE(n_components=2, perplexity=30.0, init="pca",
                               learning_rate="auto", random_state=seed, n_jobs=1)
                          .fit_transform(X))
    from openTSNE import TSNE as OpenTSNE

    return np.asarray(OpenTSNE(n_components=2, perplexity=30.0, initialization="pca",
                               learning_rate="auto", random_state=seed, n_jobs=1,
                               verbose=False).fit(X))


def quality(X: np.ndarray, Y: np.ndarray, seed: int) -> dict[str, float]:
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import NearestNeighbors

    sample = np.random.default_rng(seed + 1).choice(len(X), size=min(SAMPLE, len(X)),
                                                     replace=False)
    trust = trustworthiness(X[sample], Y[sample], n_neighbors=NEIGHBOURS)

    def neighbours(points: np.ndarray) -> np.ndarray:
        found = NearestNeighbors(n_neighbors=NEIGHBOURS + 1).fit(points)
        return found.kneighbors(points[sample], return_distance=False)[:, 1:]

    near_x, near_y = neighbours(X), neighbours(Y)
    kept = np.mean([len(set(a) & set(b)) / NEIGHBOURS for a, b in zip(near_x, near_y,
                                                                       strict=True)])
    return {"trustworthiness": float(trust), "knn_kept": float(kept)}


def one(contender: str, n: int, seed: int) -> dict[str, float]:
    X = users(n, seed)
    started = time.perf_counter()
    Y = embed(contender, X, seed)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, **quality(X, Y, seed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5k,10k,20k")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--one", nargs=3, metavar=("CONTENDER", "N", "SEED"),
                        help=argparse.SUPPRESS)  # a child process: one fit, JSON out
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), int(args.one[2]))))
        return
    print("| users | t-SNE | seed | seconds | trustworthiness | kNN kept |")
    print("|---:|---|---:|---:|---:|---:|")
    for size in args.sizes.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            for contender in CONTENDERS:
                child = subprocess.run([sys.executable, __file__, "--one", contender,
                                        str(SIZES[size]), str(seed)],
                                       capture_output=True, text=True, check=False)
                if child.returncode != 0:
                    last = (child.stderr.strip().splitlines() or ["failed"])[-1]
                    print(f"| {size} | {contender} | {seed} | {last} | | |", flush=True)
                    continue
                got = json.loads(child.stdout.strip().splitlines()[-1])
                print(f"| {size} | {contender} | {seed} | {got['seconds']:.1f} | "
                      f"{got['trustworthiness']:.3f} | {got['knn_kept']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
