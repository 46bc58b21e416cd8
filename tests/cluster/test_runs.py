"""Runs of the algorithms that add outputs of their own: memberships, levels, edge users."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from generated import users
from personae import segment


def test_gmm_run_writes_memberships_and_flags(tmp_path: Path) -> None:
    frame, _ = users(n=600, k=2)
    result = segment(frame, algorithm="gmm", k=2)
    result.save(tmp_path / "run")
    out = pd.read_parquet(tmp_path / "run" / "users_segmented.parquet")
    assert list(out.columns[:8]) == ["user_id", "segment", "persona", "probability",
                                     "second_segment", "second_probability", "mixed", "novel"]
    memberships = pd.read_parquet(tmp_path / "run" / "memberships.parquet")
    assert list(memberships.columns) == ["user_id", "segment_0", "segment_1"]
    assert np.allclose(memberships[["segment_0", "segment_1"]].sum(axis=1), 1)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["algorithm"]["name"] == "gmm" and info["algorithm"]["params"]["n_clusters"] == 2
    assert info["consistency"]["fit_predict_agreement"] == 1.0
    assert set(info["stability"]) >= {"ari_mean", "per_segment_jaccard", "unstable_segments"}
    profiles = pd.read_csv(tmp_path / "run" / "segment_profiles.csv")
    assert "unstable" in profiles.columns
    assert result.memberships is not None and result.hierarchy is None


def test_hierarchical_and_density_runs(tmp_path: Path) -> None:
    frame, _ = users(n=600, k=3, seed=2)
    frame.loc[0, ["m0", "m1", "m2", "m3"]] = 90.0
    result = segment(frame, algorithm="hierarchical", k_range=(2, 6))
    result.save(tmp_path / "tree")
    out = pd.read_csv(tmp_path / "tree" / "users_segmented.csv")
    assert {"level_1", "level_2", "level_3"} <= set(out.columns)
    assert (out["level_2"] == out["segment"]).all()
    tree = json.loads((tmp_path / "tree" / "hierarchy.json").read_text())
    assert {"nodes", "dendrogram"} <= set(tree) and tree["nodes"][0]["size"] > 0
    dense = segment(frame, algorithm="dbscan")
    assert dense.outliers[0] and dense.labels[0] == -1
    assert -1 in set(dense.profiles["segment"]), "edge users are profiled as their own group"


def test_categorical_users_get_k_prototypes() -> None:
    from personae.cluster.auto import candidates_for

    assert candidates_for(0.75)[0] == "kprototypes" and "kprototypes" not in candidates_for(0.2)
    rng = np.random.default_rng(0)
    group = rng.integers(0, 3, 300)
    frame = pd.DataFrame({
        "user_id": np.arange(300),
        "plan": np.array(["free", "pro", "team"])[group],
        "device": np.array(["ios", "android", "web"])[(group + (rng.random(300) < 0.1)) % 3],
        "spend": group * 5.0 + rng.normal(0, 0.5, 300),
    })
    result = segment(frame, algorithm="kprototypes", k=3, stability=False)
    assert adjusted_rand_score(group, result.labels) > 0.9
    assert result.model.segmenter_.resolved_params_["categorical_blocks"]
    assert result.info["consistency"]["fit_predict_agreement"] == 1.0
