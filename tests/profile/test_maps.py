from __future__ import annotations

import numpy as np
import pytest

from personae.profile.maps import project


def test_pca_map_keeps_two_planted_groups_apart() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.3, (100, 6)), rng.normal(4, 0.3, (100, 6))])
    points, method, seconds = project(X.astype(np.float32), "pca", random_state=0)
    assert method == "PCA" and points.shape == (200, 2) and seconds >= 0
    first, second = points[:100, 0], points[100:, 0]
    assert min(first.max(), second.max()) < max(first.min(), second.min())


@pytest.mark.parametrize("columns", [1, 2])
def test_a_map_of_few_features_still_has_two_axes(columns: int) -> None:
    X = np.random.default_rng(1).normal(size=(50, columns))
    points, _, _ = project(X, "pca")
    assert points.shape == (50, 2)


def test_tsne_map_keeps_three_planted_groups_apart_and_repeats_with_its_seed() -> None:
    from sklearn.datasets import make_blobs
    from sklearn.metrics import silhouette_score

    X, truth = make_blobs(n_samples=240, centers=3, n_features=8, cluster_std=0.8,
                          random_state=2)
    points, method, _ = project(X.astype(np.float32), "tsne", random_state=0)
    assert method == "t-SNE" and points.shape == (240, 2)
    assert silhouette_score(points, truth) > 0.6  # the groups stay apart on the plane
    again, _, _ = project(X.astype(np.float32), "tsne", random_state=0)
    np.testing.assert_array_equal(points, again)


def test_tsne_of_a_handful_of_users_still_draws_them() -> None:
    X = np.random.default_rng(3).normal(size=(7, 4))
    points, method, _ = project(X, "tsne")  # perplexity must stay under the user count
    assert method == "t-SNE" and points.shape == (7, 2) and np.isfinite(points).all()


@pytest.mark.parametrize("library", ["openTSNE", "scikit-learn"])
def test_either_tsne_keeps_planted_groups_apart_and_says_whose_it_is(library: str,
                                                                     monkeypatch) -> None:
    """openTSNE when installed, scikit-learn's TSNE otherwise: the same seeded map."""
    from sklearn.datasets import make_blobs
    from sklearn.metrics import silhouette_score

    from personae.profile import maps

    if library == "openTSNE":
        pytest.importorskip("openTSNE", reason="openTSNE comes with the [umap] extra")
    else:
        monkeypatch.setattr(maps, "tsne_library", lambda: "scikit-learn")
    X, truth = make_blobs(n_samples=300, centers=3, n_features=8, cluster_std=0.8,
                          random_state=4)
    points, method, _ = project(X.astype(np.float32), "tsne", random_state=1)
    assert maps.tsne_library() == library and method == "t-SNE"
    assert silhouette_score(points, truth) > 0.6
    np.testing.assert_array_equal(points, project(X.astype(np.float32), "tsne", 1)[0])
