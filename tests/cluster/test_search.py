from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score

from personae.cluster.search import SEARCH_N_INIT, SILHOUETTE_ROWS, choose_k, knee


def test_knee_of_a_clear_elbow() -> None:
    ks = np.arange(2, 11, dtype=float)
    inertia = np.array([100, 60, 30, 10, 9, 8, 7, 6, 5], dtype=float)
    assert knee(ks, inertia) == 5


def test_no_knee_on_a_straight_line_or_too_few_points() -> None:
    assert knee(np.arange(2, 11, dtype=float), np.linspace(100, 10, 9)) is None
    assert knee(np.array([2.0, 3.0]), np.array([5.0, 1.0])) is None


@pytest.mark.parametrize("true_k", [3, 5, 7])
@pytest.mark.parametrize("seed", [0, 1])
def test_finds_the_true_number_of_groups(true_k: int, seed: int) -> None:
    X, _ = make_blobs(n_samples=2000, centers=true_k, n_features=8, cluster_std=1.0,
                      center_box=(-10, 10), random_state=seed)
    selection = choose_k(X.astype(np.float32), list(range(2, 11)), random_state=seed)
    assert selection.chosen_k == true_k
    row = selection.table.set_index("k").loc[true_k]
    assert row["stability_ari"] > 0.95 and row["chosen"]


def test_table_and_rule_are_complete() -> None:
    X, _ = make_blobs(n_samples=800, centers=4, n_features=4, random_state=3)
    selection = choose_k(X, [2, 3, 4, 5, 6], random_state=0)
    assert list(selection.table.columns) == [
        "k", "inertia", "silhouette", "davies_bouldin", "calinski_harabasz", "stability_ari",
        "smallest_segment_share", "smallest_segment_users", "votes", "eligible", "chosen"]
    assert selection.table["votes"].sum() == 4
    assert selection.table["chosen"].sum() == 1
    assert selection.silhouette_rows == 800 and "Kneedle" in selection.rule
    assert set(selection.centers) == {2, 3, 4, 5, 6}



def test_the_k_tables_silhouette_is_scikit_learns_sampled_silhouette() -> None:
    # The silhouette sample's distances are computed once for every K: each K's value is
    # still silhouette_score on SILHOUETTE_ROWS users drawn with the search's random_state.
    X, _ = make_blobs(n_samples=6000, centers=4, n_features=5, cluster_std=2.5,
                      random_state=3)
    X = X.astype(np.float32)
    table = choose_k(X, [3, 4, 5], random_state=2).table.set_index("k")
    for k in (3, 4, 5):
        labels = KMeans(n_clusters=k, n_init=SEARCH_N_INIT, random_state=2).fit(X).labels_
        expected = silhouette_score(X, labels, sample_size=SILHOUETTE_ROWS, random_state=2)
        assert table.loc[k, "silhouette"] == pytest.approx(expected, abs=1e-6)
