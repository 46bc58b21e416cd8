"""One assignment: every path that labels a user gives each training user the labels the
run wrote for it (users_segmented), edge users included: the saved model in Python, ``personae
assign`` (tables and event logs), the HTTP service, the monitor and uplift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from personae import RunConfig, SegmentModel, segment
from personae.cli import app
from personae.config import EventsConfig, InputConfig
from personae.experiments.io import _assign as uplift_assign
from personae.experiments.io import read_run
from personae.monitor._adapter import assign as monitor_assign
from serve.conftest import planted_events

LABELS = ("segment", "broad_segment", "natural_segment", "detailed_segment", "novel",
          "probability", "level_1", "level_2", "level_3", "rfm_score", "rfm_segment")


def _table(seed: int = 0) -> pd.DataFrame:
    """Three planted groups, one of them 150 identical rows, and a few far users."""
    rng = np.random.default_rng(seed)
    centres = np.array([[1.0, 50.0, 2.0], [8.0, 400.0, 10.0], [3.0, 120.0, 30.0]])
    group = np.repeat([0, 1], 225)
    X = centres[group] * rng.lognormal(0, 0.2, (len(group), 3))
    X = np.vstack([X, np.tile(centres[2], (150, 1)), centres[1] * 12 + rng.random((4, 3))])
    frame = pd.DataFrame(X, columns=["visits", "spend", "pages"])
    frame.insert(0, "user_id", np.arange(len(frame)) + 100)
    return frame


def _run(kind: str, tmp: Path) -> tuple[Path, pd.DataFrame, Path | None]:
    """A saved run, its training users (the table the model reads) and its event log."""
    if kind == "events":
        log, _ = planted_events(n_users=300, seed=2)
        path = tmp / "log.csv"
        log.to_csv(path, index=False)
        config = RunConfig(input=InputConfig(path=str(path), events=EventsConfig()))
        result = segment(config=config, random_state=0)
        frame = result.data
    else:
        frame = _table()
        settings: dict[str, Any] = {"table": {}, "gmm": {"algorithm": "gmm", "k": 3},
                                    "hierarchical": {"algorithm": "hierarchical", "k": 3}}[kind]
        result = segment(frame, random_state=0, **settings)
        path = None
    run_dir = tmp / "run"
    result.save(run_dir)
    return run_dir, frame, path


def _same(got: pd.DataFrame, written: pd.DataFrame, where: str) -> None:
    for column in (c for c in LABELS if c in written.columns):
        assert column in got.columns, f"{where} lacks {column}"
        expected, actual = written[column].to_numpy(), got[column].to_numpy()
        if column == "probability":
            np.testing.assert_allclose(actual.astype(float), expected.astype(float),
                                       rtol=1e-6, err_msg=where)
        else:
            assert actual.astype(str).tolist() == expected.astype(str).tolist(), \
                f"{where}: {column} differs"


@pytest.mark.parametrize("kind", ["table", "events", "gmm", "hierarchical"])
def test_every_path_gives_training_users_their_labels(kind: str, tmp_path: Path,
                                                      serve_model: Any) -> None:
    run_dir, frame, log = _run(kind, tmp_path)
    written = pd.read_parquet(run_dir / "users_segmented.parquet")
    ids = written.columns[0]
    model = SegmentModel.load(run_dir / "model")
    if kind == "table":
        assert (written["segment"] == -1).sum() >= 1  # the far users are edge users...
        identical = written[ids].isin(frame[ids].iloc[450:600])
        assert (written.loc[identical, "segment"] >= 0).all()  # ...the identical ones not
    if kind == "events":
        assert {"rfm_segment", "detailed_segment"} <= set(written.columns) or \
            "rfm_segment" in written.columns

    _same(model.assign(frame), written, "SegmentModel.assign")
    labels, _ = monitor_assign(model, model.transform(frame))
    np.testing.assert_array_equal(labels, written["segment"].to_numpy())
    import duckdb

    with duckdb.connect() as con:
        uplift = uplift_assign(read_run(run_dir, con), frame, "experiment")
    np.testing.assert_array_equal(uplift, written["segment"].to_numpy())

    out = tmp_path / "assigned.csv"
    if log is None:
        users = tmp_path / "users.csv"
        frame.to_csv(users, index=False)
        answer = CliRunner().invoke(app, ["assign", str(run_dir / "model"), str(users),
                                          "--out", str(out)])
    else:
        answer = CliRunner().invoke(app, ["assign", str(run_dir / "model"), "--events",
                                          str(log), "--out", str(out)])
    assert answer.exit_code == 0, answer.output
    assigned = pd.read_csv(out)
    key = ids if ids in assigned.columns else "user_id"
    assigned = assigned.set_index(assigned[key].astype(str)).loc[
        written[ids].astype(str)].reset_index(drop=True)
    _same(assigned, written, "personae assign")

    running = serve_model(run_dir / "model", max_body_bytes=50_000_000, max_events=200_000)
    with running.client() as client:
        if log is None:
            body = {"users": [{k: (None if pd.isna(v) else v) for k, v in row.items()}
                              for row in frame.to_dict("records")]}
            reply = client.post("/assign", json=body)
        else:
            events = pd.read_csv(log)
            reply = client.post("/assign/events", json={
                "events": events.astype({"time": str}).to_dict("records"), "early": False})
    assert reply.status_code == 200, reply.text
    served = pd.DataFrame(reply.json()["assignments"])
    if log is not None:
        served = served.set_index(served["user_id"].astype(str)).loc[
            written[ids].astype(str)].reset_index(drop=True)
    np.testing.assert_array_equal(served["segment"], written["segment"])
    np.testing.assert_array_equal(served["novel"], written["novel"])
    broad = "broad_segment" if "broad_segment" in written else "level_1"
    if broad in written:
        np.testing.assert_array_equal(served["broad_segment"], written[broad])
