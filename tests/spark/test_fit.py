"""The full fit over everyone in Spark, per algorithm family, and profiles from every user.

Each run fits on a driver sample of a third of the users and writes the run folder; the
saved model, loaded by the embedded engine, must label every user as Spark did, and
segment_profiles.csv must be the embedded profile table of the same users and labels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from generated import blob_users
from personae import SegmentModel, segment
from personae.cli import app
from personae.profile.segments import segment_profiles

pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning")

N_USERS, SAMPLE = 1_500, 500
# Profiles: Spark sums in another order than numpy, so numbers agree to rounding, not bits.
PROFILE_RTOL, PROFILE_ATOL = 1e-9, 1e-12
P_VALUE_RTOL = 1e-6  # p-values of large t amplify the rounding of the sums


@pytest.fixture(scope="module")
def users() -> pd.DataFrame:
    frame, _ = blob_users(N_USERS, k=4, seed=11)
    rng = np.random.default_rng(0)
    frame["plan"] = rng.choice(["free", "pro", "team"], size=N_USERS, p=[0.6, 0.3, 0.1])
    frame.loc[rng.random(N_USERS) < 0.05, "metric_1"] = np.nan  # missing values skipped
    return frame


def _run(spark, frame: pd.DataFrame, out: Path, **options):  # type: ignore[no-untyped-def]
    from personae.spark.run import run

    return run(frame, out, spark=spark, sample_users=SAMPLE, **options)


def _labels_served_by_the_embedded_model(out: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """users_segmented, after checking that the saved model gives every user its label."""
    written = pd.read_parquet(out / "users_segmented.parquet")
    assert len(written) == len(frame)
    inputs = frame.set_index("user_id").loc[written["user_id"]].reset_index()
    model = SegmentModel.load(out / "model")
    assert np.array_equal(model.predict(inputs), written["segment"].to_numpy())
    return written


def test_profiles_are_the_embedded_profiles_of_every_user(spark, users, tmp_path: Path
                                                          ) -> None:
    out = tmp_path / "run"
    rng = np.random.default_rng(1)
    users = users.assign(subscribed=(rng.random(N_USERS) < 0.3).astype(float))  # a yes/no flag
    result = _run(spark, users, out, algorithm="kmeans", k=4, categorical=["plan"])
    assert result.refine["method"] == "kmeans||"
    written = _labels_served_by_the_embedded_model(out, users)
    model = SegmentModel.load(out / "model")
    inputs = users.set_index("user_id").loc[written["user_id"]].reset_index()
    expected = segment_profiles(model.preprocessor_.clean(inputs),
                                written["segment"].to_numpy(), model.preprocessor_)
    got = pd.read_csv(out / "segment_profiles.csv")
    assert got["size"].groupby(got["segment"]).first().sum() == N_USERS  # everyone, not the sample
    assert list(got.columns[:-1]) == list(expected.columns)
    for column in expected.columns:
        if expected[column].dtype.kind == "f":
            rtol = P_VALUE_RTOL if column in ("p_value", "p_adjusted") else PROFILE_RTOL
            np.testing.assert_allclose(got[column], expected[column], rtol=rtol,
                                       atol=PROFILE_ATOL, err_msg=column)
        else:
            assert (got[column].astype(str) == expected[column].astype(str)).all(), column
    assert set(got.loc[got["kind"] == "flag", "feature"]) == {"subscribed"}
    info = json.loads((out / "run.json").read_text())
    assert info["engine"]["profiles_from"] == "all users (Spark aggregations)"
    assert info["engine"]["profile_medians"] == "exact (Spark median)"


def test_with_every_user_on_the_driver_the_personas_are_the_embedded_ones(spark, users,
                                                                         tmp_path: Path) -> None:
    """The fit is the embedded one when everyone fits the driver sample; the personas,
    worded from Spark's profiles of everyone, must then read as the embedded run's."""
    from personae.spark.run import run

    rng = np.random.default_rng(1)
    frame = users.assign(subscribed=(rng.random(N_USERS) < 0.3).astype(float))
    options = {"algorithm": "kmeans", "k": 4, "categorical": ["plan"], "random_state": 0}
    run(frame, tmp_path / "all", spark=spark, sample_users=N_USERS, **options)
    got = json.loads((tmp_path / "all" / "personas.json").read_text())["personas"]
    expected = segment(frame, **options).personas["personas"]
    assert [p["name"] for p in got] == [p["name"] for p in expected]
    for mine, theirs in zip(got, expected, strict=True):
        for key in sorted(set(mine) | set(theirs)):
            assert mine.get(key) == theirs.get(key), (mine["segment"], key)
    assert any("subscribed" in json.dumps(p) for p in got)


def test_gaussian_mixture_is_refitted_with_pyspark_ml(spark, users, tmp_path: Path) -> None:
    frame = users.drop(columns=["plan"])
    out = tmp_path / "gmm"
    result = _run(spark, frame, out, algorithm="gmm", k=4,
                  params={"covariance_type": "full"})
    assert result.refine["method"] == "pyspark.ml GaussianMixture" and result.k == 4
    written = _labels_served_by_the_embedded_model(out, frame)
    memberships = pd.read_parquet(out / "memberships.parquet")
    assert list(memberships.columns) == ["user_id"] + [f"segment_{j}" for j in range(4)]
    assert np.array_equal(memberships["user_id"], written["user_id"])
    proba = memberships.drop(columns="user_id").to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert np.array_equal(proba.argmax(axis=1), written["segment"].to_numpy())
    embedded = segment(frame, algorithm="gmm", k=4, params={"covariance_type": "full"},
                       stability=False)
    truth = pd.Series(embedded.labels, index=frame["user_id"]).loc[written["user_id"]]
    assert adjusted_rand_score(truth, written["segment"]) >= 0.95


def test_bisecting_tree_is_fitted_by_pyspark_ml_and_walked_as_spark_does(spark, users,
                                                                          tmp_path: Path
                                                                          ) -> None:
    frame = users.drop(columns=["plan"])
    out = tmp_path / "bisecting"
    result = _run(spark, frame, out, algorithm="bisecting", k=4)
    assert result.refine["method"] == "pyspark.ml BisectingKMeans" and result.k == 4
    assert result.refine["walk_agreement"] == 1.0
    assert result.refine["walk_checked_users"] == N_USERS
    written = _labels_served_by_the_embedded_model(out, frame)
    sizes = written["segment"].value_counts().sort_index().to_numpy()
    assert list(sizes) == sorted(sizes, reverse=True)
    embedded = segment(frame, algorithm="bisecting", k=4, stability=False)
    truth = pd.Series(embedded.labels, index=frame["user_id"]).loc[written["user_id"]]
    assert adjusted_rand_score(truth, written["segment"]) >= 0.95


def test_density_fit_on_the_sample_labels_everyone_by_its_nearest_rule(spark, users,
                                                                       tmp_path: Path) -> None:
    frame = users.drop(columns=["plan"])
    out = tmp_path / "hdbscan"
    result = _run(spark, frame, out, algorithm="hdbscan")
    assert result.refine["method"] == "none" and "nearest rule" in result.refine["why"]
    written = _labels_served_by_the_embedded_model(out, frame)
    assert result.edge_users == int((written["segment"] == -1).sum())
    profiles = pd.read_csv(out / "segment_profiles.csv")
    assert profiles.groupby("segment")["size"].first().sum() == N_USERS


def test_hierarchical_taxonomy_counts_every_user(spark, users, tmp_path: Path) -> None:
    """The Ward tree is the sample's (as the embedded engine builds it on a sample); the
    taxonomy's sizes are every user's."""
    frame = users.drop(columns=["plan"])
    out = tmp_path / "tree"
    _run(spark, frame, out, algorithm="hierarchical", k=4)
    written = _labels_served_by_the_embedded_model(out, frame)
    nodes = json.loads((out / "hierarchy.json").read_text())["nodes"]
    for level in (1, 2, 3):
        sizes = {n["segment"]: n["size"] for n in nodes if n["level"] == level}
        assert sizes == written[f"level_{level}"].value_counts().to_dict()
    assert {n["segment"]: n["size"] for n in nodes if n["level"] == 2} == \
        written["segment"].value_counts().to_dict()


def test_persona_levels_are_refined_over_everyone(spark, users, tmp_path: Path) -> None:
    """``personae run --engine spark --persona-levels`` (on the active session), then
    ``personae assign`` with the model it wrote: the embedded engine places every user in
    the persona Spark wrote."""
    frame = users.drop(columns=["plan"])
    path = tmp_path / "users.parquet"
    frame.to_parquet(path)
    out = tmp_path / "levels"
    ran = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--engine", "spark",
                                   "--algorithm", "kmeans", "--persona-levels",
                                   "--spark-sample", str(SAMPLE), "--report-map", "none"])
    assert ran.exit_code == 0, ran.output
    assert (out / "report.html").is_file() and (out / "personas.json").is_file()
    written = _labels_served_by_the_embedded_model(out, frame)
    assigned = CliRunner().invoke(app, ["assign", str(out / "model"), str(path), "--out",
                                        str(tmp_path / "assigned.parquet")])
    assert assigned.exit_code == 0, assigned.output
    again = pd.read_parquet(tmp_path / "assigned.parquet").set_index("user_id")
    assert np.array_equal(again.loc[written["user_id"], "segment"], written["segment"])
    assert {"segment", "broad_segment", "natural_segment"} <= set(written.columns)
    assert (out / "model" / "levels.json").is_file() and (out / "persona_levels.csv").is_file()
    levels = json.loads((out / "model" / "levels.json").read_text())
    info = json.loads((out / "run.json").read_text())
    assert info["engine"]["levels_refine"]["converged"]
    assert info["engine"]["sample_users"] == SAMPLE
    assert sum(levels["sizes"]["persona"].values()) == N_USERS
    # each persona sits in one broad group; edge users are -1 at both levels
    pairs = written.groupby("segment")["broad_segment"].nunique()
    assert (pairs == 1).all()
    assert ((written["segment"] == -1) == (written["broad_segment"] == -1)).all()
    # the natural segments' personas (from the sample run) follow the renumbering of the fit
    for base, target in levels["base_to_persona"].items():
        personas = written.loc[written["natural_segment"] == int(base), "segment"]
        assert personas[personas >= 0].mode().iloc[0] == target["persona"], base
    embedded = segment(frame, algorithm="kmeans", persona_levels=True, stability=False)
    assert len(levels["centers"]) == embedded.n_segments
    truth = pd.Series(embedded.labels, index=frame["user_id"]).loc[written["user_id"]]
    core = (truth.to_numpy() >= 0) & (written["segment"].to_numpy() >= 0)
    assert adjusted_rand_score(truth[core], written["segment"][core]) >= 0.95


def test_renumbering_follows_the_sample_users() -> None:
    """What the sample run said of its segment 0 is said of the segment its users are in
    after the full fit (numbered by size over everyone)."""
    from personae.spark.refit import renumbering

    before = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, -1])
    after = np.array([2, 2, 1, 0, 0, 1, 1, 1, 1, 0])
    assert renumbering(before, after) == {0: 2, 1: 0, 2: 1}
    assert renumbering(np.array([-1, -1]), np.array([0, 1])) == {}


def test_spark_far_limits_are_the_embedded_edge_rule_with_its_cap(spark) -> None:
    """Spark's refit calls the embedded edge rule: far users capped at 2% of users (here
    5% lie far), each limit moved out to the farthest user its persona keeps in."""
    from personae.cluster.levels import LevelRules, far_users
    from personae.spark.refit import refine_levels

    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0]])
    X = np.vstack([rng.normal(centres[0], 0.5, size=(475, 2)),
                   rng.normal(centres[1], 0.5, size=(475, 2)),
                   centres[0] + rng.uniform(3, 4, size=(50, 1)) * [[0.0, 1.0]]])
    vectors = spark.createDataFrame(pd.DataFrame({"x": [row.tolist() for row in X]}))
    levels = {"centers": centres.tolist(), "persona_to_broad": {"0": 0, "1": 1}}
    refined = refine_levels(vectors, levels, X, len(X), max_iter=20, tol=1e-6)
    labels = np.argmin(((X[:, None] - refined.centers[None]) ** 2).sum(axis=2), axis=1)
    dist = np.linalg.norm(X - refined.centers[labels], axis=1)
    far, limits = far_users(dist, labels, 2, LevelRules())
    assert far.sum() == 20  # the cap: 2% of 1,000 users
    assert refined.far_distance == pytest.approx(limits, rel=1e-6)

