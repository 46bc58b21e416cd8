"""`personae serve` as a user runs it: a subprocess on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from personae.cli import app as cli_app


def _personae(*args: str) -> list[str]:
    return [sys.executable, "-c", "from personae.cli import app; app()", *args]


@pytest.mark.slow
def test_personae_serve_answers_and_stops(users_model, loopback_port):
    folder, _ = users_model
    port = loopback_port
    process = subprocess.Popen(_personae("serve", str(folder), "--port", str(port),
                                         "--token", "t0k"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"{url}/segments").status_code == 401
        segments = httpx.get(f"{url}/segments", headers={"Authorization": "Bearer t0k"})
        assert len(segments.json()["segments"]) == 3
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    assert f"on http://127.0.0.1:{port}" in out
    assert "Traceback" not in err


def test_a_bad_model_folder_is_one_line_and_exit_2(tmp_path):
    done = CliRunner().invoke(cli_app, ["serve", str(tmp_path / "nothing")])
    assert done.exit_code == 2
    assert "not a model folder" in done.output and "Traceback" not in done.output


@pytest.mark.parametrize("args, words", [(["--workers", "0"], "--workers must be at least 1"),
                                         (["--max-users", "0"], "--max-users must be at least 1")])
def test_bad_options(users_model, args, words):
    folder, _ = users_model
    done = CliRunner().invoke(cli_app, ["serve", str(folder), *args])
    assert done.exit_code == 2 and words in done.output
