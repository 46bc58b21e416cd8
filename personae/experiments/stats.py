"""The statistics of an A/B cell, from sufficient statistics only (n, mean, variance).

Written out here, with scipy.stats for the distributions:

- ``wilson_interval``: Wilson (1927) score interval for one proportion.
- ``newcombe_interval``: Newcombe (1998, Stat. Med. 17:873-890, method 10) hybrid score
  interval for a difference of two independent proportions, built from the two Wilson
  intervals.
- ``two_proportion_p``: two-sided pooled two-proportion z-test.
- ``welch``: Welch's unequal-variance t interval and test for a difference of means, with
  Welch-Satterthwaite degrees of freedom.
- ``benjamini_hochberg``: BH (1995) step-up adjusted p-values (q-values).
- ``cochran_q``: Cochran's Q test of homogeneity of independent effects (inverse-variance
  weights), with I-squared (Higgins & Thompson 2002).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


def z_value(alpha: float) -> float:
    """The two-sided normal critical value for a (1 - alpha) interval."""
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def wilson_interval(successes: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n``."""
    if n <= 0:
        return (math.nan, math.nan)
    z = z_value(alpha)
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(max(p * (1.0 - p) / n + z2n / (4.0 * n), 0.0))
    low = 0.0 if successes <= 0 else max(centre - half, 0.0)  # exact ends: no 1e-18 residue
    high = 1.0 if successes >= n else min(centre + half, 1.0)
    return (low, high)


def newcombe_interval(x1: float, n1: float, x0: float, n0: float,
                      alpha: float = 0.05) -> tuple[float, float]:
    """Hybrid score interval for p1 - p0 (Newcombe 1998, method 10)."""
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson_interval(x1, n1, alpha)
    l0, u0 = wilson_interval(x0, n0, alpha)
    diff = p1 - p0
    low = diff - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = diff + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return (low, high)


def two_proportion_p(x1: float, n1: float, x0: float, n0: float) -> float:
    """Two-sided p-value of the pooled two-proportion z-test of p1 == p0."""
    pooled = (x1 + x0) / (n1 + n0)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n0))
    diff = x1 / n1 - x0 / n0
    if se == 0.0:
        return 1.0 if diff == 0.0 else 0.0
    return float(2.0 * stats.norm.sf(abs(diff) / se))


@dataclass(frozen=True)
class Welch:
    """Welch's t for mean1 - mean0."""

    effect: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float


def welch(mean1: float, var1: float, n1: float, mean0: float, var0: float, n0: float,
          alpha: float = 0.05) -> Welch:
    """Welch interval and two-sided test; ``var`` are sample variances (ddof=1)."""
    effect = mean1 - mean0
    a, b = var1 / n1, var0 / n0
    se = math.sqrt(a + b)
    if se == 0.0:
        p = 1.0 if effect == 0.0 else 0.0
        return Welch(effect, 0.0, math.inf, effect, effect, p)
    df = (a + b) ** 2 / ((a * a / (n1 - 1) if a else 0.0) + (b * b / (n0 - 1) if b else 0.0))
    t = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    p = float(2.0 * stats.t.sf(abs(effect) / se, df))
    return Welch(effect, se, df, effect - t * se, effect + t * se, p)


def proportion_se(p1: float, n1: float, p0: float, n0: float) -> float:
    """Unpooled standard error of p1 - p0 (used for weights, not for the interval)."""
    return math.sqrt(p1 * (1.0 - p1) / n1 + p0 * (1.0 - p0) / n0)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values; NaN stays NaN and is not counted as a test."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q[order] = np.minimum(ranked, 1.0)
    return q


@dataclass(frozen=True)
class CochranQ:
    """Homogeneity of k independent effects."""

    q: float
    df: int
    p_value: float
    i_squared: float
    pooled_effect: float
    pooled_se: float


def cochran_q(effects: np.ndarray, ses: np.ndarray) -> CochranQ | None:
    """Cochran's Q = sum w (e - e_bar)^2 with w = 1 / se^2, chi-square on k - 1 df.

    None when fewer than two effects have a positive standard error.
    """
    e = np.asarray(effects, dtype=float)
    s = np.asarray(ses, dtype=float)
    keep = np.isfinite(e) & np.isfinite(s) & (s > 0)
    e, s = e[keep], s[keep]
    if len(e) < 2:
        return None
    w = 1.0 / (s * s)
    pooled = float(np.sum(w * e) / np.sum(w))
    q = float(np.sum(w * (e - pooled) ** 2))
    df = len(e) - 1
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    return CochranQ(q, df, float(stats.chi2.sf(q, df)), i2, pooled,
                    float(math.sqrt(1.0 / np.sum(w))))
