"""Hot reload without dropped requests, and a bounded load test counted by /metrics."""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from personae.model import SegmentModel

USER = {"user_id": "x1", "visits": 2.0, "spend": 60.0, "days_since": 3.0, "plan": "free",
        "region": 2}


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$" if labels else \
        rf"^{re.escape(name)} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_a_new_model_folder_is_picked_up_without_dropping_requests(serve_model, users_model,
                                                                   tmp_path):
    folder, frame = users_model
    live = tmp_path / "model"
    shutil.copytree(folder, live)
    running = serve_model(live, reload_seconds=0.05)
    statuses: list[int] = []
    hashes: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with running.client() as client:
            while not stop.is_set():
                answer = client.post("/assign", json={"users": [USER]})
                statuses.append(answer.status_code)
                hashes.append(answer.json()["model"]["hash"])

    worker = threading.Thread(target=hammer)
    worker.start()
    time.sleep(0.3)
    before = hashes[-1]
    (live / "model.json").write_text("{ half written")  # a broken folder: the old model stays
    time.sleep(0.3)
    assert hashes[-1] == before
    SegmentModel(algorithm="kmeans",
                 k=2, stability=False).fit(frame).save(live)  # staged, renamed into place
    deadline = time.monotonic() + 10
    while hashes[-1] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    stop.set()
    worker.join()
    assert hashes[-1] != before
    assert set(statuses) == {200}
    assert len(statuses) > 20
    with running.client() as client:
        assert client.get("/ready").json()["model"]["n_segments"] == 2
        text = client.get("/metrics").text
    assert _metric(text, "personae_model_reloads_total", outcome="loaded") == 1
    assert _metric(text, "personae_model_reloads_total", outcome="failed") >= 1


@pytest.mark.slow
def test_load_nothing_lost_and_metrics_count_every_request(serve_model, users_model):
    folder, _ = users_model
    running = serve_model(folder)
    n, batch = 200, 5

    async def send() -> list[int]:
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=running.url, limits=limits, timeout=30) as c:
            async def one(i: int) -> int:
                users = [{**USER, "user_id": f"x{i}-{j}"} for j in range(batch)]
                answer = await c.post("/assign", json={"users": users})
                assert len(answer.json()["assignments"]) == batch
                return answer.status_code
            return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), 60)

    # in a thread of its own: a session-wide Playwright browser (the report tests) keeps an
    # event loop running in this worker's main thread, where asyncio.run refuses to start
    with ThreadPoolExecutor(max_workers=1) as pool:
        statuses = pool.submit(lambda: asyncio.run(send())).result()
    assert statuses == [200] * n
    with running.client() as client:
        text = client.get("/metrics").text
    assert _metric(text, "personae_requests_total", endpoint="/assign", status="200") == n
    assert _metric(text, "personae_request_seconds_count", endpoint="/assign") == n
    assigned = sum(float(v) for v in re.findall(
        r'^personae_assignments_total\{segment="\d+",source="core"\} (\S+)$', text, re.M))
    assert assigned == n * batch
