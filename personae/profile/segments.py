"""Per-segment statistics in the users' own units, and what sets each segment apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from personae.features.table import OTHER, TablePreprocessor, category_text, coerce_numeric

PROFILE_COLUMNS = ["segment", "size", "share", "feature", "kind", "mean", "median", "std",
                   "overall_mean", "overall_std", "z_score", "rest_mean", "effect_size",
                   "lift", "test", "p_value", "p_adjusted", "significant", "distinguishing"]
ALPHA = 0.05
MIN_EFFECT = 0.2  # Cohen's d, numbers
MIN_CATEGORY_DIFF = 0.05  # difference in share, categories


def feature_frame(df: pd.DataFrame, preprocessor: TablePreprocessor,
                  source: str = "input") -> pd.DataFrame:
    """The model's features in original units: numbers as given, categories as 0/1 columns."""
    columns: dict[str, np.ndarray] = {
        name: coerce_numeric(df[name], source, name) for name in preprocessor.numeric_
    }
    for name in sorted(preprocessor.categorical_):
        levels = preprocessor.categorical_[name]
        text = category_text(df[name]).fillna(preprocessor.modes_[name])
        kept = text.isin(levels).to_numpy()
        for level in levels:
            columns[f"{name}={level}"] = (text == level).to_numpy(dtype=float)
        columns[f"{name}={OTHER}"] = (~kept).astype(float)
    return pd.DataFrame(columns)


def model_space(features: pd.DataFrame, preprocessor: TablePreprocessor) -> pd.DataFrame:
    """The same columns as the model sees them: numbers imputed, log-transformed, scaled."""
    numeric = preprocessor.numeric_matrix(
        {name: features[name].to_numpy() for name in preprocessor.numeric_}, len(features))
    scaled = features.copy()
    scaled[preprocessor.numeric_] = numeric
    return scaled


def segment_profiles(features: pd.DataFrame, labels: np.ndarray,
                     preprocessor: TablePreprocessor) -> pd.DataFrame:
    """One row per (segment, feature): size, share, mean/median/std, z-score vs everyone.

    Mean, median and std are in the users' own units. The z-score is measured where the
    model measures distance (after the log transform of skewed counts), as
    (segment mean - overall mean) / overall std: in raw units one heavy user inflates the
    std so much that every segment looks average.
    """
    labels = np.asarray(labels)
    grouped = features.groupby(labels, sort=True)
    means, medians, stds = grouped.mean(), grouped.median(), grouped.std(ddof=0)
    sizes = pd.Series(labels).value_counts().sort_index()
    overall_mean = features.mean()
    overall_std = features.std(ddof=0).replace(0.0, np.nan)
    scaled = model_space(features, preprocessor)
    scaled_means = scaled.groupby(labels, sort=True).mean()
    scaled_overall_mean = scaled.mean()
    scaled_overall_std = scaled.std(ddof=0).replace(0.0, np.nan)
    categorical = set(preprocessor.categorical_)
    frames = []
    for name in features.columns:
        z = (scaled_means[name] - scaled_overall_mean[name]) / scaled_overall_std[name]
        frames.append(pd.DataFrame({
            "segment": means.index.astype(int),
            "size": sizes.loc[means.index].to_numpy(),
            "share": sizes.loc[means.index].to_numpy() / len(labels),
            "feature": name,
            "kind": "category" if name.split("=", 1)[0] in categorical and "=" in name
            else "number",
            "mean": means[name].to_numpy(),
            "median": medians[name].to_numpy(),
            "std": stds[name].to_numpy(),
            "overall_mean": overall_mean[name],
            "overall_std": overall_std[name],
            "z_score": z.fillna(0.0).to_numpy(),
        }))
    profiles = pd.concat(frames, ignore_index=True)
    profiles = _add_tests(profiles, scaled, labels)
    return profiles.sort_values(["segment", "feature"], kind="stable").reset_index(drop=True)


def _add_tests(profiles: pd.DataFrame, scaled: pd.DataFrame,
               labels: np.ndarray) -> pd.DataFrame:
    """Each segment against everyone else, per feature: effect size and a corrected test.

    Numbers: Welch's t-test and Cohen's d (pooled std) where the model measures distance
    (after the log transform), from group sums, so every user counts at any size.
    Categories (0/1 columns): a two-proportion z-test; effect size = difference in share,
    lift = share in segment / share in the rest. All p-values of a run are corrected
    together with Benjamini-Hochberg (false discovery rate 5%). A feature is
    *distinguishing* when the corrected test is significant and the effect is at least
    d = 0.2 (numbers) or 5 percentage points of share (categories).
    """
    values = scaled.to_numpy(dtype=float)
    n_total = len(labels)
    total_sum = values.sum(axis=0)
    total_sq = (values ** 2).sum(axis=0)
    codes, uniques = pd.factorize(labels, sort=True)
    counts = np.bincount(codes, minlength=len(uniques)).astype(float)
    sums = np.column_stack([np.bincount(codes, weights=values[:, j], minlength=len(uniques))
                            for j in range(values.shape[1])])
    sq = np.column_stack([np.bincount(codes, weights=values[:, j] ** 2,
                                      minlength=len(uniques))
                          for j in range(values.shape[1])])
    column_index = {name: j for j, name in enumerate(scaled.columns)}
    segment_index = {int(seg): i for i, seg in enumerate(uniques)}
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
    raw_rest_mean = (rows["overall_mean"].to_numpy(dtype=float) * n_total
                     - rows["mean"].to_numpy(dtype=float) * n1) / np.where(n2 > 0, n2, np.nan)
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
