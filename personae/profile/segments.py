"""Per-segment statistics in the users' own units, and what sets each segment apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from personae.features.table import OTHER, TablePreprocessor, coerce_numeric

PROFILE_COLUMNS = ["segment", "size", "share", "feature", "kind", "mean", "median", "std",
                   "overall_mean", "overall_std", "z_score"]


def feature_frame(df: pd.DataFrame, preprocessor: TablePreprocessor,
                  source: str = "input") -> pd.DataFrame:
    """The model's features in original units: numbers as given, categories as 0/1 columns."""
    columns: dict[str, np.ndarray] = {
        name: coerce_numeric(df[name], source, name) for name in preprocessor.numeric_
    }
    for name in sorted(preprocessor.categorical_):
        levels = preprocessor.categorical_[name]
        text = df[name].astype("string").fillna(preprocessor.modes_[name])
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
    return profiles.sort_values(["segment", "feature"], kind="stable").reset_index(drop=True)


def top_features(profiles: pd.DataFrame, n: int = 3) -> dict[int, pd.DataFrame]:
    """For each segment, the ``n`` features with the largest absolute z-score."""
    ranked = profiles.assign(strength=profiles["z_score"].abs()).sort_values(
        ["segment", "strength", "feature"], ascending=[True, False, True])
    return {int(seg): rows.head(n).drop(columns="strength")
            for seg, rows in ranked.groupby("segment", sort=True)}
