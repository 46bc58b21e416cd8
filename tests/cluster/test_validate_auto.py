from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from personae import SegmentModel, segment
from personae.cluster import (
    balance,
    bootstrap_stability,
    choose_algorithm,
    dbcv,
    gaussian_bic,
    hollowness,
    make_segmenter,
    quality,
)
from personae.errors import ConfigError


def blobs(n: int = 600, k: int = 3, seed: int = 0, std: float = 0.6,
          d: int = 4) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=n, centers=k, n_features=d, cluster_std=std,
                      center_box=(-8, 8), random_state=seed)
    return X.astype(np.float32), y


def users(n: int = 900, k: int = 3, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = blobs(n=n, k=k, seed=seed)
    frame = pd.DataFrame(X, columns=[f"m{i}" for i in range(X.shape[1])])
    frame.insert(0, "user_id", [f"u{i}" for i in range(n)])
    return frame, y


def test_quality_prefers_the_true_partition() -> None:
    X, y = blobs()
    wrong = np.random.default_rng(0).integers(0, 3, len(y))
    good, bad = quality(X, y), quality(X, wrong)
    assert good["silhouette"] > 0.7 > bad["silhouette"]
    assert good["davies_bouldin"] < bad["davies_bouldin"]
    assert good["dbcv"] > 0.3 > bad["dbcv"]
    assert good["quality_sample_users"] == 600 and good["edge_share"] == 0.0


def test_dbcv_counts_edge_users_against_the_score() -> None:
    X, y = blobs()
    labels = y.copy()
    labels[::3] = -1
    assert dbcv(X, labels) < dbcv(X, y)
    assert np.isnan(dbcv(X, np.zeros(len(X), dtype=int)))


def test_balance() -> None:
    assert balance(np.array([0, 0, 1, 1]))["size_entropy"] == pytest.approx(1.0)
    uneven = balance(np.array([0] * 9 + [1, -1]))
    assert uneven["size_entropy"] < 0.6 and uneven["smallest_share"] == pytest.approx(1 / 11)


def test_stable_segments_are_stable_and_arbitrary_ones_are_flagged() -> None:
    X, _ = blobs()
    seg = make_segmenter("kmeans", n_clusters=3).fit(X)
    result = bootstrap_stability(lambda Xs: make_segmenter("kmeans", n_clusters=3).fit(Xs), X,
                                 seg.labels_, runs=3)
    assert result.ari_mean > 0.95 and result.unstable_segments == []
    assert set(result.per_segment_jaccard) == {0, 1, 2}
    noise = np.random.default_rng(1).uniform(size=(400, 6)).astype(np.float32)
    seg = make_segmenter("kmeans", n_clusters=8, n_init=1).fit(noise)
    shaky = bootstrap_stability(
        lambda Xs: make_segmenter("kmeans", n_clusters=8, n_init=1, random_state=5).fit(Xs),
        noise, seg.labels_, runs=3)
    assert shaky.ari_mean < result.ari_mean and shaky.unstable_segments
    assert json.dumps(shaky.as_dict())


def test_a_segment_missing_from_the_stability_sample_is_not_called_stable() -> None:
    # a segment of a few users among many may have nobody in the stability sample
    X, _ = blobs()
    seg = make_segmenter("kmeans", n_clusters=3).fit(X)
    result = bootstrap_stability(lambda Xs: make_segmenter("kmeans", n_clusters=3).fit(Xs), X,
                                 seg.labels_, runs=2, segments=range(4))
    assert result.unstable_segments == [3]
    info = json.loads(json.dumps(result.as_dict(), allow_nan=False))
    assert info["per_segment_jaccard"]["3"] is None and "not measured" in info["how"]


def test_auto_picks_gmm_for_elongated_groups_and_says_why() -> None:
    # scikit-learn's anisotropic example: K-means and Ward cut the stretched groups wrongly.
    X, y = make_blobs(n_samples=900, random_state=170)
    X = (X @ np.array([[0.6, -0.6], [-0.4, 0.8]])).astype(np.float32)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    choice = choose_algorithm(X, candidates=("kmeans", "hdbscan", "gmm"), k_range=(2, 5))
    assert choice.name == "gmm"
    assert "Gaussian mixture (BIC)" in choice.why and "next: " in choice.why
    table = choice.table
    assert list(table["algorithm"]) == ["kmeans", "hdbscan", "gmm"]
    assert {"silhouette", "davies_bouldin", "calinski_harabasz", "dbcv", "gaussian_bic",
            "bic_gap", "hollowness", "stability_ari", "size_entropy", "chosen",
            "params"} <= set(table.columns)
    assert table["chosen"].sum() == 1
    assert choice.params == {"n_clusters": 3}


def rings(n: int = 900, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A dense disc inside a ring: the ring's centre is the disc, not the ring."""
    rng = np.random.default_rng(seed)
    inner = rng.normal(0, 0.4, size=(n // 3, 2))
    angle = rng.uniform(0, 2 * np.pi, size=n - n // 3)
    radius = rng.normal(4.0, 0.25, size=angle.size)
    outer = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return np.vstack([inner, outer]), np.repeat([0, 1], [n // 3, n - n // 3])


def test_hollowness_tells_a_ring_from_a_blob() -> None:
    X, y = rings()
    assert hollowness(X, y) > 3, "the ring's centre is far from every ring member"
    blob, labels = blobs(k=3)
    assert hollowness(blob, labels) < 1.2


def test_auto_picks_a_density_method_for_a_ring_around_a_disc() -> None:
    X, y = rings()
    frame = pd.DataFrame(X, columns=["x", "y"])
    model = SegmentModel(algorithm="auto", stability=False, log_transform=False,
                         random_state=0).fit(frame)
    choice = model.algorithm_choice_
    assert choice.name == "hdbscan" and "hollow segment" in choice.why
    assert adjusted_rand_score(y, model.labels_) > 0.95
    kmeans = choice.table.set_index("algorithm").loc["kmeans"]
    assert kmeans["n_segments"] > 2, "K-means can only cut the ring into arcs"


def test_gaussian_bic_reads_overlapping_groups_as_a_mixture() -> None:
    # three Gaussians that overlap: a hard-assignment likelihood favours merging two of
    # them, and so does the K-means vote (K=2); the mixture BIC keeps all three
    X, y = make_blobs(n_samples=2000, centers=3, n_features=5, cluster_std=2.2,
                      center_box=(-5, 5), random_state=4)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert gaussian_bic(X, y) < gaussian_bic(X, np.where(y == b, a, y))
    choice = choose_algorithm(X, candidates=("kmeans", "gmm"), k_range=(2, 6))
    assert choice.table.set_index("algorithm").loc["kmeans", "n_segments"] == 2
    assert choice.name == "gmm" and choice.params == {"n_clusters": 3}


def test_auto_decides_the_same_on_one_core_and_on_several() -> None:
    X, _ = blobs(n=800, k=4, seed=3, std=1.0)
    one = choose_algorithm(X, k_range=(2, 6), n_jobs=1)
    several = choose_algorithm(X, k_range=(2, 6), n_jobs=3)
    assert (one.name, one.params, one.why) == (several.name, several.params, several.why)
    columns = [c for c in one.table.columns if c != "seconds"]
    pd.testing.assert_frame_equal(one.table[columns], several.table[columns])
    assert list(one.table["algorithm"]) == ["kmeans", "gmm", "hierarchical", "hdbscan",
                                           "dbscan", "meanshift"]


def test_model_labels_agree_with_predict_and_survive_save(tmp_path: Path) -> None:
    frame, y = users()
    far = frame.iloc[:2].copy()
    far[["m0", "m1", "m2", "m3"]] = 80.0
    result = segment(frame, algorithm="hdbscan", random_state=1)
    model = result.model
    assert adjusted_rand_score(y, model.labels_) > 0.95
    assert result.info["consistency"]["fit_predict_agreement"] == 1.0
    assert result.stability is not None and result.stability["ari_mean"] > 0.9
    model.save(tmp_path / "m")
    loaded = SegmentModel.load(tmp_path / "m")
    assert np.array_equal(loaded.predict(frame), model.labels_)
    assert loaded.is_novel(far).all() and not loaded.is_novel(frame).mean() > 0.01
    assert (loaded.predict(far) == -1).all()


def test_model_parameter_errors() -> None:
    frame, _ = users(n=200)
    with pytest.raises(ConfigError, match="k=4 does not apply to dbscan.*k applies to kmeans"):
        SegmentModel(algorithm="dbscan", k=4).fit(frame)
    with pytest.raises(ConfigError, match="params need a named algorithm"):
        SegmentModel(algorithm="auto", params={"eps": 1.0}).fit(frame)
    with pytest.raises(ConfigError, match="unknown algorithm 'optics'"):
        SegmentModel(algorithm="optics").fit(frame)
    with pytest.raises(ConfigError, match="'eps' parameter of dbscan must be a float"):
        SegmentModel(algorithm="dbscan", params={"eps": "wide"}).fit(frame)
    with pytest.raises(ConfigError, match="predict_proba needs soft segments"):
        SegmentModel(algorithm="hierarchical", k=3, stability=False).fit(frame) \
            .predict_proba(frame)


def test_gmm_run_writes_memberships_and_flags(tmp_path: Path) -> None:
    frame, _ = users(n=600, k=2)
    result = segment(frame, algorithm="gmm", k=2)
    result.save(tmp_path / "run")
    out = pd.read_parquet(tmp_path / "run" / "users_segmented.parquet")
    assert list(out.columns[:7]) == ["user_id", "segment", "probability", "second_segment",
                                     "second_probability", "mixed", "novel"]
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


def test_auto_run_writes_the_comparison(tmp_path: Path) -> None:
    frame, y = users(n=600, k=3, seed=3)
    result = segment(frame, k_range=(2, 5))
    result.save(tmp_path / "auto")
    table = pd.read_csv(tmp_path / "auto" / "algorithm_selection.csv")
    assert table["chosen"].sum() == 1
    assert adjusted_rand_score(y, result.labels) > 0.95
    assert result.algorithm["why"][0].startswith("auto: ")


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


def _candidates(rows: list[tuple[str, int, float, float]]) -> pd.DataFrame:
    """A comparison table: (algorithm, segments, BIC gap, DBCV) per stable candidate."""
    return pd.DataFrame([{"algorithm": name, "n_segments": k, "bic_gap": gap, "dbcv": score,
                          "gaussian_bic": gap / 500, "hollowness": 1.0, "stability_ari": 0.9,
                          "edge_share": 0.02 if name in ("dbscan", "hdbscan") else 0.0,
                          "quality_sample_users": 500, "eligible": True}
                         for name, k, gap, score in rows])


def test_density_segments_clearly_separated_by_valleys_win_among_equals() -> None:
    from personae.cluster.auto import BIC_SLACK, DBCV_LEAD, _decide

    # sipu/aggregation's case: equally supported by the BIC, mean shift has fewer segments
    # but merges groups that DBSCAN separates along sparse valleys
    table = _candidates([("meanshift", 5, 4.9, 0.01), ("hdbscan", 5, 16.3, 0.18),
                         ("dbscan", 6, 0.0, 0.22), ("kmeans", 4, 99.5, -0.15)])
    winner, why = _decide(table)
    assert winner == "dbscan"
    assert "separated by sparse valleys (DBCV 0.22 vs hdbscan 0.18, meanshift 0.01)" in why
    # a lead smaller than DBCV_LEAD is no evidence: the fewest segments win
    close = table.assign(dbcv=table["dbcv"].where(table["algorithm"] != "meanshift",
                                                  0.22 - DBCV_LEAD / 2))
    assert _decide(close)[0] == "meanshift"
    # nor does a density method the BIC does not support
    unsupported = table.assign(bic_gap=table["bic_gap"].where(
        table["algorithm"] != "dbscan", 2 * BIC_SLACK)).assign(
        dbcv=table["dbcv"].where(table["algorithm"] != "hdbscan", -0.5))
    assert _decide(unsupported)[0] == "meanshift"


def test_auto_draws_aggregation_as_well_as_the_best_single_method(shared_data: Path) -> None:
    # Gionis et al.'s Aggregation: 7 groups, two pairs joined by thin bridges
    import gzip

    base = shared_data / "clustbench" / "sipu" / "aggregation"
    X = np.loadtxt(gzip.open(f"{base}.data.gz", "rt"))
    truth = np.loadtxt(gzip.open(f"{base}.labels0.gz", "rt"), dtype=int)
    frame = pd.DataFrame(X, columns=["x", "y"])
    scores = {}
    for algorithm in ("auto", "dbscan", "meanshift"):
        model = SegmentModel(algorithm=algorithm, stability=False, log_transform=False,
                             random_state=0).fit(frame)
        scores[algorithm] = adjusted_rand_score(truth, model.labels_)
    assert scores["dbscan"] > scores["meanshift"] + 0.03
    assert scores["auto"] >= scores["dbscan"] - 0.05
