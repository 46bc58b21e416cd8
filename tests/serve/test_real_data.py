"""The service on a slice of real data (UCI Online Retail II): events in, batch segments out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personae.features.events import from_events
from personae.model import SegmentModel

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
RETAIL = DATA / "online_retail_ii" / "online_retail_ii_2009_2010.parquet"


@pytest.fixture(scope="module")
def retail_run(tmp_path_factory):
    if not RETAIL.exists():
        pytest.skip(f"real data not found at {RETAIL} (expects ../shared beside the repo)")
    events = pd.read_parquet(RETAIL).iloc[:30_000]
    features = from_events(events)
    model = SegmentModel(algorithm="kmeans",
                         k=3, id_column="user_id", stability=False).fit(features.frame)
    run_dir = tmp_path_factory.mktemp("retail") / "run"
    model.save(run_dir / "model")
    users = features.frame.assign(segment=model.labels_)
    users.to_parquet(run_dir / "users_segmented.parquet")
    return run_dir, events, features


def test_every_real_user_gets_its_run_segment(serve_model, retail_run):
    run_dir, _, _ = retail_run
    users = pd.read_parquet(run_dir / "users_segmented.parquet")
    running = serve_model(run_dir / "model")
    with running.client() as client:
        names = client.get("/ready").json()["features"]
        got = []
        for start in range(0, len(users), 1000):
            chunk = users.iloc[start:start + 1000][["user_id", *names]]
            # a one-visit user has no gap between visits: JSON's null, as a client sends it
            chunk = chunk.astype(object).where(chunk.notna(), None)
            answer = client.post("/assign", json={"users": chunk.to_dict("records")})
            assert answer.status_code == 200, answer.text
            got += [a["segment"] for a in answer.json()["assignments"]]
    np.testing.assert_array_equal(got, users["segment"].to_numpy())


def test_raw_invoice_lines_give_the_batch_segment(serve_model, retail_run):
    run_dir, events, features = retail_run
    users = pd.read_parquet(run_dir / "users_segmented.parquet").set_index("user_id")
    chosen = features.frame["user_id"].iloc[[0, 5, 17, 40, 99]].tolist()
    lines = events[events["Customer ID"].isin(chosen)].copy()
    lines["InvoiceDate"] = lines["InvoiceDate"].dt.strftime("%Y-%m-%d %H:%M:%S")
    lines["Customer ID"] = lines["Customer ID"].astype(int)
    running = serve_model(run_dir / "model")
    with running.client() as client:  # the log's own column names, detected as in batch
        answer = client.post("/assign/events", json={
            "events": lines.to_dict("records"),
            "reference_date": features.report.reference_date.isoformat()})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["assignments"]
    assert sorted(r["user_id"] for r in rows) == sorted(chosen)
    for row in rows:
        assert row["segment"] == users.loc[row["user_id"], "segment"]
