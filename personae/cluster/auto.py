"""``--algorithm auto``: the algorithm-selection guide, made data-driven.

Each candidate algorithm is fitted with its automatic parameters on the same sample of
users and scored on quality (silhouette, Davies-Bouldin, Calinski-Harabasz, DBCV), on
bootstrap stability and on the balance of segment sizes. The highest total wins; the
table of every candidate is kept (``algorithm_selection.csv``) and the choice is explained
in one plain sentence.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personae.cluster.algorithms import algorithm_class, make_segmenter
from personae.cluster.validate import balance, bootstrap_stability, quality

log = logging.getLogger(__name__)

AUTO_ROWS = 2_000
CANDIDATES = ("kmeans", "gmm", "hierarchical", "hdbscan", "dbscan", "meanshift")
MIXED_CANDIDATES = ("kprototypes", "kmeans", "gmm")
WEIGHTS = {"silhouette": 0.20, "dbcv": 0.15, "stability": 0.20, "indices": 0.10,
           "balance": 0.05, "gaussian_fit": 0.30}
BIC_SCALE = 5.0
MAX_EDGE_SHARE = 0.5
STABLE_ARI = 0.8
TIE = 0.01
RULE = ("Each candidate is fitted with its automatic parameters on the same sample. Score = "
        "0.30 x Gaussian fit (exp(-5 x (its per-user BIC as a full-covariance mixture - the "
        "best))) + 0.20 x silhouette + 0.15 x DBCV + 0.20 x bootstrap stability (ARI) + 0.10 x "
        "the mean of 1/(1 + Davies-Bouldin) and Calinski-Harabasz / its best + 0.05 x size "
        "balance (normalised entropy); silhouette and the indices are scaled by the share of "
        "users "
        "not left as edge users. Candidates with fewer than 2 segments or more than "
        f"{MAX_EDGE_SHARE:.0%} edge users are out, and so are candidates with bootstrap "
        f"stability below {STABLE_ARI} ARI when at least one candidate reaches it. "
        f"Highest score wins; within {TIE} of it, "
        "the simpler algorithm (order: " + ", ".join(CANDIDATES) + ").")


@dataclass(frozen=True)
class AlgorithmChoice:
    """The comparison table and the decision taken from it."""

    name: str
    params: dict[str, Any]
    why: str
    table: pd.DataFrame
    sample_users: int
    rule: str = RULE
    k_selection: Any = None


def candidates_for(categorical_share: float) -> tuple[str, ...]:
    """The candidates worth trying: k-prototypes first when categories dominate."""
    return MIXED_CANDIDATES if categorical_share > 0.5 else CANDIDATES


def choose_algorithm(X: np.ndarray, *, candidates: tuple[str, ...] = CANDIDATES,
                     k_range: tuple[int, int] = (2, 10), n_clusters: int | None = None,
                     extra: dict[str, dict[str, Any]] | None = None,
                     numeric_columns: np.ndarray | None = None,
                     random_state: int = 0) -> AlgorithmChoice:
    """Fit every candidate on ``X`` (already a sample of users) and pick one."""
    rows: list[dict[str, Any]] = []
    fitted: dict[str, Any] = {}
    for name in candidates:
        params = dict((extra or {}).get(name, {}))
        if algorithm_class(name).uses_k:
            params.update(n_clusters=n_clusters, k_range=k_range)
        elif n_clusters is not None:
            continue
        started = time.perf_counter()
        row: dict[str, Any] = {"algorithm": name}
        try:
            seg = make_segmenter(name, random_state=random_state, **params).fit(X)
        except Exception as exc:  # a candidate that cannot run here is reported, not fatal
            log.warning("auto: %s failed on the sample (%s)", name, exc)
            rows.append({**row, "eligible": False, "note": f"failed: {exc}"})
            continue
        labels = seg.labels_
        fixed = fixed_params(seg)
        fitted[name] = seg
        stability = bootstrap_stability(
            lambda Xs, n=name, p=fixed: make_segmenter(n, **p).fit(Xs), X, labels,
            runs=2, random_state=random_state)
        scores = quality(X, labels, random_state=random_state, bic_columns=numeric_columns)
        row.update(n_segments=int(seg.n_segments_), **scores,
                   stability_ari=stability.ari_mean, **balance(labels),
                   seconds=round(time.perf_counter() - started, 3), params=fixed)
        row["eligible"] = bool(seg.n_segments_ >= 2 and scores["edge_share"] <= MAX_EDGE_SHARE)
        row["note"] = "" if row["eligible"] else (
            "fewer than 2 segments" if seg.n_segments_ < 2 else "too many edge users")
        rows.append(row)
        log.info("auto: %s -> %d segments", name, seg.n_segments_)
    table = _score(pd.DataFrame(rows))
    # Segments that change when the sample changes are no base for personas: only stable
    # candidates compete (all of them if none is stable).
    unstable = table["eligible"] & (table["stability_ari"].fillna(0.0) < STABLE_ARI)
    if (table["eligible"] & ~unstable).any():
        table.loc[unstable, "note"] = table.loc[unstable, "stability_ari"].map(
            lambda ari: f"unstable (bootstrap ARI {ari:.2f} < {STABLE_ARI})")
        table.loc[unstable, "eligible"] = False
    eligible = table[table["eligible"]]
    if eligible.empty:
        winner = "kmeans"
        why = "no candidate found 2 or more segments on the sample; falling back to kmeans"
        params: dict[str, Any] = {}
    else:
        # Within TIE of the best score, the simpler algorithm (earlier candidate) wins.
        close = eligible[eligible["score"] >= eligible["score"].max() - TIE]
        best = close.iloc[0]
        winner = str(best["algorithm"])
        seg = fitted[winner]
        params = {"n_clusters": seg.n_segments_} if type(seg).uses_k else {}
        why = _explain(table, winner)
    table["chosen"] = table["algorithm"] == winner
    table["params"] = table["params"].map(lambda p: "" if not isinstance(p, dict) else
                                          ", ".join(f"{k}={_fmt(v)}" for k, v in p.items()
                                                    if k != "random_state"))
    return AlgorithmChoice(name=winner, params=params, why=why, table=table,
                           sample_users=len(X),
                           k_selection=getattr(fitted.get(winner), "k_selection_", None))


def fixed_params(seg: Any) -> dict[str, Any]:
    """The fitted segmenter's parameters with every automatic value filled in."""
    table = type(seg).param_table()
    return {k: v for k, v in seg.resolved_params_.items() if k in table}


def _score(table: pd.DataFrame) -> pd.DataFrame:
    for column in ("silhouette", "dbcv", "davies_bouldin", "calinski_harabasz",
                   "stability_ari", "size_entropy", "edge_share"):
        if column not in table:
            table[column] = np.nan
    ok = table["eligible"].fillna(False).astype(bool)
    silhouette = table["silhouette"].fillna(0.0) * (1 - table["edge_share"].fillna(0.0))
    dbcv = table["dbcv"].fillna(0.0)
    kept = 1 - table["edge_share"].fillna(0.0)
    ch = table["calinski_harabasz"].fillna(0.0)
    top = ch[ok].max() if ok.any() else 0.0
    indices = kept * (1 / (1 + table["davies_bouldin"].fillna(np.inf))
                      + (ch / top if top > 0 else 0.0)) / 2
    bic = table["gaussian_bic"].astype(float) if "gaussian_bic" in table else \
        pd.Series(np.nan, index=table.index)
    best_bic = bic[ok].min() if ok.any() else np.nan
    table["gaussian_fit"] = np.exp(-BIC_SCALE * (bic - best_bic)).fillna(0.0)
    table["score"] = np.where(ok, (
        WEIGHTS["gaussian_fit"] * table["gaussian_fit"]
        + WEIGHTS["silhouette"] * silhouette + WEIGHTS["dbcv"] * dbcv
        + WEIGHTS["stability"] * table["stability_ari"].fillna(0.0)
        + WEIGHTS["indices"] * indices
        + WEIGHTS["balance"] * table["size_entropy"].fillna(0.0)), np.nan)
    return table


def _explain(table: pd.DataFrame, winner: str) -> str:
    ranked = table[table["eligible"]].sort_values("score", ascending=False)
    best = ranked[ranked["algorithm"] == winner].iloc[0]
    others = ranked[ranked["algorithm"] != winner]
    parts = [f"{winner} scored {best['score']:.2f} among {len(ranked)} algorithms tried on "
             f"{int(best['quality_sample_users']):,} sampled users"]
    top = ranked.iloc[0]
    if top["algorithm"] != winner:
        parts.append(f"{top['algorithm']} scored {top['score']:.2f}, within {TIE} of it, so "
                     "the simpler algorithm is preferred")
    labels = {"gaussian_fit": "the best fit as a mixture of Gaussian segments (BIC)",
              "silhouette": "the clearest separation (silhouette)",
              "dbcv": "the best density-based validity (DBCV)",
              "stability_ari": "the most stable segments under resampling",
              "size_entropy": "the most even segment sizes"}
    strengths = [text for column, text in labels.items()
                 if others.empty or best[column] >= others[column].max() - 1e-9]
    if strengths:
        parts.append("it has " + ", ".join(strengths))
    parts.append(f"{int(best['n_segments'])} segments")
    if best["edge_share"] > 0:
        parts.append(f"{best['edge_share']:.1%} edge users kept apart")
    if not others.empty:
        runner = others.iloc[0]
        parts.append(f"next best: {runner['algorithm']} ({runner['score']:.2f})")
    return "; ".join(parts)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
