"""Fixtures for the service: generated users and event logs with a planted truth, saved
models and run folders, and a real server on a free loopback port."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from personae.model import SegmentModel
from serve.helpers import Running, free_port, start_server

SERVE_EXTRA = ("fastapi", "uvicorn", "httpx", "prometheus_client")
if not all(importlib.util.find_spec(name) for name in SERVE_EXTRA):
    collect_ignore_glob = ["test_*.py"]  # the [serve] extra is not installed


@pytest.fixture
def loopback_port() -> int:
    return free_port()


@pytest.fixture
def serve_model() -> Iterator:
    """Start servers; every one started is stopped after the test."""
    started: list[Running] = []

    from personae.serve import ServeConfig

    def start(model_dir: Path, **settings: Any) -> Running:
        running = start_server(ServeConfig(model_dir=str(model_dir), **settings))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def planted_users(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Three planted groups; a category column, codes written as numbers, and gaps."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    centers = np.array([[1.0, 50.0, 2.0], [8.0, 400.0, 10.0], [3.0, 120.0, 30.0]])
    X = centers[group] * rng.lognormal(0, 0.15, (n, 3))
    frame = pd.DataFrame({"user_id": [f"u{i:04d}" for i in range(n)],
                          "visits": X[:, 0], "spend": X[:, 1], "days_since": X[:, 2],
                          "plan": np.where(group == 1, "pro", np.where(rng.random(n) < 0.5,
                                                                       "free", "basic")),
                          "region": rng.integers(1, 4, n).astype(float)})
    frame.loc[rng.random(n) < 0.05, "spend"] = np.nan
    frame.loc[rng.random(n) < 0.05, "plan"] = None
    return frame


@pytest.fixture(scope="session")
def users_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    frame = planted_users()
    model = SegmentModel(algorithm="kmeans",
                         k=3, categorical=["region"], stability=False).fit(frame)
    folder = tmp_path_factory.mktemp("users") / "model"
    model.save(folder)
    return folder, frame


def planted_events(n_users: int = 80, seed: int = 0) -> tuple[pd.DataFrame, dict[str, int]]:
    """An event log: 'regular' users buy every 1-3 days in the morning from day 1, big
    baskets; 'occasional' users come back every 2-5 weeks, in the evening, small ones."""
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    start = pd.Timestamp("2024-01-01")
    for u in range(n_users):
        regular = u % 2 == 0
        user = 1000 + u
        truth[str(user)] = 0 if regular else 1
        t = start + pd.Timedelta(days=int(rng.integers(0, 40)))
        end = start + pd.Timedelta(days=120)
        order = 0
        while t < end:
            hour = int(rng.integers(7, 11)) if regular else int(rng.integers(19, 23))
            stamp = t.normalize() + pd.Timedelta(hours=hour, minutes=int(rng.integers(0, 60)))
            for j in range(int(rng.integers(3, 7)) if regular else int(rng.integers(1, 3))):
                rows.append({"user_id": user, "time": stamp + pd.Timedelta(minutes=2 * j),
                             "event": "view" if j else "purchase",
                             "value": float(rng.uniform(20, 60) if regular
                                            else rng.uniform(2, 10)),
                             "order": f"o{user}-{order}"})
            order += 1
            t += pd.Timedelta(days=float(rng.uniform(1, 3) if regular
                                         else rng.uniform(14, 35)))
    return pd.DataFrame(rows), truth


@pytest.fixture(scope="session")
def events_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A run folder made from the planted event log (k-means, K=2)."""
    from personae.features.events import from_events
    from personae.pipeline import segment

    events, _ = planted_events()
    features = from_events(events).frame
    result = segment(features, k=2, algorithm="kmeans", id_column="user_id",
                     random_state=0)
    run_dir = tmp_path_factory.mktemp("events") / "run"
    result.save(run_dir)
    return run_dir, events


@pytest.fixture(scope="session")
def planted_log() -> tuple[pd.DataFrame, dict[str, int]]:
    """``planted_events()``: the log and each user's planted group."""
    return planted_events()
