"""The registry: every algorithm's contract (fit = predict, state round trip, parameters)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from generated import blobs, fit
from personae.cluster import algorithm_class, algorithm_names, describe, make_segmenter
from personae.cluster.algorithms import parse_params
from personae.errors import ConfigError, NotFittedError

NUMERIC = ["kmeans", "minibatch", "gmm", "dbscan", "hdbscan", "hierarchical", "meanshift",
           "bisecting"]


@pytest.mark.parametrize("name", NUMERIC)
def test_known_answer_and_fit_equals_predict(name: str) -> None:
    X, y = blobs()
    seg = fit(name, X)
    assert adjusted_rand_score(y, seg.labels_) >= 0.95
    assert seg.n_segments_ == 3
    assert np.array_equal(seg.predict(X), seg.labels_)
    sizes = np.bincount(seg.labels_[seg.labels_ >= 0])
    assert list(sizes) == sorted(sizes, reverse=True), "segments are numbered by size"
    assert seg.why_ or name in ("kmeans", "minibatch"), "automatic values say why"


@pytest.mark.parametrize("name", NUMERIC)
def test_state_round_trips_through_json_and_plain_arrays(name: str) -> None:
    X, _ = blobs(seed=1)
    known_k = {"n_clusters": 3} if algorithm_class(name).uses_k else {}
    seg = fit(name, X, random_state=2, **known_k)
    params, arrays = seg.to_state()
    params = json.loads(json.dumps(params))
    assert all(a.dtype != object for a in arrays.values())
    again = algorithm_class(name).from_state(params, {k: np.array(v) for k, v in arrays.items()})
    new, _ = blobs(n=200, seed=9)
    assert np.array_equal(again.predict(new), seg.predict(new))
    assert again.resolved_params_ == json.loads(json.dumps(seg.resolved_params_))


@pytest.mark.parametrize("name", ["dbscan", "hdbscan", "hierarchical", "meanshift", "gmm"])
def test_sampled_fit_labels_every_user(name: str) -> None:
    X, y = blobs(n=1500, seed=3)
    seg = fit(name, X, sample_size=300)
    assert seg.n_fit_rows_ == 300 and len(seg.labels_) == 1500
    assert any("sample of 300" in line for line in seg.why_)
    assert adjusted_rand_score(y, seg.labels_) >= 0.9
    assert seg.solver_agreement_ >= 0.95


def test_caller_sample_makes_labels_independent_of_row_order() -> None:
    X, _ = blobs(n=1200, seed=4, std=1.5)
    ids = np.random.default_rng(0).permutation(len(X))  # a stable per-user key
    sample = np.argsort(ids)
    first = fit("hdbscan", X, sample_size=400).fit(X, sample=sample).labels_
    order = np.random.default_rng(1).permutation(len(X))
    shuffled = make_segmenter("hdbscan", sample_size=400).fit(
        X[order], sample=np.argsort(ids[order])).labels_
    assert np.array_equal(shuffled, first[order])


def test_unknown_algorithm_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown algorithm 'kmean'; choose one of kmeans, "
                                          r"minibatch, gmm, .*auto"):
        make_segmenter("kmean")
    assert algorithm_names()[-1] == "auto" and "meanshift" in algorithm_names()


def test_unknown_parameter_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match="dbscan has no parameter 'epsilon'; its parameters "
                                          "are eps, min_samples"):
        make_segmenter("dbscan", epsilon=0.3)
    with pytest.raises(ConfigError, match="hdbscan has no parameter 'eps'"):
        parse_params("hdbscan", ["eps=0.3"])


@pytest.mark.parametrize(("name", "params", "message"), [
    ("dbscan", {"eps": 0.0}, r"'eps' parameter of dbscan must be a float in the range "
                             r"\(0, inf\) or None \(automatic\). Got 0.0 instead"),
    ("dbscan", {"min_samples": 1}, r"'min_samples' .* int in the range \[2, inf\)"),
    ("hdbscan", {"min_cluster_size": 2.5}, r"'min_cluster_size' .* Got 2.5 instead"),
    ("gmm", {"covariance_type": "round"}, r"one of 'full', 'diag', 'tied', 'spherical'"),
    ("gmm", {"mixed_threshold": 1.5}, r"'mixed_threshold' .* range \(0, 1\]"),
    ("kmeans", {"n_clusters": 1}, r"'n_clusters' .* \[2, inf\)"),
    ("hierarchical", {"linkage": "centroid"}, r"one of 'ward', 'average'"),
    ("meanshift", {"bandwidth": -1.0}, r"'bandwidth' .* Got -1.0 instead"),
    ("kmeans", {"k_range": (5, 2)}, r"'k_range' .* 2 <= low <= high"),
    ("hdbscan", {"sample_size": 10}, r"'sample_size' .* \[50, inf\)"),
    ("hdbscan", {"min_cluster_size": 500}, r"min_cluster_size=500 is more than the 100 users"),
    ("dbscan", {"min_share": 0.7}, r"'min_share' .* range \[0, 0.5\]"),
])
def test_out_of_range_parameters_are_named(name: str, params: dict[str, object],
                                           message: str) -> None:
    X, _ = blobs(n=100)
    with pytest.raises(ConfigError, match=message):
        make_segmenter(name, **params).fit(X)


def test_parse_params_types_values_from_the_command_line() -> None:
    assert parse_params("dbscan", ["eps=0.4", "min_samples=auto"]) == {"eps": 0.4,
                                                                       "min_samples": None}
    assert parse_params("gmm", ["covariance_type=diag"]) == {"covariance_type": "diag"}
    with pytest.raises(ConfigError, match=r"'min_samples' parameter of dbscan must be an int"):
        parse_params("dbscan", ["min_samples=2.5"])
    with pytest.raises(ConfigError, match="--param takes KEY=VALUE; got 'eps'"):
        parse_params("dbscan", ["eps"])
    with pytest.raises(ConfigError, match="--param needs a named --algorithm"):
        parse_params("auto", ["eps=1"])
    assert "eps" in describe("dbscan") and "automatic" in describe("dbscan")["eps"]


def test_predict_before_fit() -> None:
    X, _ = blobs(n=50)
    for name in NUMERIC:
        with pytest.raises(NotFittedError, match="predict called before fit"):
            make_segmenter(name).predict(X)


@pytest.mark.parametrize("name", [n for n in algorithm_names() if n != "auto"])
def test_each_registered_name_loads_the_segmenter_of_that_name(name: str) -> None:
    # the registry names a class's module rather than importing it (so a K-means model
    # loads without the other algorithms' libraries): the two spellings must agree
    assert algorithm_class(name).name == name
