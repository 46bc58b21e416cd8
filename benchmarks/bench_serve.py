"""Throughput and latency of `personae serve` against a bare FastAPI endpoint, and batch
assignment through `personae assign`, printed as one table.

    .venv/bin/python benchmarks/bench_serve.py                  # wrk if on PATH, else httpx
    .venv/bin/python benchmarks/bench_serve.py --seconds 5 --connections 1,32 --batch-users 1M
    .venv/bin/python benchmarks/bench_serve.py --rounds 3 --before /tmp/before --batch-users 0

The model: K-means (K=4) on the Online Retail II event features (../shared/data), or any
model folder with --model (its run folder's users_segmented.parquet gives the users).
Every server is a separate `uvicorn` process with one worker, started and stopped here;
the load client runs on the same cores (wrk with 1 thread, or an asyncio httpx loop).
`--before DIR` also serves with the `personae` package in DIR (an earlier checkout); each
of `--rounds` measures every server in turn, the order reversed every other round. "CPU
us/req" is the server process's CPU time over the requests it answered: steadier than
req/s on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


def start(command: list[str], port: int, code: Path | None = None) -> subprocess.Popen:
    """A server process; ``code``: a folder holding the ``personae`` package to run instead
    of this checkout's (put first on PYTHONPATH)."""
    env = None if code is None else {**os.environ, "PYTHONPATH": str(code)}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=env)
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
    requests = re.search(r"(\d+) requests in", out)
    return {"rps": float(rps.group(1)) if rps else 0.0,
            "requests": int(requests.group(1)) if requests else 0,
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
        return {"rps": len(times) / elapsed, "requests": len(times),
                "p50": statistics.median(times),
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
    parser.add_argument("--batch-users", default="1M", help="0 skips the batch CLI row")
    parser.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--before", type=Path, default=None,
                        help="a folder holding an earlier personae package: serve it too")
    parser.add_argument("--rounds", type=int, default=1)
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
    personae = [str(Path(sys.executable).parent / "personae"), "serve", str(model_dir)]
    servers = {"bare": ([sys.executable, "-c", BARE], None), "now": (personae, None)}
    if args.before is not None:
        servers["before"] = (personae, args.before)
    ports = {name: free_port() for name in servers}
    processes = [start([*command, *(["--port"] if name != "bare" else []), str(ports[name])],
                       ports[name], code) for name, (command, code) in servers.items()]
    cases = [("bare FastAPI (constant)", "/bare", json.dumps({"users": rows[:1]})),
             ("/assign, 1 user", "/assign", json.dumps({"users": rows[:1]})),
             ("/assign, 100 users", "/assign", json.dumps({"users": rows})),
             ("/assign/events, 1 user x 50 lines", "/assign/events",
              json.dumps({"events": lines.to_dict("records")}))]
    results = []
    try:
        for round_ in range(1, args.rounds + 1):
            order = list(servers) if round_ % 2 else list(servers)[::-1]
            for connections in [int(c) for c in args.connections.split(",")]:
                for name in order:
                    for label, path, body in cases:
                        if (path == "/bare") != (name == "bare"):
                            continue
                        conn = min(connections, EVENTS_CONNECTIONS) \
                            if path == "/assign/events" else connections
                        process = processes[list(servers).index(name)]
                        measure = _measure(f"http://127.0.0.1:{ports[name]}{path}", body,
                                           args.seconds, conn, client, scratch, process.pid)
                        shown = label if name != "before" else f"{label} (before)"
                        results.append((round_, shown, connections, measure,
                                        100 if "100" in label else 1, conn))
                        print(f"round {round_}, load {os.getloadavg()[0]:.1f}: {shown}, "
                              f"{conn} conn: {measure['rps']:,.0f} req/s", file=sys.stderr)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
    batch = _batch_users(args.batch_users)
    seconds = batch_assign(model_dir, users, batch, scratch) if batch else 0.0
    shutil.rmtree(scratch, ignore_errors=True)

    print(f"load client: {client}, {args.seconds:g} s per row, one server worker; machine "
          "shared with the client; errors = non-200 + timeouts (10 s); every server's "
          f"uvicorn runs {_installed('uvloop', 'asyncio')} and "
          f"{_installed('httptools', 'h11')}; load average now {os.getloadavg()[0]:.1f}")
    print(f"| round | {'case':<43} | conn | req/s | users/s | p50 ms | p99 ms | errors | "
          "CPU us/req | vs bare req/s |")
    print(f"|------:|{'-' * 45}|-----:|------:|--------:|-------:|-------:|-------:|"
          "-----------:|--------------:|")
    bare = {(r, c): m for r, label, c, m, _, _ in results if label.startswith("bare")}
    for round_, label, connections, m, per, conn in results:
        ratio = m["rps"] / bare[(round_, connections)]["rps"]
        print(f"| {round_:>5} | {label:<43} | {conn:>4} | {m['rps']:>5,.0f} | "
              f"{m['rps'] * per:>7,.0f} | {m['p50']:>6.2f} | {m['p99']:>6.2f} | "
              f"{m['errors']:>6} | {m['cpu_us']:>10,.0f} | {ratio:>13.0%} |")
    if batch:
        print(f"| {'':>5} | {'personae assign (batch CLI)':<43} |    - |     - | "
              f"{batch / seconds:>7,.0f} | {batch:,} users in {seconds:.1f} s (whole command: "
              "read, clean, assign, write) |")
    if args.rounds > 1:
        _summary(results, bare)


def _summary(results: list[tuple], bare: dict) -> None:
    """Per case and connections, over the rounds: the median, and the worst share of bare."""
    print(f"\n| {'case (medians over the rounds)':<43} | conn | req/s | p99 ms | CPU us/req | "
          "vs bare req/s | worst round |")
    print(f"|{'-' * 45}|-----:|------:|-------:|-----------:|--------------:|------------:|")
    seen: dict[tuple[str, int], list[tuple[int, dict, int]]] = {}
    for round_, label, connections, m, _, conn in results:
        seen.setdefault((label, connections), []).append((round_, m, conn))
    for (label, connections), runs in seen.items():
        ratios = [m["rps"] / bare[(r, connections)]["rps"] for r, m, _ in runs]
        print(f"| {label:<43} | {runs[0][2]:>4} | "
              f"{statistics.median(m['rps'] for _, m, _ in runs):>5,.0f} | "
              f"{statistics.median(m['p99'] for _, m, _ in runs):>6.2f} | "
              f"{statistics.median(m['cpu_us'] for _, m, _ in runs):>10,.0f} | "
              f"{statistics.median(ratios):>13.0%} | {min(ratios):>11.0%} |")


def _measure(url: str, body: str, seconds: float, connections: int, client: str,
             scratch: Path, pid: int) -> dict:
    """One load run against ``url``, with the server's CPU microseconds per request."""
    check = httpx.post(url, content=body, headers={"content-type": "application/json"})
    assert check.status_code == 200, check.text
    before = _cpu_seconds(pid)
    measure = wrk(url, body, seconds, connections, scratch) if client == "wrk" \
        else httpx_load(url, body, seconds, connections)
    measure["cpu_us"] = (_cpu_seconds(pid) - before) / max(measure["requests"], 1) * 1e6
    return measure


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _batch_users(text: str) -> int:
    scale = {"M": 1e6, "m": 1e6, "K": 1e3, "k": 1e3}.get(text[-1:], 1)
    return int(float(text.rstrip("MmKk")) * scale)


def _installed(fast: str, fallback: str) -> str:
    """What uvicorn's automatic loop / HTTP parser picks: ``fast`` when it is installed."""
    import importlib.util

    return fast if importlib.util.find_spec(fast) is not None else fallback


if __name__ == "__main__":
    main()
