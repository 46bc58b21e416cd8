"""Benchmark: event log -> per-user features, DuckDB (personae) vs a plain pandas groupby.

    .venv/bin/python benchmarks/bench_events.py --events 10M,100M

Generates skewed synthetic events (lognormal events per user: many light users, a few heavy
ones; evening-heavy hours; Zipf items) as Parquet under benchmarks/.data/ (chunked, so
100M rows never sit in memory), then runs each engine in its own subprocess and reports
wall time and peak RSS. pandas runs under an address-space cap (RLIMIT_AS) so running out
of memory is reported as OOM instead of taking the machine down. Before timing, both
engines run on a small log and their features are compared, so the peer computes the same
thing. Add --clean to delete the generated data afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
EVENT_TYPES = np.array(["view", "click", "search", "add_to_cart", "purchase", "return"])
TYPE_P = np.array([0.55, 0.2, 0.12, 0.08, 0.04, 0.01])
START = np.datetime64("2024-01-01T00:00:00", "us")
HOUR_P = np.array([1, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 7, 7, 6, 6, 6, 7, 9, 10, 10, 8, 5, 2],
                  dtype=float)
HOUR_P /= HOUR_P.sum()
CHUNK = 5_000_000


def parse_count(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KMG")) * scale)


def generate(n_events: int, folder: Path, seed: int = 0) -> Path:
    """Write ``n_events`` events in Parquet parts of CHUNK rows; skip if already there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    done = folder / "_SUCCESS"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    n_users = max(100, n_events // 100)
    weights = rng.lognormal(mean=0.0, sigma=1.6, size=n_users)
    cdf = np.cumsum(weights / weights.sum())
    first_day = rng.integers(0, 300, size=n_users)       # when each user arrives
    span = rng.integers(1, 366, size=n_users)             # how long they stay
    written = 0
    part = 0
    while written < n_events:
        n = min(CHUNK, n_events - written)
        users = np.minimum(np.searchsorted(cdf, rng.random(n)), n_users - 1)
        day = np.minimum(first_day[users] + (rng.random(n) * span[users]).astype(np.int64), 365)
        hour = rng.choice(24, size=n, p=HOUR_P)
        second = rng.integers(0, 3600, size=n)
        ts = START + (day * 86_400 + hour * 3600 + second).astype("timedelta64[s]")
        types = rng.choice(len(EVENT_TYPES), size=n, p=TYPE_P)
        items = np.minimum(rng.zipf(1.3, size=n), 50_000).astype(np.int32)
        amount = np.where(EVENT_TYPES[types] == "purchase",
                          np.round(rng.lognormal(3.0, 1.0, size=n), 2), np.nan)
        table = pa.table({
            "user_id": pa.array(users.astype(np.int64)),
            "timestamp": pa.array(ts.astype("datetime64[us]")),
            "event_type": pa.DictionaryArray.from_arrays(
                pa.array(types.astype(np.int32)), pa.array(EVENT_TYPES)),
            "item_id": pa.array(items),
            "category": pa.DictionaryArray.from_arrays(
                pa.array((items % 40).astype(np.int32)),
                pa.array([f"cat_{i:02d}" for i in range(40)])),
            "amount": pa.array(amount, mask=np.isnan(amount)),
        })
        pq.write_table(table, folder / f"part-{part:04d}.parquet", row_group_size=1_000_000)
        written += n
        part += 1
    done.touch()
    return folder


# --- the pandas peer -----------------------------------------------------------------------

def pandas_features(folder: Path, gap_minutes: float = 30, top: int = 8):
    """The same features as personae.features.from_events, in plain pandas."""
    import pandas as pd

    df = pd.read_parquet(folder)  # event_type and category arrive as categoricals
    df = df.dropna(subset=["user_id", "timestamp"]).drop_duplicates()
    ref = df["timestamp"].max().normalize() + pd.Timedelta(days=1)
    df = df.sort_values(["user_id", "timestamp"], kind="stable", ignore_index=True)
    uid = df["user_id"]
    ts = df["timestamp"]
    day = ts.dt.normalize()
    hour = ts.dt.hour
    is_ret = df["event_type"].eq("return") | df["amount"].lt(0)
    is_pur = df["event_type"].eq("purchase")
    g = df.groupby("user_id", sort=True)
    out = pd.DataFrame(index=g.size().index)
    out["event_count"] = g.size()
    first_ts = g["timestamp"].min()
    buy = df.loc[is_pur & ~is_ret]
    last_purchase = buy.groupby("user_id")["timestamp"].max().reindex(out.index)
    days = pd.Timedelta(days=1)
    out["recency_days"] = (ref - last_purchase.fillna(first_ts)) / days
    out["frequency"] = (pd.DataFrame({"u": buy["user_id"], "d": day[buy.index]})
                        .drop_duplicates().groupby("u").size()
                        .reindex(out.index, fill_value=0))
    money = df.loc[is_pur].groupby("user_id")["amount"].sum().reindex(out.index, fill_value=0)
    out["monetary_total"] = money
    out["monetary_mean"] = (money / out["frequency"].where(out["frequency"] > 0)).fillna(0.0)
    out["tenure_days"] = (ref - first_ts) / days
    daily = pd.DataFrame({"u": uid, "d": day}).drop_duplicates()
    out["active_days"] = daily.groupby("u").size()
    out["events_per_active_day"] = out["event_count"] / out["active_days"]
    spread = (daily.groupby("u")["d"].max() - daily.groupby("u")["d"].min()) / days
    out["days_between_visits"] = (spread / (out["active_days"] - 1)).where(
        out["active_days"] > 1, out["tenure_days"])
    gap = pd.Timedelta(minutes=gap_minutes)
    new = uid.ne(uid.shift()) | ts.diff().ge(gap)
    sid = new.cumsum()
    sess = pd.DataFrame({"u": uid, "s": sid, "t": ts}).groupby("s").agg(
        u=("u", "first"), t0=("t", "min"), t1=("t", "max"))
    sess["minutes"] = (sess["t1"] - sess["t0"]) / pd.Timedelta(minutes=1)
    out["session_count"] = sess.groupby("u").size()
    out["session_minutes_median"] = sess.groupby("u")["minutes"].median()
    out["events_per_session"] = out["event_count"] / out["session_count"]
    counts = df.groupby(["user_id", "event_type"], observed=True).size().unstack(fill_value=0)
    order = df["event_type"].value_counts()
    order = order[order > 0]
    top_types = sorted(order.index, key=lambda t: (-order[t], t))[:top]
    for t in top_types:
        out[f"share_event_{t}"] = counts[t] / out["event_count"]
    part = pd.cut(hour, [-1, 5, 11, 17, 23], labels=["night", "morning", "afternoon",
                                                      "evening"])
    parts = pd.DataFrame({"u": uid, "p": part}).groupby(["u", "p"], observed=False).size()
    parts = parts.unstack(fill_value=0)
    for p in ("night", "morning", "afternoon", "evening"):
        out[f"share_{p}"] = parts[p] / out["event_count"]
    out["share_weekend"] = ts.dt.dayofweek.ge(5).groupby(uid).sum() / out["event_count"]
    hours = pd.DataFrame({"u": uid, "h": hour}).groupby(["u", "h"]).size().rename("c")
    hours = hours.reset_index().sort_values(["u", "c", "h"], ascending=[True, False, True])
    out["peak_hour"] = hours.drop_duplicates("u").set_index("u")["h"]
    out["distinct_items"] = g["item_id"].nunique()
    out["distinct_categories"] = g["category"].nunique()
    cats = df.groupby(["user_id", "category"], observed=True).size().rename("c").reset_index()
    total = cats.groupby("user_id")["c"].transform("sum")
    p = cats["c"] / total
    out["category_entropy"] = (-(p * np.log2(p))).groupby(cats["user_id"]).sum().clip(lower=0)
    last30 = ts.gt(ref - 30 * days).groupby(uid).sum()
    prev30 = (ts.gt(ref - 60 * days) & ts.le(ref - 30 * days)).groupby(uid).sum()
    out["events_last_30d"], out["events_prev_30d"] = last30, prev30
    both = last30 + prev30
    out["trend_30d"] = ((last30 - prev30) / both.where(both > 0)).fillna(0.0)
    out["return_share"] = is_ret.groupby(uid).sum() / out["event_count"]
    return out.reset_index(names="user_id")


# --- workers (each in its own process) -----------------------------------------------------

def worker(engine: str, folder: Path, memory_limit: str, threads: int, out: Path | None) -> None:
    started = time.perf_counter()
    if engine == "duckdb":
        from personae.features import from_events

        frame = from_events(folder, memory_limit=memory_limit, threads=threads).frame
    else:
        frame = pandas_features(folder)
    seconds = time.perf_counter() - started
    if out is not None:
        frame.to_parquet(out, index=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_bytes": peak, "users": len(frame),
                      "features": frame.shape[1] - 1}))


def run_worker(engine: str, folder: Path, args: argparse.Namespace,
               out: Path | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", engine, "--path", str(folder),
           "--memory-limit", args.memory_limit, "--threads", str(args.threads)]
    if out is not None:
        cmd += ["--out", str(out)]
    cap = int(args.pandas_cap_gib * 2**30) if engine == "pandas" else None

    def limit() -> None:
        if cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=limit,
                          env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        oom = "MemoryError" in proc.stderr or "OutOfMemory" in proc.stderr or \
            "bad_alloc" in proc.stderr or proc.returncode in (-9, 137)
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        return {"status": "OOM" if oom else "failed", "seconds": wall, "detail": tail[0],
                "peak_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}
    return {"status": "ok", **json.loads(proc.stdout.strip().splitlines()[-1])}


def check_same(args: argparse.Namespace) -> str:
    """Both engines on 300k events: the features must agree."""
    import pandas as pd

    folder = generate(300_000, DATA / "events_check")
    a, b = DATA / "check_duckdb.parquet", DATA / "check_pandas.parquet"
    for engine, out in (("duckdb", a), ("pandas", b)):
        result = run_worker(engine, folder, args, out)
        if result["status"] != "ok":
            raise SystemExit(f"check run of {engine} failed: {result}")
    x, y = pd.read_parquet(a), pd.read_parquet(b)
    common = [c for c in x.columns if c in y.columns]
    missing = sorted(set(x.columns) ^ set(y.columns))
    if missing or len(x) != len(y):
        raise SystemExit(f"engines differ in columns {missing} or rows {len(x)} vs {len(y)}")
    for c in common:
        np.testing.assert_allclose(x[c].to_numpy(float), y[c].to_numpy(float), rtol=1e-6,
                                   atol=1e-9, err_msg=c)
    return f"check: {len(x):,} users x {len(common) - 1} features agree (300k events)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="10M", help="comma-separated sizes, e.g. 10M,100M")
    parser.add_argument("--memory-limit", default="4GiB", help="DuckDB memory_limit")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--pandas-cap-gib", type=float, default=16.0,
                        help="address-space cap for the pandas peer")
    parser.add_argument("--engines", default="duckdb,pandas")
    parser.add_argument("--clean", action="store_true", help="delete generated data at the end")
    parser.add_argument("--worker", choices=["duckdb", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, Path(args.path), args.memory_limit, args.threads,
               Path(args.out) if args.out else None)
        return
    sys.path.insert(0, str(HERE.parent))
    print(check_same(args), flush=True)
    rows = []
    for size in [parse_count(s) for s in args.events.split(",")]:
        started = time.perf_counter()
        folder = generate(size, DATA / f"events_{size}")
        gib = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 2**30
        print(f"generated {size:,} events ({gib:.2f} GiB parquet) in "
              f"{time.perf_counter() - started:.0f}s", flush=True)
        results = {}
        for engine in args.engines.split(","):
            results[engine] = run_worker(engine, folder, args)
            r = results[engine]
            print(f"  {engine}: {r['status']} {r['seconds']:.1f}s "
                  f"{r['peak_bytes'] / 2**30:.2f} GiB {r.get('detail', '')}", flush=True)
        rows.append((size, results))
    print(f"\n{'events':>12} {'engine':>7} {'status':>7} {'seconds':>8} {'peak GiB':>9} "
          f"{'users':>10} {'pandas/duckdb':>14}")
    for size, results in rows:
        base = results.get("duckdb", {})
        for engine, r in results.items():
            ratio = ""
            if engine == "pandas" and r["status"] == "ok" and base.get("status") == "ok":
                ratio = f"{r['seconds'] / base['seconds']:.1f}x"
            print(f"{size:>12,} {engine:>7} {r['status']:>7} {r['seconds']:>8.1f} "
                  f"{r['peak_bytes'] / 2**30:>9.2f} {r.get('users', 0):>10,} {ratio:>14}")
    print(f"(threads={args.threads}, duckdb memory_limit={args.memory_limit}, pandas "
          f"RLIMIT_AS={args.pandas_cap_gib} GiB; machine shared with other jobs)")
    if args.clean:
        shutil.rmtree(DATA, ignore_errors=True)


if __name__ == "__main__":
    main()
