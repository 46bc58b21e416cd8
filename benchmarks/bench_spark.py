"""Spark local[2] vs the embedded engine on the same data: seconds, where they go, memory,
and whether the two runs agree.

    .venv/bin/python benchmarks/bench_spark.py --users 100k --events 1M     # a quick check
    .venv/bin/python benchmarks/bench_spark.py --users 1M,10M --events 10M,100M --cores 2

Each contender runs in its own process pinned to the same ``--cores`` CPUs (and as many
BLAS/OpenMP threads); its peak memory is the largest sum of resident memory over its whole
process tree (the JVM and the Python workers included), sampled every 0.2 s from /proc.
Users: 15 features, 5 planted blobs, ``--algorithm`` (kmeans by default) with K chosen by
each engine (the embedded vote on all users; Spark: the vote on its driver sample, then
pyspark.ml KMeans, or BisectingKMeans, or GaussianMixture over everyone); the table gives
both K and the ARI of the Spark labels against the embedded ones (the target: ARI >= 0.95
and the same K). Events: the generated logs of bench_events.py, per-user features only.
Phases, in seconds: jvm (SparkSession start), read (the input and the id check, or the
event features), collect (the driver sample), fit (embedded: the K vote and the fit;
Spark: fit_sample, the embedded run on the driver sample with its checks, and fit_all,
pyspark.ml over everyone), checks (embedded: consistency and stability), label (everyone
labelled), profile (profiles from everyone), write.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data" / "spark"
sys.path.insert(0, str(HERE))

from bench_events import generate, parse_count  # noqa: E402


def users_table(n: int) -> Path:
    path = DATA / f"users_{n}.parquet"
    if path.exists():
        return path
    import pandas as pd
    from sklearn.datasets import make_blobs

    DATA.mkdir(parents=True, exist_ok=True)
    X, _ = make_blobs(n_samples=n, centers=5, n_features=15, cluster_std=1.5,
                      center_box=(-10, 10), random_state=0)
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"m{i}" for i in range(15)])
    frame.insert(0, "user_id", np.arange(n, dtype=np.int64))
    frame.to_parquet(path)
    return path


def _tree_rss(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as handle:
                    stack.extend(int(c) for c in handle.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measure(args: list[str], cores: int | None) -> dict:
    env = dict(os.environ)
    pin = None
    if cores:
        cpus = sorted(os.sched_getaffinity(0))[:cores]
        env.update({name: str(len(cpus)) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                      "MKL_NUM_THREADS")})

        def pin() -> None:
            os.sched_setaffinity(0, cpus)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=pin)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.2)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        return {"seconds": seconds, "peak_gib": peak / 2**30, "error": err[-400:]}
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "seconds": seconds, "peak_gib": peak / 2**30}


def _session(master: str, partitions: int, memory: str):  # type: ignore[no-untyped-def]
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    started = time.perf_counter()
    spark = (SparkSession.builder.master(master).appName("bench")
             .config("spark.driver.memory", memory).config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", str(partitions))
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.range(1).count()
    return spark, time.perf_counter() - started


# run.json's timings -> the table's phases
EMBEDDED_PHASES = {"read": ("read",), "fit": ("preprocess", "choose_algorithm", "choose_k",
                                             "cluster"),
                   "checks": ("consistency", "stability"),
                   "profile": ("profile", "personas", "journeys_and_map", "reference"),
                   "write": ("write",)}
SPARK_PHASES = {"read": ("read",), "collect": ("collect_sample",),
                "fit_sample": ("fit_sample",), "fit_all": ("fit",), "label": ("assign",),
                "profile": ("profile",), "write": ("write",)}


def _grouped(timings: dict[str, float], phases: dict[str, tuple[str, ...]]) -> dict[str, float]:
    return {name: round(sum(timings.get(key, 0.0) for key in keys), 1)
            for name, keys in phases.items()}


def worker(kind: str, engine: str, path: Path, out: Path, args: argparse.Namespace) -> dict:
    import warnings

    warnings.simplefilter("ignore")
    shutil.rmtree(out, ignore_errors=True)
    if engine == "embedded":
        started = time.perf_counter()
        if kind == "users":
            from personae import segment

            result = segment(str(path), algorithm=args.algorithm)
            result.save(out)
            return {"k": result.n_segments, "phases": _grouped(
                json.loads((out / "run.json").read_text())["timings_seconds"], EMBEDDED_PHASES),
                "labels": str(out / "users_segmented.parquet")}
        from personae.features.events import from_events, write_features

        out.mkdir(parents=True)
        features = from_events(str(path), threads=2)
        write_features(features, out / "features.parquet")
        return {"users": len(features.frame),
                "phases": {"read+write": round(time.perf_counter() - started, 1)}}
    spark, jvm = _session(args.master, args.shuffle_partitions, args.driver_memory)
    try:
        if kind == "users":
            from personae.spark.run import run

            sample = {"sample_users": args.sample_users} if args.sample_users else {}
            result = run(str(path), out, spark=spark, algorithm=args.algorithm, **sample)
            return {"k": result.k, "phases": {"jvm": round(jvm, 1), **_grouped(
                result.timings, SPARK_PHASES)}, "iterations": result.refine.get("iterations"),
                "labels": str(out / "users_segmented.parquet")}
        from personae.spark import write_events_features

        out.mkdir(parents=True)
        started = time.perf_counter()
        report = write_events_features(str(path), out / "features.parquet", spark=spark)
        return {"users": report.users, "phases": {
            "jvm": round(jvm, 1), "read+write": round(time.perf_counter() - started, 1)}}
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="200k", help="user-table sizes, e.g. 200k,1M")
    parser.add_argument("--events", default="1M", help="event-log sizes, e.g. 1M,10M")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--algorithm", default="kmeans", choices=("kmeans", "bisecting", "gmm"),
                        help="users: the algorithm both engines run (K chosen by each)")
    parser.add_argument("--driver-memory", default="4g",
                        help="spark.driver.memory: in local mode the heap every task shares")
    parser.add_argument("--shuffle-partitions", type=int, default=200,
                        help="spark.sql.shuffle.partitions (Spark's default 200; adaptive "
                             "execution merges small ones). 8 ran out of execution memory "
                             "at 100M events")
    parser.add_argument("--sample-users", type=int, default=None,
                        help="Spark's driver sample (default: the engine's, 200,000); a "
                             "smaller one makes a small check exercise the full fit")
    parser.add_argument("--cores", type=int, default=2,
                        help="CPUs each contender is pinned to (0 = no pinning)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, engine, path = args.worker
        out = DATA / f"out_{kind}_{engine}_{Path(path).stem}"
        print(json.dumps(worker(kind, engine, Path(path), out, args)))
        return
    rows = []
    agreement: list[str] = []
    common = ["--master", args.master, "--shuffle-partitions", str(args.shuffle_partitions),
              "--driver-memory", args.driver_memory, "--algorithm", args.algorithm]
    for size in [s for s in args.users.split(",") if s]:
        path = users_table(parse_count(size))
        sample = ["--sample-users", str(args.sample_users)] if args.sample_users else []
        results = {e: measure(["--worker", "users", e, str(path), *common, *sample],
                              args.cores) for e in ("embedded", "spark")}
        ari = ""
        if all("labels" in r for r in results.values()):
            import pandas as pd
            from sklearn.metrics import adjusted_rand_score

            a = pd.read_parquet(results["embedded"]["labels"]).set_index("user_id")["segment"]
            b = pd.read_parquet(results["spark"]["labels"]).set_index("user_id")["segment"]
            ari = f"{adjusted_rand_score(a.loc[b.index], b):.4f}"
            same_k = results["embedded"]["k"] == results["spark"]["k"]
            met = same_k and float(ari) >= 0.95
            agreement.append(f"{size} users: ARI {ari}, K {results['embedded']['k']} embedded "
                             f"vs {results['spark']['k']} Spark: target (ARI >= 0.95, same K) "
                             + ("met" if met else "NOT met"))
        rows += [("users", size, e, r, ari) for e, r in results.items()]
    for size in [s for s in args.events.split(",") if s]:
        folder = generate(parse_count(size), DATA.parent / "events" / size)
        for e in ("embedded", "spark"):
            rows.append(("events", size, e, measure(["--worker", "events", e, str(folder),
                                                     *common], args.cores), ""))
    print(f"\n{'data':7} {'size':>6} {'engine':9} {'seconds':>8} {'peak GiB':>8} "
          f"{'K':>3} {'ARI':>7}  where the time goes")
    for kind, size, engine, r, ari in rows:
        where = r.get("error") or ", ".join(f"{k} {v}" for k, v in r.get("phases", {}).items())
        print(f"{kind:7} {size:>6} {engine:9} {r['seconds']:8.1f} {r['peak_gib']:8.2f} "
              f"{r.get('k', ''):>3} {ari:>7}  {where}")
    print(f"cores: {args.cores or 'all'} per contender; master {args.master}; "
          f"{args.shuffle_partitions} shuffle partitions; driver heap {args.driver_memory}; "
          f"users: --algorithm {args.algorithm}")
    for line in agreement:
        print(line)


if __name__ == "__main__":
    main()
