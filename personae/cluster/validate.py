"""Is a segmentation any good? Quality indices, bootstrap stability, size balance.

Everything runs on a sample of users (silhouette and DBCV are O(n^2)); the sample size is
returned with the numbers. Edge users (``-1``) are left out of silhouette, Davies-Bouldin
and Calinski-Harabasz, and counted against DBCV (Moulavi et al. 2014), which scores the
share of users left out as zero.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.neighbors import NearestNeighbors

from personae.cluster._base import fixed_params
from personae.data.writers import to_json
from personae.errors import ConfigError

QUALITY_ROWS = 3_000
DBCV_ROWS = 2_000
log = logging.getLogger(__name__)

STABILITY_RUNS = 5
# hollowness: members nearer each other than this share of their segment's radius are one
# (float noise of a repeated user sits around 1e-6 of it; real spacings are far above)
DISTINCT = 1e-4
STABILITY_SHARE = 0.8
UNSTABLE_JACCARD = 0.6  # Hennig (2007): below 0.6 a cluster "dissolves" under resampling


def quality(X: np.ndarray, labels: np.ndarray, *, random_state: int = 0,
            rows: int = QUALITY_ROWS,
            bic_columns: np.ndarray | None = None) -> dict[str, float | int]:
    """Silhouette, Davies-Bouldin, Calinski-Harabasz, DBCV and the Gaussian BIC of
    ``labels`` on a sample. ``bic_columns``: the columns the BIC reads (leave out one-hot
    categories: 0/1 columns make near-singular Gaussians that reward splitting on them)."""
    rng = np.random.default_rng(random_state)
    take = np.sort(rng.choice(len(X), size=min(rows, len(X)), replace=False))
    Xs, ls = np.asarray(X[take], dtype=np.float64), np.asarray(labels[take])
    clustered = ls >= 0
    out: dict[str, float | int] = {"quality_sample_users": int(len(take)),
                                   "edge_share": float(np.mean(labels < 0))}
    found = np.unique(ls[clustered])
    if len(found) >= 2 and clustered.sum() > len(found):
        out["silhouette"] = float(silhouette_score(Xs[clustered], ls[clustered]))
        out["davies_bouldin"] = float(davies_bouldin_score(Xs[clustered], ls[clustered]))
        out["calinski_harabasz"] = float(calinski_harabasz_score(Xs[clustered], ls[clustered]))
    else:
        out.update(silhouette=np.nan, davies_bouldin=np.nan, calinski_harabasz=np.nan)
    out["dbcv"] = dbcv(Xs[:DBCV_ROWS], ls[:DBCV_ROWS])
    columns = np.arange(X.shape[1]) if bic_columns is None else np.asarray(bic_columns)
    out["gaussian_bic"] = gaussian_bic(Xs[:, columns], ls) if len(columns) else np.nan
    out["hollowness"] = hollowness(Xs, ls)
    return out


def dbcv(X: np.ndarray, labels: np.ndarray) -> float:
    """Density-based clustering validation (Moulavi et al. 2014), in [-1, 1].

    All-points core distances, a minimum spanning tree of mutual reachability distances
    inside each cluster (sparseness = its largest internal edge) and the smallest mutual
    reachability distance between internal points of two clusters (separation).
    """
    labels = np.asarray(labels)
    clusters = [c for c in np.unique(labels) if c >= 0 and np.sum(labels == c) >= 3]
    if len(clusters) < 2:
        return float("nan")
    d = X.shape[1]
    core: dict[int, np.ndarray] = {}
    internal: dict[int, np.ndarray] = {}
    sparseness: dict[int, float] = {}
    points: dict[int, np.ndarray] = {}
    for c in clusters:
        P = X[labels == c]
        dist = cdist(P, P)
        with np.errstate(divide="ignore", over="ignore"):
            inv = np.where(dist > 0, 1.0 / dist, 0.0) ** d
        with np.errstate(divide="ignore", over="ignore"):
            core_c = (inv.sum(axis=1) / max(len(P) - 1, 1)) ** (-1.0 / d)
        core_c[~np.isfinite(core_c)] = 0.0
        mreach = np.maximum(dist, np.maximum(core_c[:, None], core_c[None, :]))
        mst = spanning_tree(mreach)
        degree = np.bincount(np.concatenate([mst.row, mst.col]), minlength=len(P))
        inner = degree > 1
        if not inner.any():
            inner[:] = True
        edges = (inner[mst.row] & inner[mst.col])
        # a segment of identical users has an MST of zero-length edges, which scipy drops
        sparseness[c] = float(mst.data[edges].max()) if edges.any() else \
            float(mst.data.max(initial=0.0))
        core[c], internal[c], points[c] = core_c[inner], inner, P[inner]
    score = 0.0
    for c in clusters:
        separation = min(
            float(np.min(np.maximum(cdist(points[c], points[o]),
                                    np.maximum(core[c][:, None], core[o][None, :]))))
            for o in clusters if o != c)
        top = max(separation, sparseness[c])
        validity = (separation - sparseness[c]) / top if top > 0 else 0.0
        score += np.sum(labels == c) / len(labels) * validity
    return float(score)


def spanning_tree(weights: np.ndarray) -> Any:
    """scipy's minimum spanning tree of a symmetric matrix of edge weights (0: no edge),
    edge for edge, as a COO matrix. Kruskal takes the edges in a stable sort of their
    weights, row by row: an edge's lower-triangle twin comes after it and joins nothing, so
    the upper triangle alone gives the same tree, ties broken the same way, from half the
    sort (a third of DBCV's time)."""
    return minimum_spanning_tree(np.triu(weights, k=1)).tocoo()


def gaussian_bic(X: np.ndarray, labels: np.ndarray) -> float:
    """BIC of the partition read as a Gaussian mixture, per user and halved: lower is better.

    One Gaussian per segment (edge users as one more group), estimated from the segment's
    members, under each covariance structure a mixture model offers (full, tied, diagonal,
    spherical); the best of the four counts, so a partition is judged by the Gaussian
    description that suits it. The likelihood is the mixture's, so two segments that
    overlap are not punished for the users near their border (a hard-assignment likelihood
    would prefer merging them). It rewards Gaussian-shaped segments, elongated ones
    included, where silhouette and Calinski-Harabasz prefer round ones. Covariances are
    shrunk towards the pooled within-segment variances (weight d + 2 users), so small
    groups stay defined without borrowing the spread of the whole data set.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    n, d = X.shape
    groups, index = np.unique(labels, return_inverse=True)
    k = len(groups)
    means = np.stack([X[index == j].mean(axis=0) for j in range(k)])
    counts = np.bincount(index, minlength=k).astype(np.float64)
    residual = X - means[index]
    pooled = residual.T @ residual / n + 1e-9 * np.eye(d)
    prior = np.diag(np.diag(pooled))
    full = []
    for j in range(k):
        R = residual[index == j]
        spread = R.T @ R / counts[j]
        full.append((counts[j] * spread + (d + 2) * prior) / (counts[j] + d + 2))
    covariances = {
        "full": (full, k * d * (d + 1) / 2),
        "tied": ([pooled] * k, d * (d + 1) / 2),
        "diag": ([np.diag(np.diag(c)) for c in full], k * d),
        "spherical": ([np.eye(d) * np.trace(c) / d for c in full], k),
    }
    best = np.inf
    for covs, n_cov in covariances.values():
        log_density = np.empty((n, k))
        for j, cov in enumerate(covs):
            _, logdet = np.linalg.slogdet(cov)
            diff = X - means[j]
            mahalanobis = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(cov), diff)
            log_density[:, j] = np.log(counts[j] / n) - 0.5 * (d * np.log(2 * np.pi) + logdet
                                                               + mahalanobis)
        top = log_density.max(axis=1)
        loglik = float(np.sum(top + np.log(np.exp(log_density - top[:, None]).sum(axis=1))))
        parameters = k * d + n_cov + k - 1
        best = min(best, (-2 * loglik + parameters * np.log(n)) / (2 * n))
    return float(best)


def hollowness(X: np.ndarray, labels: np.ndarray, neighbours: int = 10) -> float:
    """How far the most hollow segment's centre lies from its own members, in units of
    the segment's typical spacing (largest over segments; 0 when none can be measured).

    Per segment: the distance from its mean to its ``neighbours``-th nearest member,
    divided by the median distance of a member to its ``neighbours``-th nearest fellow
    member. A blob's centre is at least as crowded as its members (ratio <= ~1); a ring,
    a shell or a crescent has its centre in an empty place (ratio >= 2): a shape no centroid
    or Gaussian segment can draw. Spacings are measured between distinct members (members
    closer than ``DISTINCT`` x the segment's radius are one): repeated users say nothing of
    a shape, and their spacing of 0 or of float noise made any centre look 740,000
    spacings away.
    """
    labels = np.asarray(labels)
    worst = 0.0
    for c in np.unique(labels[labels >= 0]):
        members = np.asarray(X[labels == c], dtype=np.float64)
        P = _distinct(members)
        if len(P) <= 2 * neighbours:
            continue
        nn = NearestNeighbors(n_neighbors=neighbours + 1).fit(P)
        spacing = float(np.median(nn.kneighbors(P)[0][:, -1]))
        centre = float(nn.kneighbors(members.mean(axis=0, keepdims=True),
                                     n_neighbors=neighbours)[0][0, -1])
        if spacing > 0:
            worst = max(worst, centre / spacing)
    return worst


def _distinct(P: np.ndarray) -> np.ndarray:
    """One row for each group of rows within ``DISTINCT`` x the radius (the mean distance
    to the mean) of each other; none when the rows are all one point."""
    centred = P - P.mean(axis=0)
    radius = float(np.mean(np.linalg.norm(centred, axis=1)))
    if radius == 0:
        return P[:0]
    _, first = np.unique(np.round(centred / (DISTINCT * radius)), axis=0, return_index=True)
    return P[np.sort(first)]


def balance(labels: np.ndarray) -> dict[str, float]:
    """Normalised entropy of segment sizes (1 = all equal) and the smallest/largest shares."""
    labels = np.asarray(labels)
    sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(1)
    sizes = sizes[sizes > 0]
    shares = sizes / max(len(labels), 1)
    p = sizes / max(sizes.sum(), 1)
    entropy = float(-(p * np.log(p)).sum() / np.log(len(p))) if len(p) > 1 else 0.0
    return {"size_entropy": entropy,
            "smallest_share": float(shares.min()) if len(shares) else 0.0,
            "largest_share": float(shares.max()) if len(shares) else 0.0}


@dataclass(frozen=True)
class Stability:
    """Bootstrap stability of one segmentation."""

    ari_mean: float
    ari_runs: list[float]
    per_segment_jaccard: dict[int, float]
    unstable_segments: list[int]
    runs: int
    share: float
    sample_users: int
    threshold: float = UNSTABLE_JACCARD
    how: str = field(default="")

    def as_dict(self) -> dict[str, Any]:
        return {"ari_mean": self.ari_mean, "ari_runs": self.ari_runs,
                "per_segment_jaccard": {str(k): v if np.isfinite(v) else None
                                        for k, v in self.per_segment_jaccard.items()},
                "unstable_segments": self.unstable_segments, "threshold": self.threshold,
                "runs": self.runs, "subsample_share": self.share,
                "sample_users": self.sample_users, "how": self.how}


def bootstrap_stability(refit: Callable[[np.ndarray], Any], X: np.ndarray,
                        labels: np.ndarray, *, runs: int = STABILITY_RUNS,
                        share: float = STABILITY_SHARE, random_state: int = 0,
                        threshold: float = UNSTABLE_JACCARD,
                        segments: Iterable[int] | None = None) -> Stability:
    """Refit on ``runs`` random subsamples of ``X`` and compare with ``labels`` on ``X``.

    ``refit(X_sub)`` returns a fitted segmenter with ``predict``. ARI is over all users of
    ``X``; the Jaccard of a segment is, per run, its best match among the refit's segments
    restricted to the users drawn (Hennig 2007), averaged over runs. Edge users (-1) form
    their own group in the ARI and get no Jaccard. ``segments``: every segment of the full
    fit; one with no user in ``X`` (a small segment of many users) has no Jaccard and is
    flagged unstable, as it cannot be shown stable.
    """
    rng = np.random.default_rng(random_state)
    labels = np.asarray(labels)
    drawn_segments = {int(s) for s in np.unique(labels) if s >= 0}
    segments = sorted(drawn_segments | set(segments or ()))
    aris: list[float] = []
    jaccards: dict[int, list[float]] = {s: [] for s in segments}
    for _ in range(runs):
        drawn = np.sort(rng.choice(len(X), size=max(2, int(share * len(X))), replace=False))
        model = refit(X[drawn])
        again = np.asarray(model.predict(X))
        aris.append(float(adjusted_rand_score(labels, again)))
        ref, new = labels[drawn], again[drawn]
        for s in segments:
            members = ref == s
            if not members.any():
                continue
            best = 0.0
            for t in np.unique(new[members]):
                if t < 0:
                    continue
                other = new == t
                best = max(best, float((members & other).sum() / (members | other).sum()))
            jaccards[s].append(best)
    per_segment = {s: float(np.mean(v)) if v else float("nan") for s, v in jaccards.items()}
    unstable = [s for s, v in per_segment.items() if not v >= threshold]
    return Stability(ari_mean=float(np.mean(aris)), ari_runs=aris,
                     per_segment_jaccard=per_segment, unstable_segments=unstable, runs=runs,
                     share=share, sample_users=len(X), threshold=threshold,
                     how=f"{runs} refits on random {share:.0%} subsamples of {len(X):,} users "
                         "with the chosen parameters; ARI against the full fit on those users; "
                         f"a segment is unstable when its mean best-match Jaccard < {threshold}"
                         + ("" if set(segments) == drawn_segments else
                            "; a segment with no user among them is unstable: not measured"))


def segmenter_stability(segmenter: Any, X: np.ndarray, labels: np.ndarray, *,
                        random_state: int = 0) -> Stability | None:
    """Bootstrap stability of a fitted segmenter, refitting it with its resolved parameters
    (no new search); None, with a warning, when those do not fit half of ``X``."""
    fixed = fixed_params(segmenter)
    try:
        return bootstrap_stability(lambda Xs: type(segmenter)(**fixed).fit(Xs), X, labels,
                                   random_state=random_state,
                                   segments=range(int(segmenter.n_segments_)))
    except ConfigError as exc:
        log.warning("stability not measured: a refit on half the users failed (%s)", exc)
        return None


def consistency(segmenter: Any, X: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Do the saved segmenter's predictions give the training users their fit labels?"""
    return {
        "fit_predict_agreement": float(np.mean(reloaded(segmenter).predict(X) == labels)),
        "checked_users": int(len(X)),
        "solver_agreement": float(segmenter.solver_agreement_),
        "how": "labels of training users re-predicted by the saved (JSON + npz) "
               "segmenter vs their fit labels; solver_agreement = share of the solver's "
               f"own labels on its {segmenter.n_fit_rows_:,} fitted users kept by "
               "the label extension (fit labels are the extension's labels)",
    }


def reloaded(segmenter: Any) -> Any:
    """The segmenter as a saved model would rebuild it: JSON parameters + arrays."""
    params, arrays = segmenter.to_state()
    return type(segmenter).from_state(json.loads(to_json(params)),
                                      {k: np.array(v) for k, v in arrays.items()})
