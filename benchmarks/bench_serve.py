"""Throughput and latency of `personae serve` against a bare FastAPI endpoint, and batch
assignment through `personae assign`, printed as one table.

    .venv/bin/python benchmarks/bench_serve.py                  # wrk if on PATH, else httpx
    .venv/bin/python benchmarks/bench_serve.py --seconds 5 --connections 1,32 --batch-users 1M

The model: K-means (K=4) on the Online Retail II event features (../shared/data), or any
model folder with --model (its run folder's users_segmented.parquet gives the users).
Every server is a separate `uvicorn` process with one worker, started and stopped here;
the load client runs on the same cores (wrk with 1 thread, or an asyncio httpx loop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RETAIL = ROOT.parent / "shared" / "data" / "online_retail_ii" / "online_retail_ii_2009_2010.parquet"
DATA = ROOT / "benchmarks" / ".data"
EVENTS_CONNECTIONS = 4  # features in DuckDB, one request a core at once: more only queue

BARE = textwrap.dedent("""
    import sys, uvicorn
    from fastapi import FastAPI
    app = FastAPI()
    @app.post("/bare")
    async def bare():
        return {"segment": 0}
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False)
""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except httpx.TransportError:
            if process.poll() is not None:
                message = process.stderr.read().decode()[-2000:] if process.stderr else ""
                raise SystemExit(f"server failed: {message}") from None
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not start")


def build_model(folder: Path) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """K-means on Online Retail II features; returns model, users, events."""
    from personae.features.events import from_events
    from personae.model import SegmentModel

    events = pd.read_parquet(RETAIL)
    features = from_events(events).frame
    model = SegmentModel(algorithm="kmeans",
                         k=4, id_column="user_id", stability=False).fit(features)
    model.save(folder / "model")
    return folder / "model", features, events


def wrk(url: str, body: str, seconds: float, connections: int, scratch: Path) -> dict:
    script = scratch / "post.lua"
    (scratch / "body.json").write_text(body)
    script.write_text(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"'
                      f'\nwrk.body = io.open("{scratch / "body.json"}"):read("*a")\n')
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "--timeout", "10s", "-s", str(script), url], capture_output=True,
                         text=True, check=True).stdout
    units = {"us": 1e-3, "ms": 1.0, "s": 1e3}

    def latency(pct: str) -> float:
        found = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)$", out, re.M)
        return float(found.group(1)) * units[found.group(2)] if found else float("nan")

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {"rps": float(rps.group(1)) if rps else 0.0,
            "p50": latency("50"), "p99": latency("99"),
            "errors": (int(errors.group(1)) if errors else 0)
            + (int(timeouts.group(1)) if timeouts else 0)}


def httpx_load(url: str, body: str, seconds: float, connections: int) -> dict:
    async def run() -> dict:
        times: list[float] = []
        errors = 0
        stop = time.perf_counter() + seconds
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < stop:
                    t = time.perf_counter()
                    answer = await client.post(url, content=body,
                                               headers={"content-type": "application/json"})
                    times.append((time.perf_counter() - t) * 1e3)
                    errors += answer.status_code != 200
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            elapsed = time.perf_counter() - started
        times.sort()
        return {"rps": len(times) / elapsed, "p50": statistics.median(times),
                "p99": times[int(0.99 * (len(times) - 1))], "errors": errors}

    return asyncio.run(run())


def batch_assign(model_dir: Path, users: pd.DataFrame, n: int, scratch: Path) -> float:
    """Seconds of `personae assign` (the CLI, own process) on n users drawn from `users`."""
    rng = np.random.default_rng(0)
    big = users.iloc[rng.integers(0, len(users), n)].reset_index(drop=True)
    big["user_id"] = np.arange(n)
    path = scratch / f"users_{n}.parquet"
    big.to_parquet(path)
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "personae"), "assign", str(model_dir),
                    str(path), "--out", str(scratch / "assigned.parquet")], check=True,
                   capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model folder (default: built here)")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", default="1,32")
    parser.add_argument("--batch-users", default="1M")
    parser.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto")
    args = parser.parse_args()
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk")
                                                        else "httpx")
    scratch = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    DATA.mkdir(parents=True, exist_ok=True)
    if args.model is None:
        model_dir, users, events = build_model(scratch)
    else:
        model_dir = args.model
        users = pd.read_parquet(model_dir.parent / "users_segmented.parquet")
        events = pd.read_parquet(RETAIL)
    from personae.model import SegmentModel

    names = sorted(SegmentModel.load(model_dir).preprocessor_.numeric_)
    rows = users[["user_id", *names]].head(100).to_dict("records")
    busiest = events["Customer ID"].value_counts().index[10]
    lines = events[events["Customer ID"] == busiest].head(50).copy()
    lines["InvoiceDate"] = lines["InvoiceDate"].dt.strftime("%Y-%m-%d %H:%M:%S")
    lines["Customer ID"] = lines["Customer ID"].astype(int)
    lines = lines.astype(object).where(lines.notna(), None)
    cases = [("bare FastAPI (constant)", "/bare", json.dumps({"users": rows[:1]})),
             ("/assign, 1 user", "/assign", json.dumps({"users": rows[:1]})),
             ("/assign, 100 users", "/assign", json.dumps({"users": rows})),
             ("/assign/events, 1 user x 50 lines", "/assign/events",
              json.dumps({"events": lines.to_dict("records")}))]
    bare_port, serve_port = free_port(), free_port()
    servers = [start([sys.executable, "-c", BARE, str(bare_port)], bare_port),
               start([str(Path(sys.executable).parent / "personae"), "serve", str(model_dir),
                      "--port", str(serve_port)], serve_port)]
    results = []
    try:
        for connections in [int(c) for c in args.connections.split(",")]:
            for label, path, body in cases:
                port = bare_port if path == "/bare" else serve_port
                conn = min(connections, EVENTS_CONNECTIONS) if path == "/assign/events" \
                    else connections
                url = f"http://127.0.0.1:{port}{path}"
                check = httpx.post(url, content=body, headers={"content-type":
                                                               "application/json"})
                assert check.status_code == 200, check.text
                measure = wrk(url, body, args.seconds, conn, scratch) \
                    if client == "wrk" else httpx_load(url, body, args.seconds, conn)
                users_per = 100 if "100" in label else 1
                results.append((label, connections, measure, users_per, conn))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=20)
    n = int(float(args.batch_users.rstrip("MmKk")) * (1e6 if args.batch_users[-1] in "Mm"
                                                      else 1e3 if args.batch_users[-1] in "Kk"
                                                      else 1))
    seconds = batch_assign(model_dir, users.drop(columns=[], errors="ignore"), n, scratch)
    shutil.rmtree(scratch, ignore_errors=True)

    print(f"load client: {client}, {args.seconds:g} s per row, one server worker; machine "
          "shared with the client; errors = non-200 + timeouts (10 s); both servers' uvicorn "
          f"runs {_installed('uvloop', 'asyncio')} and {_installed('httptools', 'h11')}")
    print(f"| {'case':<34} | conn | req/s | users/s | p50 ms | p99 ms | errors | "
          "vs bare req/s |")
    print(f"|{'-' * 36}|-----:|------:|--------:|-------:|-------:|-------:|--------------:|")
    bare = {c: m for label, c, m, _, _ in results if label.startswith("bare")}
    for label, connections, m, per, conn in results:
        ratio = m["rps"] / bare[connections]["rps"]
        print(f"| {label:<34} | {conn:>4} | {m['rps']:>5,.0f} | {m['rps'] * per:>7,.0f} "
              f"| {m['p50']:>6.2f} | {m['p99']:>6.2f} | {m['errors']:>6} | {ratio:>13.0%} |")
    print(f"| {'personae assign (batch CLI)':<34} |    - |     - | {n / seconds:>7,.0f} | "
          f"{n:,} users in {seconds:.1f} s (whole command: read, clean, assign, write) |")


def _installed(fast: str, fallback: str) -> str:
    """What uvicorn's automatic loop / HTTP parser picks: ``fast`` when it is installed."""
    import importlib.util

    return fast if importlib.util.find_spec(fast) is not None else fallback


if __name__ == "__main__":
    main()
