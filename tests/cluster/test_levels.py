"""Persona levels: known answers for the size rule, edge users, nesting and the verdict."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from personae.cluster.levels import NOISE, assign_levels, persona_levels


def _continuum_with_outliers(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    core = rng.lognormal(0.0, 0.6, size=(1_500, 4))
    core = (np.log(core) - 0.0) / 0.6  # one smooth heavy-tailed cloud, as log-scaled
    far = rng.normal(0, 1, size=(15, 4)) + 25.0
    X = np.vstack([core, far]).astype(np.float32)
    truth_far = np.r_[np.zeros(len(core), bool), np.ones(len(far), bool)]
    return X, truth_far


def test_continuum_with_far_outliers_gets_actionable_personas_and_the_continuum_verdict():
    X, truth_far = _continuum_with_outliers()
    base = np.where(truth_far, 1, 0)  # what a mode-seeking base fit gives: 99% / 1%
    lv = persona_levels(X, base)
    shares = np.bincount(lv.persona[~lv.edge]) / len(X)
    assert lv.actionable
    assert shares.max() <= 0.60 and (shares >= 0.05).sum() >= 3
    assert 3 <= lv.n_personas <= 8
    assert lv.separation.verdict == "regions of a continuum"
    assert lv.edge[truth_far].all()  # the far users are edge users, not a persona
    assert lv.edge.mean() <= 0.03
    assert (lv.persona[lv.edge] == NOISE).all()
    assert lv.base_to_persona[0]["users"] == int((base == 0).sum())
    assert any("continuum" in w for w in lv.why)


@pytest.mark.parametrize("k_true", [2, 3, 5])
def test_clear_blobs_keep_their_true_k(k_true):
    X, y = make_blobs(n_samples=1_200, centers=k_true, n_features=5, cluster_std=0.6,
                      center_box=(-15, 15), random_state=3)
    lv = persona_levels(X.astype(np.float32), y)
    assert lv.n_personas == k_true
    core = ~lv.edge
    assert adjusted_rand_score(y[core], lv.persona[core]) > 0.99
    assert lv.separation.verdict == "distinct groups"
    assert lv.stable


def test_a_distinct_minority_does_not_make_a_two_persona_split_of_everyone_else():
    """Two far-apart groups of 92% and 8% read as distinct (silhouette high), but one persona
    for 92% of users is not actionable: the big continuum is split, the minority kept."""
    X, far = _continuum_with_outliers()
    rng = np.random.default_rng(5)
    minority = (rng.normal(0, 1, size=(130, 4)) + 25.0).astype(np.float32)
    X = np.vstack([X[~far], minority])
    lv = persona_levels(X, np.zeros(len(X), int))
    shares = np.bincount(lv.persona[~lv.edge]) / len(X)
    assert shares.max() <= 0.60 and lv.n_personas >= 3
    tail = np.arange(len(X)) >= len(X) - len(minority)
    assert len(np.unique(lv.persona[tail & ~lv.edge])) == 1  # the minority stays one persona
    assert lv.k_table[0]["k"] == 2 and not lv.k_table[0]["actionable"]


def test_many_users_are_levelled_from_a_sample_and_keep_the_truth():
    X, y = make_blobs(n_samples=60_000, centers=4, n_features=6, cluster_std=0.8,
                      center_box=(-12, 12), random_state=2)
    lv = persona_levels(X.astype(np.float32), y)
    assert lv.n_personas == 4 and len(lv.persona) == len(X)
    core = ~lv.edge
    assert adjusted_rand_score(y[core], lv.persona[core]) > 0.99
    assert any("sample of 20,000 of 60,000 users" in w for w in lv.why)
    placed = assign_levels(X, lv.to_dict())  # the saved summary places everyone the same way
    assert (placed["nearest"][core] == lv.persona[core]).mean() > 0.999


def test_the_saved_summary_flags_the_same_edge_users_as_the_fit():
    """Far users past the cap and members of tiny groups: a model that assigns the training
    users again must call exactly the same users edge users as the fit did."""
    X, truth_far = _continuum_with_outliers(seed=4)
    rng = np.random.default_rng(9)
    tiny = (rng.normal(0, 0.3, size=(12, 4)) + [0, 0, 9, 0]).astype(np.float32)
    X = np.vstack([X, tiny, (rng.normal(size=(60, 4)) * 4).astype(np.float32)])
    lv = persona_levels(X, np.zeros(len(X), int))
    placed = assign_levels(X, json.loads(json.dumps(lv.to_dict())))
    assert lv.edge.sum() > 0
    assert (placed["edge"] == lv.edge).all()
    assert (placed["persona"] == lv.persona).all()


def test_tiny_groups_become_edge_users():
    X, y = make_blobs(n_samples=[600, 600, 600, 12], centers=[[0, 0, 0], [8, 0, 0], [0, 8, 0],
                                                              [0, 0, 12]],
                      cluster_std=0.8, random_state=1)
    lv = persona_levels(X.astype(np.float32), y)
    assert lv.n_personas == 3
    tiny = y == 3
    assert lv.edge[tiny].all()
    assert lv.edge[~tiny].mean() < 0.01
    assert set(lv.sizes()) == {NOISE, 0, 1, 2}


def test_levels_nest_broad_persona_detailed():
    X, _ = make_blobs(n_samples=3_000, centers=6, n_features=4, cluster_std=1.5,
                      random_state=7)
    lv = persona_levels(X.astype(np.float32), np.zeros(len(X), int))
    core = ~lv.edge
    for p in range(lv.n_personas):  # each persona in exactly one broad group
        assert len(np.unique(lv.broad[core & (lv.persona == p)])) == 1
    assert 2 <= len(set(lv.persona_to_broad.values())) <= 3
    assert lv.detailed is not None
    assert 8 <= len(lv.detailed_to_persona) <= 12
    for d, p in lv.detailed_to_persona.items():
        assert (lv.persona[lv.detailed == d] == p).all()
    assert (lv.detailed[lv.edge] == NOISE).all() and (lv.broad[lv.edge] == NOISE).all()


def test_no_structure_is_said_in_words():
    rng = np.random.default_rng(0)
    X = np.zeros((500, 3), np.float32)
    X[:20] = rng.normal(size=(20, 3))  # 96% identical users: nothing worth splitting
    lv = persona_levels(X, np.zeros(500, int))
    assert not lv.actionable
    assert lv.separation.verdict == "no structure worth splitting"
    assert lv.n_personas == 1
    assert "no structure worth splitting" in lv.why[0]


def test_k_given_is_kept_and_the_broken_size_rule_said():
    X, y = make_blobs(n_samples=[900, 50, 50], centers=[[0, 0], [10, 0], [0, 10]],
                      cluster_std=0.5, random_state=0)
    lv = persona_levels(X.astype(np.float32), y, k=3)
    assert lv.n_personas == 3
    assert not lv.actionable
    assert any("breaks the size rule" in w for w in lv.why)


def test_new_users_are_assigned_by_the_saved_summary():
    X, y = make_blobs(n_samples=900, centers=3, n_features=3, cluster_std=0.7, random_state=2)
    lv = persona_levels(X.astype(np.float32), y)
    saved = json.loads(json.dumps(lv.to_dict()))  # JSON round trip
    placed = assign_levels(X, saved)
    core = ~lv.edge
    assert (placed["persona"][core] == lv.persona[core]).mean() > 0.99
    assert (placed["broad"][core] == lv.broad[core]).mean() > 0.99
    far = np.full((1, 3), 500.0)
    assert assign_levels(far, lv)["edge"].all()


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="one base label a user"):
        persona_levels(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="k must be in"):
        persona_levels(np.zeros((10, 2)), np.zeros(10), k=0)


def test_a_handful_of_edge_users_reads_as_under_a_tenth_of_a_percent():
    X, y = make_blobs(n_samples=[1_500] * 3, centers=[[0, 0, 0], [8, 0, 0], [0, 8, 0]],
                      cluster_std=0.8, random_state=1)
    X = np.vstack([X, [[40, 40, 40], [-40, 40, -40]]]).astype(np.float32)  # two far users
    lv = persona_levels(X, np.r_[y, 0, 1])
    assert lv.edge.sum() == 2
    assert any(w.startswith("2 edge users (<0.1%)") for w in lv.why), lv.why
