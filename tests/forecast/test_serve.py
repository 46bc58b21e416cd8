"""``POST /assign/events`` answers each user's forecast, as the run gave it."""

from __future__ import annotations

import pandas as pd
import pytest

from serve.helpers import start_server


def test_assign_events_answers_the_forecast_columns(forecast_run):
    from personae.serve import ServeConfig

    _, run_dir, log_path, truth = forecast_run
    log = pd.read_parquet(log_path)
    users = pd.read_parquet(run_dir / "users_segmented.parquet").set_index("user_id")
    chosen = [0, 1, 2, 3]  # regular, gone, once, regular
    mine = log[log["user_id"].isin(chosen)].assign(
        time=lambda f: f["time"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    reference = (log["time"].max().normalize() + pd.Timedelta(days=1)).isoformat()
    running = start_server(ServeConfig(model_dir=str(run_dir / "model")))
    try:
        with running.client() as client:
            answer = client.post("/assign/events", json={
                "events": mine.to_dict("records"), "reference_date": reference,
                "early": False})
    finally:
        running.stop()
    assert answer.status_code == 200, answer.text
    rows = {r["user_id"]: r for r in answer.json()["assignments"]}
    for user in chosen:
        for column in ("p_alive", "expected_events", "expected_value"):
            assert rows[user][column] == pytest.approx(users.loc[user, column], abs=1e-6)
        assert rows[user]["at_risk"] == bool(users.loc[user, "at_risk"])
    assert rows[1]["at_risk"] and not rows[0]["at_risk"] and truth[1] == "gone"
