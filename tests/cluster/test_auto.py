"""--algorithm auto: which algorithm it picks, and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from generated import blobs, rings, users
from personae import SegmentModel, segment
from personae.cluster import (
    choose_algorithm,
)
from personae.errors import ConfigError


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


def test_auto_picks_a_density_method_for_a_ring_around_a_disc() -> None:
    X, y = rings()
    frame = pd.DataFrame(X, columns=["x", "y"])
    model = SegmentModel(algorithm="auto", stability=False, log_transform=False,
                         random_state=0).fit(frame)
    choice = model.algorithm_choice_
    assert choice.name == "hdbscan" and "hollow segment" in choice.why
    assert adjusted_rand_score(y, model.natural_labels_) > 0.95  # auto's own partition
    kmeans = choice.table.set_index("algorithm").loc["kmeans"]
    assert kmeans["n_segments"] > 2, "K-means can only cut the ring into arcs"


def test_auto_decides_the_same_on_one_core_and_on_several() -> None:
    X, _ = blobs(n=800, k=4, seed=3, std=1.0)
    one = choose_algorithm(X, k_range=(2, 6), n_jobs=1)
    several = choose_algorithm(X, k_range=(2, 6), n_jobs=3)
    assert (one.name, one.params, one.why) == (several.name, several.params, several.why)
    columns = [c for c in one.table.columns if c != "seconds"]
    pd.testing.assert_frame_equal(one.table[columns], several.table[columns])
    assert list(one.table["algorithm"]) == ["kmeans", "gmm", "hierarchical", "hdbscan",
                                           "dbscan", "meanshift"]


def test_auto_run_writes_the_comparison(tmp_path: Path) -> None:
    frame, y = users(n=600, k=3, seed=3)
    result = segment(frame, k_range=(2, 5))
    result.save(tmp_path / "auto")
    table = pd.read_csv(tmp_path / "auto" / "algorithm_selection.csv")
    assert table["chosen"].sum() == 1
    assert adjusted_rand_score(y, result.labels) > 0.95
    assert result.algorithm["why"][0].startswith("auto: ")


def _candidates(rows: list[tuple[str, int, float, float]]) -> pd.DataFrame:
    """A comparison table: (algorithm, segments, BIC gap, DBCV) per stable candidate."""
    return pd.DataFrame([{"algorithm": name, "n_segments": k, "bic_gap": gap, "dbcv": score,
                          "gaussian_bic": gap / 500, "hollowness": 1.0, "stability_ari": 0.9,
                          "edge_share": 0.02 if name in ("dbscan", "hdbscan") else 0.0,
                          "quality_sample_users": 500, "eligible": True}
                         for name, k, gap, score in rows])


def test_density_segments_clearly_separated_by_valleys_win_among_equals() -> None:
    from personae.cluster.auto import _decide
    from personae.cluster.auto_rules import AutoRules

    BIC_SLACK, DBCV_LEAD = AutoRules().bic_slack, AutoRules().dbcv_lead

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
        scores[algorithm] = adjusted_rand_score(truth, model.natural_labels_)
    assert scores["dbscan"] > scores["meanshift"] + 0.03
    assert scores["auto"] >= scores["dbscan"] - 0.05


def test_model_parameter_errors() -> None:
    frame, _ = users(n=200)
    with pytest.raises(ConfigError, match="k=4 does not apply to dbscan.*k applies to kmeans"):
        SegmentModel(algorithm="dbscan", k=4).fit(frame)
    with pytest.raises(ConfigError, match="params need a named algorithm"):
        SegmentModel(algorithm="auto", params={"eps": 1.0}).fit(frame)
    with pytest.raises(ConfigError, match=r"algorithm must be one of kmeans, .*; got 'optics'"):
        SegmentModel(algorithm="optics").fit(frame)
    with pytest.raises(ConfigError, match="'eps' parameter of dbscan must be a float"):
        SegmentModel(algorithm="dbscan", params={"eps": "wide"}).fit(frame)
    with pytest.raises(ConfigError, match="predict_proba needs soft segments"):
        SegmentModel(algorithm="hierarchical", k=3, stability=False).fit(frame) \
            .predict_proba(frame)


def _failing(monkeypatch: pytest.MonkeyPatch, name: str, error: Exception) -> None:
    """Make candidate ``name`` raise ``error`` when fitted (the others run as they do)."""
    import personae.cluster.auto as auto

    real = auto.make_segmenter

    def make(algorithm: str, **params: object) -> object:
        if algorithm == name:
            raise error
        return real(algorithm, **params)

    monkeypatch.setattr(auto, "make_segmenter", make)


def test_a_candidate_that_raises_a_bug_is_recorded_with_its_error_and_a_warning(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _failing(monkeypatch, "gmm", KeyError("covariance_type"))
    X, _ = blobs(n=600, k=3, seed=3, std=1.0)
    with caplog.at_level("WARNING", logger="personae.cluster.auto"):
        choice = choose_algorithm(X, candidates=("kmeans", "gmm"), k_range=(2, 5), n_jobs=1)
    table = choice.table.set_index("algorithm")
    assert table.loc["gmm", "error"] == "KeyError: 'covariance_type'"
    assert table.loc["gmm", "note"] == "error (see the error column)"
    assert not table.loc["gmm", "eligible"] and table.loc["kmeans", "error"] == ""
    assert choice.name == "kmeans"
    assert [r.getMessage() for r in caplog.records] == [
        "auto: gmm raised an error on the sample, left out: KeyError: 'covariance_type'"]


def test_a_numerical_failure_makes_a_candidate_ineligible_without_an_error(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _failing(monkeypatch, "gmm", np.linalg.LinAlgError("Singular matrix"))
    X, _ = blobs(n=600, k=3, seed=3, std=1.0)
    with caplog.at_level("WARNING", logger="personae.cluster.auto"):
        choice = choose_algorithm(X, candidates=("kmeans", "gmm"), k_range=(2, 5), n_jobs=1)
    gmm = choice.table.set_index("algorithm").loc["gmm"]
    assert (gmm["eligible"], gmm["error"]) == (False, "")
    assert gmm["note"] == "numerical failure: Singular matrix"
    assert not caplog.records


def test_when_every_candidate_fails_kmeans_is_the_fallback_and_each_failure_is_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _failing(monkeypatch, "meanshift", ConfigError("meanshift: no user lies within "
                                                   "bandwidth=12.1 of any seed"))
    X, _ = blobs(n=600, k=3, seed=3, std=1.0)
    choice = choose_algorithm(X, candidates=("meanshift",), n_jobs=1)
    assert choice.name == "kmeans" and "falling back to kmeans" in choice.why
    row = choice.table.set_index("algorithm").loc["meanshift"]
    assert row["error"] == "ConfigError: meanshift: no user lies within bandwidth=12.1 of any seed"
    assert row["params"] == ""


def test_the_error_column_reaches_algorithm_selection_csv(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import personae.cluster.auto as auto

    _failing(monkeypatch, "meanshift", TypeError("unexpected keyword 'bandwith'"))
    monkeypatch.setattr(auto, "cpu_count", lambda: 1)  # the patch lives in this process only
    frame, _ = users(n=600, k=3, seed=3)
    segment(frame, k_range=(2, 5), stability=False).save(tmp_path / "run")
    table = pd.read_csv(tmp_path / "run" / "algorithm_selection.csv",
                        keep_default_na=False).set_index("algorithm")
    assert table.loc["meanshift", "error"] == "TypeError: unexpected keyword 'bandwith'"
    assert (table.drop(index="meanshift")["error"] == "").all()


def test_repeated_users_do_not_make_a_density_segment_read_hollow() -> None:
    # every user 25 times, the copies apart by float noise: their member spacing was ~1e-6,
    # and hdbscan's blob read as "hollow" (its centre 158,298 member spacings away)
    rng = np.random.default_rng(0)
    X, _ = blobs(n=90, k=3, seed=3, std=1.0)
    X = np.repeat(X, 25, axis=0)
    X = (X + rng.normal(size=X.shape) * 1e-6).astype(np.float32)
    choice = choose_algorithm(X, candidates=("kmeans", "hdbscan"), k_range=(2, 5), n_jobs=1)
    assert choice.table["hollowness"].max() < 1.5
    assert "hollow" not in choice.why
