"""Per-segment statistics in the users' own units, and what sets each segment apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from personae.features.table import TablePreprocessor

PROFILE_COLUMNS = ["segment", "size", "share", "feature", "kind", "covered", "mean", "median",
                   "std",
                   "overall_mean", "overall_std", "z_score", "rest_mean", "effect_size",
                   "lift", "test", "p_value", "p_adjusted", "significant", "distinguishing"]
ALPHA = 0.05
MIN_EFFECT = 0.2  # Cohen's d, numbers
MIN_CATEGORY_DIFF = 0.05  # difference in share, categories


def model_space(features: pd.DataFrame, preprocessor: TablePreprocessor) -> pd.DataFrame:
    """The same columns as the model sees them: numbers imputed, log-transformed, scaled."""
    numeric = preprocessor.numeric_matrix(
        {name: features[name].to_numpy() for name in preprocessor.numeric_}, len(features))
    scaled = features.copy()
    scaled[preprocessor.numeric_] = numeric
    return scaled


@dataclass(frozen=True)
class SegmentStats:
    """What a profile table is made of, per segment (rows, ``segments`` in order) and per
    feature (columns): computed from a frame by :func:`segment_stats`, or by aggregations
    over every user elsewhere (the Spark engine), then turned into the table by
    :func:`profiles_from_stats`.

    ``mean``/``median``/``std`` (ddof 0) are in the users' own units, missing values
    skipped; ``scaled_*`` are where the model measures distance (imputed, log, scaled):
    per-segment means, sums and sums of squares, and the overall mean, std, sum and sum of
    squares. ``sizes`` count every user of a segment; ``covered`` (segments x features)
    the users with a value, the ones ``mean``, ``median`` and ``std`` are over (a
    one-visit user has no gap between visits); None: every user has every value.
    """

    segments: np.ndarray
    sizes: np.ndarray
    columns: list[str]
    categorical: frozenset[str]
    mean: np.ndarray
    median: np.ndarray
    std: np.ndarray
    overall_mean: np.ndarray
    overall_std: np.ndarray
    scaled_mean: np.ndarray
    scaled_sum: np.ndarray
    scaled_sq: np.ndarray
    scaled_overall_mean: np.ndarray
    scaled_overall_std: np.ndarray
    scaled_total_sum: np.ndarray
    scaled_total_sq: np.ndarray
    flags: frozenset[str] = frozenset()  # numeric columns holding only 0 and 1 (yes/no)
    covered: np.ndarray | None = None

    def covered_counts(self) -> np.ndarray:
        """Users with a value per segment and feature (every user where none is missing)."""
        if self.covered is None:
            return np.repeat(self.sizes[:, None], len(self.columns), axis=1).astype(float)
        return np.asarray(self.covered, dtype=float)


def segment_stats(features: pd.DataFrame, labels: np.ndarray,
                  preprocessor: TablePreprocessor, X: np.ndarray | None = None
                  ) -> SegmentStats:
    """The statistics of :class:`SegmentStats` from the users' feature frame and labels.
    ``X``: the model's matrix of the same users (``preprocessor.scale(features)``), when the
    caller has it: its numeric columns are the model-space values, not computed again
    (600 MB and seconds at 10M users)."""
    labels = np.asarray(labels)
    grouped = features.groupby(labels, sort=True)
    means = grouped.mean()
    sizes = pd.Series(labels).value_counts().sort_index()
    # float64 sums (the model's float32 matrix would round the means; Spark sums in
    # doubles), one column at a time: a float64 copy of a 10M-user frame and its square
    # would be gigabytes at the run's peak
    codes, uniques = pd.factorize(labels, sort=True)
    counts = np.bincount(codes, minlength=len(uniques)).astype(float)
    numeric = X if X is not None else preprocessor.numeric_matrix(
        {name: features[name].to_numpy() for name in preprocessor.numeric_}, len(features))
    position = {name: j for j, name in enumerate(preprocessor.numeric_)}
    shape = (len(uniques), features.shape[1])
    sums, sq = np.empty(shape), np.empty(shape)
    total_sum, total_sq = np.empty(shape[1]), np.empty(shape[1])
    for j, name in enumerate(features.columns):
        values = np.asarray(numeric[:, position[name]] if name in position else
                            features[name].to_numpy(), dtype=float)
        squares = values * values
        sums[:, j] = np.bincount(codes, weights=values, minlength=len(uniques))
        sq[:, j] = np.bincount(codes, weights=squares, minlength=len(uniques))
        total_sum[j], total_sq[j] = values.sum(), squares.sum()
    n = len(labels)
    overall = total_sum / n
    return SegmentStats(
        segments=means.index.to_numpy().astype(int), sizes=sizes.loc[means.index].to_numpy(),
        columns=[str(c) for c in features.columns],
        categorical=frozenset(preprocessor.categorical_),
        mean=means.to_numpy(dtype=float), median=_medians(features, codes, len(uniques)),
        std=grouped.std(ddof=0).to_numpy(dtype=float),
        overall_mean=features.mean().to_numpy(dtype=float),
        # per column: pandas' frame-wide std held 2.4 GB of temporaries at 10M users
        overall_std=np.array([np.nanstd(features[c].to_numpy(dtype=float))
                              if features[c].notna().any() else np.nan
                              for c in features.columns]),
        scaled_mean=sums / counts[:, None], scaled_sum=sums, scaled_sq=sq,
        scaled_overall_mean=overall,
        scaled_overall_std=np.sqrt(np.maximum(total_sq / n - overall ** 2, 0.0)),
        scaled_total_sum=total_sum, scaled_total_sq=total_sq,
        flags=frozenset(c for c in preprocessor.numeric_ if c in features.columns
                        and is_flag(features[c].to_numpy(dtype=float))),
        covered=grouped.count().to_numpy(dtype=float))


def is_flag(values: np.ndarray) -> bool:
    """A yes/no column written as numbers: its values (missing aside) are 0 and 1."""
    known = values[~np.isnan(values)]
    return len(known) > 0 and bool(np.all((known == 0.0) | (known == 1.0)))


def _medians(features: pd.DataFrame, codes: np.ndarray, k: int) -> np.ndarray:
    """Each segment's median of each column, missing values left out (NaN when a segment
    has none), as pandas' grouped median gives them; rows are the segment codes. The users
    are sorted by segment once, and a median is a partition of one segment's slice: pandas
    factorized the labels again for every column (twice the time), and a frame-wide
    groupby median held a second copy of the frame."""
    # stable sorts of 8- and 16-bit integers are radix sorts: 10x faster than of int64
    order = np.argsort(codes.astype(np.int16 if k < 2 ** 15 else np.int64), kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(k + 1))
    out = np.full((k, features.shape[1]), np.nan)
    for j, column in enumerate(features.columns):
        values = features[column].to_numpy(dtype=float)[order]
        for group in range(k):
            part = values[bounds[group]:bounds[group + 1]]
            part = part[~np.isnan(part)]
            if len(part):
                out[group, j] = np.median(part)
    return out


def segment_profiles(features: pd.DataFrame, labels: np.ndarray,
                     preprocessor: TablePreprocessor, X: np.ndarray | None = None
                     ) -> pd.DataFrame:
    """One row per (segment, feature): size, share, mean/median/std, z-score vs everyone.

    Mean, median and std are in the users' own units. The z-score is measured where the
    model measures distance (after the log transform of skewed counts), as
    (segment mean - overall mean) / overall std: in raw units one heavy user inflates the
    std so much that every segment looks average.
    """
    return profiles_from_stats(segment_stats(features, labels, preprocessor, X))


def profiles_from_stats(summary: SegmentStats) -> pd.DataFrame:
    """The profile table (``PROFILE_COLUMNS``) from per-segment statistics."""
    n_total = int(summary.sizes.sum())
    overall_std = np.where(summary.overall_std == 0.0, np.nan, summary.overall_std)
    covered = summary.covered_counts()
    scaled_std = np.where(summary.scaled_overall_std == 0.0, np.nan, summary.scaled_overall_std)
    frames = []
    for j, name in enumerate(summary.columns):
        z = (summary.scaled_mean[:, j] - summary.scaled_overall_mean[j]) / scaled_std[j]
        frames.append(pd.DataFrame({
            "segment": summary.segments.astype(int),
            "size": summary.sizes,
            "share": summary.sizes / n_total,
            "feature": name,
            "kind": "category" if name.split("=", 1)[0] in summary.categorical and "=" in name
            else "flag" if name in summary.flags else "number",
            "covered": covered[:, j].astype(int),
            "mean": summary.mean[:, j],
            "median": summary.median[:, j],
            "std": summary.std[:, j],
            "overall_mean": summary.overall_mean[j],
            "overall_std": overall_std[j],
            "z_score": np.nan_to_num(z, nan=0.0),
        }))
    profiles = pd.concat(frames, ignore_index=True)
    profiles = _add_tests(profiles, summary)
    return profiles.sort_values(["segment", "feature"], kind="stable").reset_index(drop=True)


def _add_tests(profiles: pd.DataFrame, summary: SegmentStats) -> pd.DataFrame:
    """Each segment against everyone else, per feature: effect size and a corrected test.

    Numbers: Welch's t-test and Cohen's d (pooled std) where the model measures distance
    (after the log transform), from group sums, so every user counts at any size.
    Categories (0/1 columns): a two-proportion z-test; effect size = difference in share,
    lift = share in segment / share in the rest. All p-values of a run are corrected
    together with Benjamini-Hochberg (false discovery rate 5%). A feature is
    *distinguishing* when the corrected test is significant and the effect is at least
    d = 0.2 (numbers) or 5 percentage points of share (categories).
    """
    n_total = int(summary.sizes.sum())
    total_sum, total_sq = summary.scaled_total_sum, summary.scaled_total_sq
    counts = summary.sizes.astype(float)
    sums, sq = summary.scaled_sum, summary.scaled_sq
    column_index = {name: j for j, name in enumerate(summary.columns)}
    segment_index = {int(seg): i for i, seg in enumerate(summary.segments)}
    rows = profiles.reset_index(drop=True)
    i = rows["segment"].map(segment_index).to_numpy()
    j = rows["feature"].map(column_index).to_numpy()
    n1 = counts[i]
    n2 = n_total - n1
    m1 = sums[i, j] / n1
    rest_sum = total_sum[j] - sums[i, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        m2 = rest_sum / n2
        v1 = np.maximum(sq[i, j] / n1 - m1 ** 2, 0.0) * n1 / np.maximum(n1 - 1, 1)
        v2 = (np.maximum((total_sq[j] - sq[i, j]) / n2 - m2 ** 2, 0.0)
              * n2 / np.maximum(n2 - 1, 1))
        is_category = (rows["kind"] == "category").to_numpy()
        # numbers: Welch t and Cohen's d
        se = np.sqrt(v1 / n1 + v2 / n2)
        t = (m1 - m2) / se
        dof = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / np.maximum(n1 - 1, 1)
                                          + (v2 / n2) ** 2 / np.maximum(n2 - 1, 1))
        p_t = 2 * stats.t.sf(np.abs(t), dof)
        pooled = np.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / np.maximum(n1 + n2 - 2, 1))
        d = (m1 - m2) / pooled
        # categories: two-proportion z-test on the raw 0/1 share
        p1, p2 = rows["mean"].to_numpy(dtype=float), np.zeros(len(rows))
        p2 = (rows["overall_mean"].to_numpy(dtype=float) * n_total - p1 * n1) / n2
        p_pool = rows["overall_mean"].to_numpy(dtype=float)
        z = (p1 - p2) / np.sqrt(p_pool * (1 - p_pool) * (1 / n1 + 1 / n2))
        p_z = 2 * stats.norm.sf(np.abs(z))
        lift = np.where(p2 > 0, p1 / p2, np.nan)
    # in the users' own units over the users with a value, as the mean beside it
    with_value = rows["covered"].to_numpy(dtype=float)
    rest_with_value = summary.covered_counts().sum(axis=0)[j] - with_value
    raw_rest_mean = (rows["overall_mean"].to_numpy(dtype=float) * (rest_with_value + with_value)
                     - np.nan_to_num(rows["mean"].to_numpy(dtype=float)) * with_value) / \
        np.where(rest_with_value > 0, rest_with_value, np.nan)
    p_value = np.where(is_category, p_z, p_t)
    p_value = np.where(np.isfinite(p_value), p_value, 1.0)
    effect = np.where(is_category, p1 - p2, d)
    effect = np.where(np.isfinite(effect), effect, 0.0)
    adjusted = benjamini_hochberg(p_value)
    threshold = np.where(is_category, MIN_CATEGORY_DIFF, MIN_EFFECT)
    rows["rest_mean"] = raw_rest_mean
    rows["effect_size"] = effect
    rows["lift"] = np.where(is_category, lift, np.nan)
    rows["test"] = np.where(is_category, "two-proportion z", "Welch t")
    rows["p_value"] = p_value
    rows["p_adjusted"] = adjusted
    rows["significant"] = adjusted < ALPHA
    rows["distinguishing"] = (adjusted < ALPHA) & (np.abs(effect) >= threshold)
    return rows


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order."""
    p = np.asarray(p_values, dtype=float)
    n = len(p)
    if n == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty(n)
    adjusted[order] = np.minimum(ranked, 1.0)
    return adjusted


def distinguishing(profiles: pd.DataFrame, segment: int, n: int | None = None
                   ) -> pd.DataFrame:
    """The features that set ``segment`` apart, strongest first (numbers by |d|, categories
    by |share difference| x 4 so that 5 points weigh like d = 0.2)."""
    rows = profiles[(profiles["segment"] == segment)]
    if "distinguishing" not in rows.columns:
        rows = rows.assign(distinguishing=rows["z_score"].abs() >= MIN_EFFECT,
                           effect_size=rows["z_score"])
    rows = rows[rows["distinguishing"].astype(bool)]
    weight = np.where(rows["kind"] == "category", 4.0, 1.0)
    ranked = rows.assign(_strength=(rows["effect_size"].abs() * weight)).sort_values(
        ["_strength", "feature"], ascending=[False, True], kind="stable")
    ranked = ranked.drop(columns="_strength")
    return ranked if n is None else ranked.head(n)


def top_features(profiles: pd.DataFrame, n: int = 3) -> dict[int, pd.DataFrame]:
    """For each segment, the ``n`` features with the largest absolute z-score."""
    ranked = profiles.assign(strength=profiles["z_score"].abs()).sort_values(
        ["segment", "strength", "feature"], ascending=[True, False, True])
    return {int(seg): rows.head(n).drop(columns="strength")
            for seg, rows in ranked.groupby("segment", sort=True)}



def column_summaries(values: pd.DataFrame, labels: np.ndarray
                     ) -> dict[int, dict[str, dict[str, Any]]]:
    """Per segment and column of ``values`` (columns that describe the personas without
    driving the split): a number's ``median``, else the most common ``value`` and the
    ``share`` of the segment's users who have it; missing values skipped (an empty dict
    when the segment has none)."""
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for seg, group in values.groupby(np.asarray(labels), sort=True):
        row: dict[str, dict[str, Any]] = {}
        for name in values.columns:
            column = group[name].dropna()
            if column.empty:
                row[str(name)] = {}
            elif pd.api.types.is_numeric_dtype(column) and not \
                    pd.api.types.is_bool_dtype(column):
                row[str(name)] = {"median": float(column.median())}
            else:
                counts = column.astype(str).value_counts()
                row[str(name)] = {"value": str(counts.index[0]),
                                  "share": float(counts.iloc[0] / len(column))}
        out[int(seg)] = row
    return out
