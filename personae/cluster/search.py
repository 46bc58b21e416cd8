"""Choose the number of segments K: four quality indices and a stability check, one rule.

Everything here runs on a sample of users (``SEARCH_ROWS``), never on all of them:
silhouette is O(n^2), and the other indices settle long before a million users.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
)

from personae.cluster._base import chord_gaps, threads_for
from personae.cluster.silhouette import distances_between, silhouette_from_distances

log = logging.getLogger(__name__)

SEARCH_ROWS = 20_000
SILHOUETTE_ROWS = 5_000
STABILITY_RUNS = 4
STABILITY_SHARE = 0.5
STABLE_ARI = 0.8
SEARCH_N_INIT = 4

RULE = (
    "Four indices each vote for one K: the elbow (Kneedle knee of the inertia curve), the "
    "highest silhouette, the lowest Davies-Bouldin and the highest Calinski-Harabasz. Only "
    f"stable K may receive votes: mean adjusted Rand index >= {STABLE_ARI} between the fit on "
    f"the search sample and {STABILITY_RUNS} refits on random {STABILITY_SHARE:.0%} "
    "subsamples (all K if none is that stable). The K with most votes wins; ties go to the "
    "more stable K, then to the smaller K."
)


@dataclass(frozen=True)
class KSelection:
    """The K table and the decision taken from it."""

    table: pd.DataFrame
    chosen_k: int
    knee_k: int | None
    rule: str
    search_rows: int
    silhouette_rows: int
    centers: dict[int, np.ndarray] = field(repr=False)
    seconds: float = 0.0


def knee(ks: np.ndarray, inertia: np.ndarray) -> int | None:
    """Kneedle on a decreasing convex curve: the K farthest below the chord."""
    if len(ks) < 3 or inertia[0] == inertia[-1]:
        return None
    # read right to left, the inertia curve is increasing and convex
    gap = chord_gaps(-np.asarray(ks, dtype=float)[::-1], np.asarray(inertia)[::-1])[::-1]
    best = int(np.argmax(gap))
    return int(ks[best]) if gap[best] > 0 else None


def _kmeans(X: np.ndarray, k: int, n_init: int, random_state: int) -> KMeans:
    # scikit-learn's K-means directly: the segmenters build on this module, not the reverse.
    return KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit(X)


def choose_k(X: np.ndarray, k_values: list[int], *, random_state: int = 0) -> KSelection:
    """Fit K-means for every K in ``k_values`` on ``X`` (already a sample) and pick one."""
    started = time.perf_counter()
    with threads_for(len(X)):
        table, centers, silhouette_rows = _k_table(X, k_values, random_state)
    knee_k = knee(table["k"].to_numpy(dtype=float), table["inertia"].to_numpy())
    chosen = _vote(table, knee_k)
    table["chosen"] = table["k"] == chosen
    return KSelection(table=table, chosen_k=chosen, knee_k=knee_k, rule=RULE,
                      search_rows=len(X), silhouette_rows=silhouette_rows, centers=centers,
                      seconds=time.perf_counter() - started)


def _k_table(X: np.ndarray, k_values: list[int], random_state: int
             ) -> tuple[pd.DataFrame, dict[int, np.ndarray], int]:
    rng = np.random.default_rng(random_state)
    n = len(X)
    silhouette_rows = min(n, SILHOUETTE_ROWS)
    # The silhouette sample is the same users for every K (silhouette_score's own draw
    # for this random_state): their distances are computed once, not once per K.
    silhouette_sample = np.random.RandomState(random_state).permutation(n)[:silhouette_rows]
    distances = distances_between(X[silhouette_sample])
    rows = []
    centers: dict[int, np.ndarray] = {}
    for k in k_values:
        reference = _kmeans(X, k, SEARCH_N_INIT, random_state)
        labels = reference.labels_
        centers[k] = reference.cluster_centers_.astype(np.float32)
        agreement = []
        for run in range(STABILITY_RUNS):
            subset = rng.choice(n, size=max(k, int(STABILITY_SHARE * n)), replace=False)
            refit = _kmeans(X[subset], k, 2, random_state + 1 + run)
            agreement.append(adjusted_rand_score(labels, refit.predict(X)))
        fitted_k = len(np.unique(labels))
        if fitted_k < 2:
            silhouette, db, ch = np.nan, np.nan, np.nan
        else:
            silhouette = silhouette_from_distances(distances, labels[silhouette_sample])
            db = float(davies_bouldin_score(X, labels))
            ch = float(calinski_harabasz_score(X, labels))
        rows.append({
            "k": k, "inertia": reference.inertia_, "silhouette": silhouette,
            "davies_bouldin": db, "calinski_harabasz": ch,
            "stability_ari": float(np.mean(agreement)),
            "smallest_segment_share": float(np.bincount(labels).min() / n),
            "smallest_segment_users": int(np.bincount(labels).min()),
        })
        log.info("K=%d: silhouette %.3f, stability %.3f", k, silhouette, rows[-1]["stability_ari"])
    return pd.DataFrame(rows), centers, silhouette_rows


def _vote(table: pd.DataFrame, knee_k: int | None) -> int:
    stable = table[table["stability_ari"] >= STABLE_ARI]
    eligible = stable if not stable.empty else table
    votes = dict.fromkeys(table["k"], 0)
    if knee_k is not None and knee_k in set(eligible["k"]):
        votes[knee_k] += 1
    scored = eligible.dropna(subset=["silhouette"])
    if not scored.empty:
        votes[int(scored.loc[scored["silhouette"].idxmax(), "k"])] += 1
        votes[int(scored.loc[scored["davies_bouldin"].idxmin(), "k"])] += 1
        votes[int(scored.loc[scored["calinski_harabasz"].idxmax(), "k"])] += 1
    table["votes"] = table["k"].map(votes)
    table["eligible"] = table["k"].isin(eligible["k"])
    ranked = table[table["eligible"]].sort_values(
        ["votes", "stability_ari", "k"], ascending=[False, False, True])
    return int(ranked.iloc[0]["k"])
