from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from generated import blob_users
from personae import ModelFileError, NotFittedError, SegmentModel
from personae.errors import ConfigError, DataError


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_known_answer_blobs(seed: int) -> None:
    frame, truth = blob_users(n=4000, k=5, seed=seed)
    model = SegmentModel(algorithm="kmeans", random_state=seed).fit(frame)
    assert model.n_clusters_ == 5
    assert adjusted_rand_score(truth, model.labels_) >= 0.95


def test_segments_are_numbered_by_size() -> None:
    frame, _ = blob_users(n=3000, k=4, seed=4)
    labels = SegmentModel(algorithm="kmeans", k=4).fit(frame).labels_
    sizes = np.bincount(labels)
    assert list(sizes) == sorted(sizes, reverse=True)


def test_same_seed_same_labels_and_row_order_does_not_matter() -> None:
    frame, _ = blob_users(n=2500, k=4, seed=5, spread=2.5)
    first = SegmentModel(algorithm="kmeans", random_state=3).fit(frame).labels_
    again = SegmentModel(algorithm="kmeans", random_state=3).fit(frame).labels_
    assert np.array_equal(first, again)
    order = np.random.default_rng(0).permutation(len(frame))
    shuffled = SegmentModel(algorithm="kmeans",
                            random_state=3).fit(frame.iloc[order].reset_index(drop=True))
    assert np.array_equal(shuffled.labels_, first[order])


def test_saved_and_reloaded_model_predicts_identically(tmp_path: Path) -> None:
    frame, _ = blob_users(n=2000, k=3, seed=6)
    frame["plan"] = np.where(frame["metric_0"] > 0, "pro", "free")
    frame.loc[::17, "metric_1"] = np.nan
    model = SegmentModel(algorithm="kmeans", random_state=1).fit(frame)
    model.save(tmp_path / "model")
    loaded = SegmentModel.load(tmp_path / "model")
    new_users, _ = blob_users(n=500, k=3, seed=7)
    new_users["plan"] = "enterprise"
    assert np.array_equal(loaded.predict(new_users), model.predict(new_users))
    assert np.array_equal(loaded.predict(frame), model.labels_)
    document = json.loads((tmp_path / "model" / "model.json").read_text())
    assert document["format"] == "personae.segment-model" and document["format_version"] == 2


def test_model_files_hold_no_pickles(tmp_path: Path) -> None:
    frame, _ = blob_users(n=600, k=3, seed=8)
    SegmentModel(algorithm="kmeans", k=3).fit(frame).save(tmp_path / "m")
    with np.load(tmp_path / "m" / "arrays.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)


def test_unknown_format_version_is_rejected(tmp_path: Path) -> None:
    frame, _ = blob_users(n=600, k=3, seed=8)
    SegmentModel(algorithm="kmeans", k=3).fit(frame).save(tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    document = json.loads(path.read_text())
    document["format_version"] = 99
    path.write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match=r"model format version 99 is not supported by "
                                             r"personae .* \(reads versions 1, 2\)"):
        SegmentModel.load(tmp_path / "m")


@pytest.mark.parametrize(("content", "message"), [
    (None, r"not a model folder"),
    ("{not json", r"not valid JSON"),
    ('{"format": "something-else"}', r"not a personae segment model"),
])
def test_unreadable_model_folders(tmp_path: Path, content: str | None, message: str) -> None:
    folder = tmp_path / "m"
    if content is not None:
        folder.mkdir()
        (folder / "model.json").write_text(content)
    with pytest.raises(ModelFileError, match=message):
        SegmentModel.load(folder)


def test_predict_before_fit() -> None:
    with pytest.raises(NotFittedError, match=r"not fitted yet"):
        SegmentModel().predict(pd.DataFrame({"a": [1.0]}))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"k": 1}, r"k must be at least 2"),
    ({"k": "seven"}, r"k must be 'auto' or an int >= 2; got 'seven'"),
    ({"k_range": (1, 5)}, r"k_range must be two ints with 2 <= low <= high"),
])
def test_bad_parameters(kwargs: dict[str, object], message: str) -> None:
    frame, _ = blob_users(n=100, k=2)
    with pytest.raises(ConfigError, match=message):
        SegmentModel(**kwargs).fit(frame)  # type: ignore[arg-type]


def test_segments_need_five_users_each() -> None:
    frame, _ = blob_users(n=24, k=2)
    with pytest.raises(DataError, match=r"K=5 needs at least 25 users \(5 per segment\); the "
                                        r"input has 24"):
        SegmentModel(algorithm="kmeans", k=5).fit(frame, "tiny.csv")
    with pytest.raises(DataError, match=r"9 users are too few to segment: 2 segments of at "
                                        r"least 5 users need 10"):
        SegmentModel(algorithm="kmeans").fit(frame.head(9), "tiny.csv")
    # 12 users: K is searched in 2..2 only, never one segment per user or two
    model = SegmentModel(algorithm="kmeans", stability=False).fit(frame.head(12), "tiny.csv")
    assert model.n_clusters_ == 2
    assert np.bincount(model.labels_[model.labels_ >= 0]).min() >= 2


@pytest.mark.parametrize("algorithm", ["meanshift", "dbscan", "hierarchical", "gmm"])
def test_a_dozen_users_get_segments_of_several_users(algorithm: str) -> None:
    frame, _ = blob_users(n=12, k=2)
    model = SegmentModel(algorithm=algorithm).fit(frame, "tiny.csv")
    sizes = np.bincount(model.labels_[model.labels_ >= 0])
    assert 1 <= len(sizes) <= 2 and sizes.min() >= 5


@settings(max_examples=5, deadline=None)
@given(order=st.permutations([f"metric_{i}" for i in range(4)] + ["user_id"]),
       seed=st.integers(0, 50))
def test_column_order_does_not_change_labels(order: list[str], seed: int) -> None:
    frame, _ = blob_users(n=400, k=3, n_features=4, seed=seed, spread=2.0)
    base = SegmentModel(algorithm="kmeans", k_range=(2, 5), random_state=seed).fit(frame)
    shuffled = SegmentModel(algorithm="kmeans", k_range=(2, 5), random_state=seed).fit(frame[order])
    assert shuffled.n_clusters_ == base.n_clusters_
    assert np.array_equal(shuffled.labels_, base.labels_)


def test_a_plain_array_frame_with_numbered_columns_segments_and_saves(tmp_path: Path) -> None:
    from personae import segment

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.5, size=(200, 4)) for c in (0, 5, 10)])
    frame = pd.DataFrame(X)  # columns 0, 1, 2, 3
    result = segment(frame, algorithm="kmeans", random_state=0)
    assert result.model.n_clusters_ == 3
    out = result.save(tmp_path / "run")
    assert pd.read_parquet(out / "users_segmented.parquet").shape[0] == 600
    assert np.array_equal(result.model.predict(frame), result.labels)


def test_a_segment_of_a_few_far_users_is_called_out() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.5, size=(200, 3)) for c in (0, 5, 10)]
                  + [np.full((3, 3), 40.0)])
    from personae import segment

    result = segment(pd.DataFrame(X, columns=["a", "b", "c"]), algorithm="kmeans", k=4)
    assert np.bincount(result.labels).min() == 3
    assert any("fewer than 5 users (3): outliers rather than a persona" in note
               for note in result.algorithm["why"])


def test_a_scikit_learn_estimator() -> None:
    from sklearn.base import clone

    frame, truth = blob_users(n=1500, k=3, seed=9)
    model = SegmentModel(algorithm="kmeans", k=3, random_state=2)
    assert repr(model) == "SegmentModel(algorithm='kmeans', k=3, random_state=2)"
    twin = clone(model)
    assert twin is not model and twin.get_params() == model.get_params()
    labels = twin.fit_predict(frame)
    assert adjusted_rand_score(truth, labels) >= 0.95
    assert np.array_equal(model.fit(frame).labels_, labels)
    # once fitted, an array in the order of feature_names_in_ is a table
    array = frame[model.feature_names_in_].to_numpy()
    assert np.array_equal(model.predict(array), labels)
    with pytest.raises(DataError, match=r"expected an array of users x 6 columns"):
        model.predict(array[:, :2])
    with pytest.raises(ConfigError, match=r"unknown setting 'n_clusters'"):
        model.set_params(n_clusters=4)
    assert model.set_params(k=4).get_params()["k"] == 4


def test_segment_and_the_model_share_their_defaults() -> None:
    from personae import segment

    frame, _ = blob_users(n=900, k=3, seed=10)
    result = segment(frame, stability=False)
    model = SegmentModel(stability=False).fit(frame)
    assert model.settings_.algorithm == "auto" and model.levels_ is not None
    assert np.array_equal(model.labels_, result.labels)


def test_every_level_from_python() -> None:
    frame, _ = blob_users(n=1500, k=4, seed=11)
    model = SegmentModel(stability=False).fit(frame)  # persona levels
    levels = model.predict_levels(frame)
    assigned = model.assign(frame)
    assert np.array_equal(levels[:, 0], assigned["broad_segment"])
    assert np.array_equal(levels[:, 1], model.predict(frame))
    kmeans = SegmentModel(algorithm="kmeans", k=3).fit(frame)
    with pytest.raises(ConfigError, match=r"predict_levels needs nested levels"):
        kmeans.predict_levels(frame)
