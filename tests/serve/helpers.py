"""A real server for tests: uvicorn in a thread on a free loopback port (no TestClient); a
run of an event log with early windows through the command line."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    url: str
    app: Any
    server: Any  # uvicorn.Server
    thread: threading.Thread

    def client(self, **kwargs: Any) -> Any:
        import httpx

        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(config: Any) -> Running:
    """uvicorn.Server in a thread on a free loopback port; returns once it answers."""
    import httpx
    import uvicorn

    from personae.serve import create_app

    app = create_app(config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return Running(url, app, server, thread)
        except httpx.TransportError:
            time.sleep(0.05)
    server.should_exit = True
    raise RuntimeError("the server did not start")


def early_run(folder: Path, events: Any, days: str, k: int) -> tuple[Path, Path, str]:
    """``personae run`` of ``events`` (a DataFrame, written to Parquet in ``folder``) with
    ``--early-days days``, K-means with ``k`` segments: the run folder, the log, the output."""
    from typer.testing import CliRunner

    from personae.cli import app

    log = folder / "events.parquet"
    events.to_parquet(log)
    run_dir = folder / "run"
    result = CliRunner().invoke(app, ["run", str(log), "--events", "--early-days", days,
                                      "--k", str(k), "--algorithm", "kmeans", "--report-map",
                                      "none", "--out", str(run_dir)])
    assert result.exit_code == 0, result.output
    return run_dir, log, result.output
