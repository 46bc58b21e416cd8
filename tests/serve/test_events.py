"""POST /assign/events: features by the batch SQL, the same segments as the batch path."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from personae.cli import app as cli_app
from personae.model import SegmentModel
from personae.serve.early import align_features
from personae.serve.early_path import event_features


def _records(events: pd.DataFrame) -> list[dict]:
    out = events.copy()
    out["time"] = out["time"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return out.to_dict("records")


def test_request_features_equal_personae_features_on_the_same_events(events_run, tmp_path):
    _, events = events_run
    chosen = events[events["user_id"].isin([1000, 1001, 1007, 1010])]
    log = tmp_path / "events.parquet"
    chosen.to_parquet(log)
    out = tmp_path / "features.parquet"
    result = CliRunner().invoke(cli_app, ["features", str(log), "--out", str(out)])
    assert result.exit_code == 0, result.output
    batch = pd.read_parquet(out)
    _, got, mapping = event_features(_records(chosen), None)
    assert mapping["order"] == "order" and mapping["event"] == "event"
    pd.testing.assert_frame_equal(got, batch, check_dtype=False)


def test_assign_events_gives_the_batch_segments(serve_model, events_run):
    run_dir, events = events_run
    model = SegmentModel.load(run_dir / "model")
    batch = pd.read_parquet(run_dir / "users_segmented.parquet").set_index("user_id")
    # the run's reference date: the day after the log's last event
    reference = (events["time"].max().normalize() + pd.Timedelta(days=1)).isoformat()
    running = serve_model(run_dir / "model")
    users = [1002, 1003, 1020, 1041]
    with running.client() as client:
        answer = client.post("/assign/events", json={
            "events": _records(events[events["user_id"].isin(users)]),
            "reference_date": reference, "early": False})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["assignments"]
    assert [r["user_id"] for r in rows] == users
    assert [r["segment"] for r in rows] == batch.loc[users, "segment"].tolist()
    assert {r["source"] for r in rows} == {"core"}
    _, features, _ = event_features(_records(events[events["user_id"].isin(users)]),
                                    reference)
    aligned = align_features(features, model.feature_names)
    assert model.predict(aligned).tolist() == [r["segment"] for r in rows]


@pytest.mark.parametrize("events, words", [
    ([{"user_id": 1, "time": "not a time", "value": 1.0}], "does not parse"),
    ([{"time": "2024-01-01T10:00:00", "value": 1.0}], "no user column"),
    ([{"user_id": 1, "time": "2024-01-01T10:00:00"}], "the model needs feature"),
])
def test_bad_events_are_422_with_one_line(serve_model, events_run, events, words):
    run_dir, _ = events_run
    running = serve_model(run_dir / "model", max_events=100)
    with running.client() as client:
        answer = client.post("/assign/events", json={"events": events})
        assert answer.status_code == 422, answer.text
        assert words in answer.json()["error"]
        too_many = client.post("/assign/events", json={"events": events * 101})
        assert too_many.status_code == 413
