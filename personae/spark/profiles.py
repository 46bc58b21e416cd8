"""segment_profiles.csv from every user: Spark aggregations of the embedded statistics.

Each executor turns its users into the embedded engine's two views of the features (the
users' own units, ``TablePreprocessor.clean``; where the model measures distance, ``model_space``)
and their label (the saved model's ``predict``); one ``groupBy(segment)`` then gives, per
segment and feature, the counts, means, population standard deviations, medians, sums,
sums of squares and whether any value is other than 0 and 1 (a yes/no column, worded as
one), which :func:`personae.profile.segments.profiles_from_stats` turns into the table,
the same function the embedded run uses. Overall means and standard deviations are
combined on the driver from the per-segment moments (Chan's pairwise formula, stable), so
the users are read once.

Medians are exact (Spark's ``median``) up to ``EXACT_MEDIAN_USERS`` users; above that exact
medians would hold every distinct value of a segment in one executor's memory, and
``percentile_approx`` (rank error at most 1 / ``MEDIAN_ACCURACY``) is used, said in run.json.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from personae.spark import adapter
from personae.spark.cluster import model_on_worker

EXACT_MEDIAN_USERS = 200_000  # as many as the driver sample; exact medians cost ~3x approx
MEDIAN_ACCURACY = 10_000


def median_rule(n_users: int) -> str:
    if n_users <= EXACT_MEDIAN_USERS:
        return "exact (Spark median)"
    return (f"percentile_approx, accuracy {MEDIAN_ACCURACY:,} (rank error at most "
            f"{1 / MEDIAN_ACCURACY:.0e}): exact medians of {n_users:,} users would hold each "
            "segment's distinct values in one executor's memory")


def profile_stats(users: Any, files: dict[str, bytes], model: Any, probe: pd.DataFrame,
                  n_users: int) -> adapter.SegmentStats:
    """The per-segment statistics of every user in ``users`` (the model's input table),
    labelled by ``model``, whose saved ``files`` travel to the executors. ``probe``: a few
    users, to name the feature frame's columns."""
    from pyspark.sql import functions as F

    columns = [str(c) for c in model.preprocessor_.clean(probe).columns]
    width = len(columns)
    schema = "segment int, " + ", ".join(
        [f"r{j} double" for j in range(width)] + [f"s{j} double" for j in range(width)])

    def values(batches: Any) -> Any:
        model = model_on_worker(files)
        pre = model.preprocessor_
        for pdf in batches:
            raw = pre.clean(pdf, "input")
            scaled = adapter.model_space(raw, pre)
            out = {"segment": np.asarray(model.predict(pdf), dtype=np.int32)}
            for j, name in enumerate(columns):
                out[f"r{j}"] = raw[name].to_numpy(dtype=float)
            for j, name in enumerate(columns):
                out[f"s{j}"] = scaled[name].to_numpy(dtype=float)
            yield pd.DataFrame(out)

    frame = users.mapInPandas(values, schema=schema)
    exact = n_users <= EXACT_MEDIAN_USERS
    aggregations = [F.count(F.lit(1)).alias("n")]
    for j in range(width):
        raw = F.when(F.isnan(f"r{j}"), None).otherwise(F.col(f"r{j}"))  # missing = skipped
        scaled = F.col(f"s{j}")
        median = F.median(raw) if exact else F.percentile_approx(raw, 0.5, MEDIAN_ACCURACY)
        aggregations += [F.count(raw).alias(f"rn{j}"), F.avg(raw).alias(f"rm{j}"),
                         F.stddev_pop(raw).alias(f"rsd{j}"), median.alias(f"rmed{j}"),
                         F.avg(scaled).alias(f"sm{j}"), F.stddev_pop(scaled).alias(f"ssd{j}"),
                         F.sum(scaled).alias(f"ss{j}"), F.sum(scaled * scaled).alias(f"sq{j}"),
                         F.max((raw.isNotNull() & ~raw.isin(0.0, 1.0)).cast("int"))
                         .alias(f"other{j}")]
    rows = sorted(frame.groupBy("segment").agg(*aggregations).collect(),
                  key=lambda r: r["segment"])

    def table(prefix: str) -> np.ndarray:
        return np.array([[np.nan if r[f"{prefix}{j}"] is None else float(r[f"{prefix}{j}"])
                          for j in range(width)] for r in rows], dtype=float)

    sizes = np.array([r["n"] for r in rows], dtype=np.int64)
    raw_mean, raw_std, raw_n = table("rm"), table("rsd"), table("rn")
    scaled_mean, scaled_std = table("sm"), table("ssd")
    overall_mean, overall_std = _pooled(raw_n, raw_mean, raw_std)
    scaled_overall_mean, scaled_overall_std = _pooled(
        np.repeat(sizes[:, None], width, axis=1).astype(float), scaled_mean, scaled_std)
    scaled_sum, scaled_sq = table("ss"), table("sq")
    numeric = set(model.preprocessor_.numeric_)
    flags = frozenset(name for j, name in enumerate(columns) if name in numeric
                      and raw_n[:, j].sum() > 0 and not any(r[f"other{j}"] for r in rows))
    return adapter.SegmentStats(
        segments=np.array([r["segment"] for r in rows], dtype=int), sizes=sizes,
        columns=list(columns), categorical=frozenset(model.preprocessor_.categorical_),
        mean=raw_mean, median=table("rmed"), std=raw_std, overall_mean=overall_mean,
        overall_std=overall_std, scaled_mean=scaled_mean, scaled_sum=scaled_sum,
        scaled_sq=scaled_sq, scaled_overall_mean=scaled_overall_mean,
        scaled_overall_std=scaled_overall_std, scaled_total_sum=scaled_sum.sum(axis=0),
        scaled_total_sq=scaled_sq.sum(axis=0), flags=flags, covered=np.nan_to_num(raw_n))


def _pooled(n: np.ndarray, mean: np.ndarray, std: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Overall mean and population std per column from per-group counts, means and
    population stds (groups without values skipped): Chan et al.'s combination."""
    n = np.nan_to_num(n)
    weight = np.where(n > 0, n, 0.0)
    total = weight.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = np.where(weight > 0, mean, 0.0)
        overall = (weight * overall).sum(axis=0) / total
        squares = np.where(weight > 0, std ** 2 + (mean - overall) ** 2, 0.0)
        variance = (weight * squares).sum(axis=0) / total
    return overall, np.sqrt(np.maximum(variance, 0.0))
