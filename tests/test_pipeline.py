"""segment() end to end, on generated data with a known answer and on the bundled real data."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from personae import SegmentModel, segment


def test_segment_a_dataframe(blobs: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, truth = blobs
    result = segment(frame, random_state=0)
    assert result.n_segments == 5
    assert adjusted_rand_score(truth, result.labels) >= 0.95
    assert result.k_table is not None and result.k_table["chosen"].sum() == 1
    assert result.users.columns[:2].tolist() == ["user_id", "segment"]
    top = result.top_features(2)
    assert set(top) == set(range(5)) and all(len(rows) == 2 for rows in top.values())


def test_profiles_are_in_the_users_units(blobs: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = blobs
    result = segment(frame, k=5)
    profiles = result.profiles.set_index(["segment", "feature"])
    for seg in range(5):
        members = frame[result.labels == seg]
        row = profiles.loc[(seg, "metric_0")]
        assert row["size"] == len(members)
        assert abs(row["mean"] - members["metric_0"].mean()) < 1e-9
        assert abs(row["median"] - members["metric_0"].median()) < 1e-9
    shares = result.profiles.drop_duplicates("segment")["share"]
    assert abs(shares.sum() - 1.0) < 1e-9


def test_bundled_real_data_end_to_end(tmp_path: Path) -> None:
    data = resources.files("personae") / "datasets" / "online_retail_customers.csv"
    with resources.as_file(data) as path:
        result = segment(path, random_state=0)
    assert len(result.labels) == 4314
    assert result.model.id_column_ == "customer_id"
    out = result.save(tmp_path / "run")
    info = json.loads((out / "run.json").read_text())
    assert {d["action"] for d in info["cleaning"]} >= {"log-transformed", "encoded"}
    reloaded = SegmentModel.load(out / "model")
    assert np.array_equal(reloaded.predict(result.data), result.labels)
    # The segments must differ on what the retailer cares about: spend and frequency.
    top = {r.feature for rows in result.top_features(3).values() for r in rows.itertuples()}
    assert top & {"monetary_total", "frequency", "recency_days"}


def test_users_carry_their_persona_name_beside_the_segment(tmp_path) -> None:
    from generated import blob_users

    frame, _ = blob_users(n=600, k=3, n_features=3, seed=2)
    frame["persona"] = "an input column of the same name"
    result = segment(frame, k=3, algorithm="kmeans", stability=False)
    users = result.users
    assert list(users.columns[:3]) == ["user_id", "segment", "persona"]
    names = {p["segment"]: p["name"] for p in result.personas["personas"]}
    assert len(set(names.values())) == 3
    assert (users["persona"] == users["segment"].map(names)).all()
    assert (users["input_persona"] == "an input column of the same name").all()
    saved = pd.read_parquet(result.save(tmp_path / "run") / "users_segmented.parquet")
    assert saved["persona"].tolist() == users["persona"].tolist()
