"""The full fits over everyone that are not K-means: a Gaussian mixture and a bisecting
K-means tree with pyspark.ml, and the persona levels (centres refined by Lloyd passes, far
limits from every user's distance, broad level re-cut from the refined centres).

Both start from what the embedded engine chose on the driver sample (K, covariance type,
the persona centres) and end as the embedded model's own state, so the saved model labels
every user as Spark did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg
from scipy.optimize import linear_sum_assignment

from personae.cluster._base import nearest_centre
from personae.cluster.levels import LevelRules, far_cap, far_limits, widened
from personae.cluster.levels.rules import DEFAULT_RULES
from personae.spark import adapter
from personae.spark.cluster import lloyd
from personae.spark.profiles import EXACT_MEDIAN_USERS, MEDIAN_ACCURACY
from personae.spark.session import to_pandas

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tree:
    """A bisecting K-means tree as pyspark.ml fitted it (see ``cluster.bisecting``): node
    centres, children and leaf numbers (Spark's), the leaves' sizes, the training cost,
    and the share of users (a sample) that the tree walk places where pyspark.ml does."""

    centers: np.ndarray
    children: np.ndarray
    leaf: np.ndarray
    sizes: np.ndarray
    cost: float
    walk_agreement: float
    checked_users: int


WALK_CHECK_USERS = 20_000


def spark_bisecting(vectors: Any, k: int, work: Path, *, seed: int, max_iter: int = 20
                    ) -> Tree:
    """pyspark.ml BisectingKMeans over everyone, K from the sample. Its tree is read from
    the model's saved data (one row per node: index, size, center, children), the
    persistence format Spark reads its own models from; the Python API gives only the
    leaves."""
    from pyspark.ml.clustering import BisectingKMeans
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    from personae.cluster.bisecting import tree_from_spark, walk

    data = vectors.select(array_to_vector(F.col("x")).alias("features"), "x")
    fitted = BisectingKMeans(k=k, seed=seed, maxIter=max_iter, featuresCol="features"
                             ).fit(data)
    folder = work / "bisecting"
    fitted.write().overwrite().save(str(folder))
    nodes = pd.read_parquet(folder / "data" / "data")  # every part file
    centers, children, leaf, sizes = tree_from_spark(nodes.to_dict("records"))
    checked = to_pandas(fitted.transform(data.limit(WALK_CHECK_USERS))
                        .select("x", "prediction"))
    X = np.stack(checked["x"].to_numpy()) if len(checked) else np.zeros((0, centers.shape[1]))
    agreement = float(np.mean(walk(centers, children, leaf, X) ==
                              checked["prediction"].to_numpy())) if len(checked) else 1.0
    return Tree(centers=centers, children=children, leaf=leaf, sizes=sizes,
                cost=float(fitted.summary.trainingCost), walk_agreement=agreement,
                checked_users=len(checked))


@dataclass(frozen=True)
class Mixture:
    """A Gaussian mixture in segment order (largest first), as pyspark.ml fitted it."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    sizes: np.ndarray
    log_likelihood: float
    iterations: int
    starts: int


def spark_mixture(vectors: Any, k: int, *, seed: int, n_init: int = 3, max_iter: int = 100,
                  tol: float = 0.01) -> Mixture:
    """pyspark.ml GaussianMixture (full covariances) over everyone, K from the sample; the
    best log-likelihood of ``n_init`` starts (seeds ``seed``, ``seed + 1``...), as the
    embedded engine keeps the best of its EM starts: one random start of pyspark.ml landed
    on a poor optimum (ARI 0.67 against the planted groups) in 1 of 6 trials on 3,000 blob
    users. Raises ``np.linalg.LinAlgError`` when a covariance is singular."""
    from pyspark.ml.clustering import GaussianMixture
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    data = vectors.select(array_to_vector(F.col("x")).alias("features"))
    best = None
    for start in range(n_init):
        fitted = GaussianMixture(k=k, seed=seed + start, maxIter=max_iter, tol=tol,
                                 featuresCol="features").fit(data)
        likelihood = float(fitted.summary.logLikelihood)
        logger.info("pyspark.ml GaussianMixture start %d: log-likelihood %.6g", start + 1,
                    likelihood)
        if best is None or likelihood > best[0]:
            best = (likelihood, fitted)
    assert best is not None
    likelihood, fitted = best
    gaussians = fitted.gaussiansDF.collect()
    means = np.array([np.asarray(g["mean"].toArray()) for g in gaussians], dtype=np.float64)
    covariances = np.array([np.asarray(g["cov"].toArray()) for g in gaussians],
                           dtype=np.float64)
    sizes = np.asarray(fitted.summary.clusterSizes, dtype=np.int64)
    order = np.lexsort((np.arange(k), -sizes))
    covariances = covariances[order]
    return Mixture(weights=np.asarray(fitted.weights, dtype=np.float64)[order],
                   means=means[order], covariances=covariances,
                   precisions_cholesky=_precisions_cholesky(covariances), sizes=sizes[order],
                   log_likelihood=likelihood, iterations=int(fitted.summary.numIter),
                   starts=n_init)


def _precisions_cholesky(covariances: np.ndarray) -> np.ndarray:
    """scikit-learn's 'full' precisions_cholesky_: inv(cholesky(cov)).T per component."""
    out = np.empty_like(covariances)
    eye = np.eye(covariances.shape[1])
    for j, cov in enumerate(covariances):
        lower = linalg.cholesky(cov, lower=True)
        out[j] = linalg.solve_triangular(lower, eye, lower=True).T
    return out


@dataclass(frozen=True)
class Levels:
    """The persona level refined over everyone: what ``levels.json`` needs to place users."""

    centers: np.ndarray
    far_distance: np.ndarray
    persona_to_broad: dict[int, int]
    sizes: np.ndarray
    iterations: int
    converged: bool
    quantiles: str


def refine_levels(vectors: Any, levels: dict[str, Any], X_sample: np.ndarray, n_users: int,
                  *, max_iter: int, tol: float, rules: LevelRules = DEFAULT_RULES) -> Levels:
    """Persona centres from the sample's levels refined by Lloyd passes over everyone; each
    persona's far limit from every user by the embedded edge rule (``far_limits`` on each
    persona's count, quartiles and mean distance; at most ``far_cap`` users far, the limits
    then ``widened`` to the users kept in); the broad level re-cut from the refined centres
    weighted by every user (its 2-or-3 choice by silhouette on the sample)."""
    from pyspark.sql import functions as F

    start = np.asarray(levels["centers"], dtype=np.float64)
    variance = float(np.mean(np.var(X_sample, axis=0)))
    refined = lloyd(vectors, start, variance, max_iter=max_iter, tol=tol)
    centers = refined.centers
    k = len(centers)

    def distances(batches: Any) -> Any:
        for pdf in batches:
            # the rule that places every user, here and in the saved model's assignment
            nearest, dist = nearest_centre(np.stack(pdf["x"].to_numpy()), centers)
            yield pd.DataFrame({"g": nearest, "d": dist})

    exact = n_users <= EXACT_MEDIAN_USERS
    quartiles = (F.percentile("d", [0.25, 0.75]) if exact else
                 F.percentile_approx("d", [0.25, 0.75], MEDIAN_ACCURACY))
    rows = vectors.mapInPandas(distances, schema="g int, d double").groupBy("g").agg(
        F.count(F.lit(1)).alias("n"), F.mean("d").alias("mean"),
        quartiles.alias("q")).collect()
    count, q1, q3, mean = (np.zeros(k) for _ in range(4))
    for row in rows:
        g = row["g"]
        count[g], mean[g] = row["n"], row["mean"]
        q1[g], q3[g] = (float(v) for v in row["q"])
    far = far_limits(count, q1, q3, mean, rules)
    far = _capped(vectors, distances, far, int(count.sum()), rules, exact)
    placed = adapter.assign_levels(X_sample, {"centers": centers, "far_distance": [
        None if not np.isfinite(v) else float(v) for v in far],
        "persona_to_broad": {str(p): 0 for p in range(k)}})
    idx = np.arange(min(len(X_sample), rules.sample))
    to_broad = adapter.broad_groups(X_sample.astype(np.float32), placed["persona"], centers,
                                    refined.sizes, idx)
    rule = ("exact (Spark percentile)" if exact else
            f"percentile_approx, accuracy {MEDIAN_ACCURACY:,}")
    return Levels(centers=centers, far_distance=far, persona_to_broad=to_broad,
                  sizes=refined.sizes, iterations=refined.iterations,
                  converged=refined.converged, quantiles=rule)


def _capped(vectors: Any, distances: Any, limits: np.ndarray, n_users: int,
            rules: LevelRules, exact: bool) -> np.ndarray:
    """The limits after the edge rule's cap: when more than ``far_cap`` users lie beyond
    their limit, the farthest (by distance over limit) stay far and each limit moves out to
    the farthest user its group keeps in, as the embedded rule does; the cut-off ratio is
    Spark's percentile (approximate above ``EXACT_MEDIAN_USERS``; the embedded rule takes
    exactly ``far_cap`` users)."""
    from pyspark.sql import functions as F

    cap = far_cap(n_users, rules)
    ratio = F.col("d") / F.element_at(F.array(*[F.lit(float(v)) for v in limits]),
                                      F.col("g") + 1)
    placed = vectors.mapInPandas(distances, schema="g int, d double").withColumn("r", ratio)
    beyond = placed.filter(F.col("r") > 1.0).count()
    if beyond <= cap:
        return limits
    share = 1.0 - cap / n_users
    cut = F.percentile("r", share) if exact else \
        F.percentile_approx("r", share, MEDIAN_ACCURACY)
    threshold = float(placed.agg(cut.alias("t")).collect()[0]["t"])
    near_max = np.full(len(limits), np.nan)
    for row in placed.filter(F.col("r") <= threshold).groupBy("g").agg(
            F.max("d").alias("d")).collect():
        near_max[row["g"]] = row["d"]
    logger.info("far users capped at %d of %d (%d beyond their limit)", cap, n_users, beyond)
    return widened(limits, near_max)


def renumbering(before: np.ndarray, after: np.ndarray) -> dict[int, int]:
    """segment of the sample run -> segment after the full fit, for the same sample users:
    the one-to-one matching that keeps the most users together (Hungarian on the
    contingency table; edge users, -1, left out). The full fit numbers segments by their
    size over everyone, so what the sample run said per segment (its stability flags, the
    persona of each natural segment) follows its users through this map."""
    before, after = np.asarray(before), np.asarray(after)
    keep = (before >= 0) & (after >= 0)
    if not keep.any():
        return {}
    old, new = before[keep], after[keep]
    table = np.zeros((int(old.max()) + 1, int(new.max()) + 1), dtype=np.int64)
    np.add.at(table, (old, new), 1)
    rows, cols = linear_sum_assignment(-table)
    return {int(r): int(c) for r, c in zip(rows, cols, strict=True)}
