"""Feature drift of new data against a model's training reference.

Per feature: the population stability index over the reference bins (empty shares floored at
1e-4; < 0.1 stable, < 0.25 moderate, else significant, the credit-scoring convention), an
effect size (numbers: the Wasserstein distance in reference standard deviations, from the
1,000-point quantile grids; categories: the Jensen-Shannon divergence, base 2, 0..1), and a
chi-square p-value as a side column only: with many users every test rejects, so verdicts
come from PSI, never from p.

One vectorised pass per feature edge (``values <= edge`` counted, at most nine edges),
features on threads; the Wasserstein quantiles come from at most 200,000 users.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from personae.monitor._adapter import category_values, numeric_values
from personae.monitor.reference import (
    OTHER,
    QUANTILE_GRID,
    CategoryReference,
    NumericReference,
    Reference,
)
from personae.monitor.stats import PSI_FLOOR, psi, psi_verdict

log = logging.getLogger(__name__)

NEW_LEVEL = "(new level)"
QUANTILE_ROWS = 200_000  # the Wasserstein grid from at most this many users
COLUMNS = ["feature", "kind", "psi", "verdict", "effect", "effect_measure", "p_value",
           "reference_mean", "new_mean", "reference_missing", "new_missing", "bins",
           "top_bin_change"]


def numeric_drift(ref: NumericReference, values: np.ndarray, n_reference: int
                  ) -> dict[str, object]:
    n = len(values)
    missing = np.isnan(values)
    n_missing = int(missing.sum())
    present = values[~missing] if n_missing else values
    counts = bin_counts(ref.edges, present)
    expected = np.append(np.asarray(ref.shares), ref.missing_share)
    actual = np.append(counts, n_missing) / max(n, 1)
    if len(present) and not np.isnan(ref.quantiles).all():
        distance = float(np.mean(np.abs(sorted_quantiles(_sample(present)) - ref.quantiles)))
        effect = distance / ref.sd if ref.sd > 0 else (0.0 if distance == 0 else np.inf)
    else:
        effect = float("nan")
    change = actual - expected
    top = int(np.argmax(np.abs(change)))
    label = ("missing" if top == len(ref.edges) + 1 else _bin_label(ref.edges, top))
    return {"feature": ref.name, "kind": "numeric", "psi": psi(expected, actual),
            "effect": effect, "effect_measure": "wasserstein_sd",
            "p_value": _chi2_p(expected, actual, n_reference, n),
            "reference_mean": ref.mean,
            "new_mean": float(present.mean()) if len(present) else float("nan"),
            "reference_missing": ref.missing_share, "new_missing": float(actual[-1]),
            "bins": len(expected),
            "top_bin_change": f"{label}: {expected[top]:.1%} -> {actual[top]:.1%}"}


def category_drift(ref: CategoryReference, values: pd.Series, n_reference: int
                   ) -> dict[str, object]:
    levels = list(ref.levels)
    index = pd.Index(levels)
    codes = index.get_indexer(values.to_numpy())
    unseen = codes < 0
    if OTHER in levels:
        codes = np.where(unseen, levels.index(OTHER), codes)
        unseen = np.zeros(len(codes), dtype=bool)
    counts = np.bincount(codes[~unseen], minlength=len(levels)).astype(np.float64)
    expected = np.append(np.asarray(ref.shares), 0.0)
    actual = np.append(counts, unseen.sum()) / max(len(values), 1)
    names = [*levels, NEW_LEVEL]
    change = actual - expected
    top = int(np.argmax(np.abs(change)))
    return {"feature": ref.name, "kind": "category", "psi": psi(expected, actual),
            "effect": jensen_shannon(expected, actual), "effect_measure": "jensen_shannon",
            "p_value": _chi2_p(expected, actual, n_reference, len(values)),
            "reference_mean": float("nan"), "new_mean": float("nan"),
            "reference_missing": float("nan"), "new_missing": float("nan"),
            "bins": len(names),
            "top_bin_change": f"{names[top]}: {expected[top]:.1%} -> {actual[top]:.1%}"}


def feature_drift(reference: Reference, frame: pd.DataFrame, source: str = "input"
                  ) -> pd.DataFrame:
    """One row per model feature (columns ``COLUMNS``), most drifted first."""
    from concurrent.futures import ThreadPoolExecutor

    for name in [f.name for f in reference.numeric] + [c.name for c in reference.categorical]:
        if name not in frame.columns:
            from personae.errors import DataError

            raise DataError(f"column {name!r} used by the model is missing", source=source)
    # numpy's sort and search release the GIL: features side by side on the cores
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        rows = list(pool.map(lambda ref: numeric_drift(
            ref, numeric_values(frame, ref.name, source), reference.n_users),
            reference.numeric))
    for cat in reference.categorical:
        rows.append(category_drift(cat, category_values(frame, cat.name),
                                   reference.n_users))
    table = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "verdict"])
    table.insert(3, "verdict", [psi_verdict(v) for v in table["psi"]])
    log.info("drift: %d of %d features significant", int((table["verdict"] ==
                                                           "significant").sum()), len(table))
    return table.sort_values(["psi", "feature"], ascending=[False, True],
                             ignore_index=True)


def bin_counts(edges: tuple[float, ...], values: np.ndarray) -> np.ndarray:
    """Users per right-closed bin ``(-inf, e1], (e1, e2], ..., (e_last, inf)``: one SIMD
    comparison pass per edge (at most nine), ~10x faster than ``searchsorted``."""
    below = [np.count_nonzero(values <= e) for e in edges]
    return np.diff(np.array([0, *below, len(values)], dtype=np.float64))


def sorted_quantiles(values: np.ndarray) -> np.ndarray:
    """``np.quantile(values, QUANTILE_GRID)`` (linear interpolation) from one sort, which
    is faster than numpy's partition for a thousand quantiles."""
    ordered = np.sort(values)
    position = QUANTILE_GRID * (len(ordered) - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def _sample(values: np.ndarray) -> np.ndarray:
    """At most QUANTILE_ROWS values, drawn with a fixed seed (the quantiles of 200,000
    users are within about 0.005 SD of the full ones; the PSI counts stay exact)."""
    if len(values) <= QUANTILE_ROWS:
        return values
    return values[np.random.default_rng(0).integers(0, len(values), QUANTILE_ROWS)]


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (0 = same, 1 = disjoint)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p, q = p / max(p.sum(), PSI_FLOOR), q / max(q.sum(), PSI_FLOOR)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return max(0.0, (kl(p) + kl(q)) / 2)


def _chi2_p(expected: np.ndarray, actual: np.ndarray, n_ref: int, n_new: int) -> float:
    """Chi-square test of homogeneity of the two binned samples (bins empty in both
    dropped)."""
    from scipy.stats import chi2_contingency

    table = np.vstack([np.asarray(expected) * n_ref, np.asarray(actual) * n_new])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return float("nan")
    return float(chi2_contingency(table, correction=False)[1])


def _bin_label(edges: tuple[float, ...], i: int) -> str:
    if not edges:
        return "all"
    if i == 0:
        return f"<= {edges[0]:.4g}"
    if i == len(edges):
        return f"> {edges[-1]:.4g}"
    return f"({edges[i - 1]:.4g}, {edges[i]:.4g}]"
