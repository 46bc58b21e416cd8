"""The interval and test formulas against published values and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from personae.experiments.stats import (
    benjamini_hochberg,
    cochran_q,
    newcombe_interval,
    two_proportion_p,
    welch,
    wilson_interval,
)


@pytest.mark.parametrize(("x", "n", "low", "high"), [
    # Newcombe (1998a) Stat. Med. 17:857-872, Table I, method 3 (Wilson score).
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_matches_newcombe_1998a(x: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(x, n)
    assert got == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(("x1", "n1", "x0", "n0", "low", "high"), [
    # Newcombe (1998b) Stat. Med. 17:873-890, Table II, method 10 (hybrid score).
    (56, 70, 48, 80, 0.0524, 0.3339), (9, 10, 3, 10, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.0582, 0.8062), (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775), (0, 10, 0, 10, -0.2775, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0),
])
def test_newcombe_hybrid_matches_newcombe_1998b(x1: int, n1: int, x0: int, n0: int,
                                                low: float, high: float) -> None:
    assert newcombe_interval(x1, n1, x0, n0) == pytest.approx((low, high), abs=5e-5)


def test_welch_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(1.0, 2.0, 40), rng.normal(0.0, 0.5, 25)
    got = welch(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b))
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    interval = ref.confidence_interval(0.95)
    assert (got.ci_low, got.ci_high) == pytest.approx((interval.low, interval.high), rel=1e-9)


def test_two_proportion_p_is_the_chi_square_test() -> None:
    table = np.array([[56, 14], [48, 32]])
    chi2 = stats.chi2_contingency(table, correction=False)
    assert two_proportion_p(56, 70, 48, 80) == pytest.approx(chi2.pvalue, rel=1e-9)


def test_no_variation_gives_a_point_interval() -> None:
    got = welch(2.0, 0.0, 10, 2.0, 0.0, 10)
    assert (got.effect, got.ci_low, got.ci_high, got.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert two_proportion_p(0, 50, 0, 60) == 1.0


def test_benjamini_hochberg_by_hand() -> None:
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, np.nan, 0.5]))
    # sorted 0.01, 0.03, 0.04, 0.5 (m = 4): 0.04, 0.06, 0.0533, 0.5 -> step-up minimum
    assert q[:3] == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3])
    assert math.isnan(q[3]) and q[4] == pytest.approx(0.5)


def test_cochran_q_by_hand() -> None:
    result = cochran_q(np.array([0.1, 0.0, 0.2]), np.array([0.05, 0.05, 0.1]))
    assert result is not None
    w = np.array([400.0, 400.0, 100.0])
    pooled = (w * [0.1, 0.0, 0.2]).sum() / w.sum()
    q = (w * (np.array([0.1, 0.0, 0.2]) - pooled) ** 2).sum()
    assert (result.pooled_effect, result.q, result.df) == pytest.approx((pooled, q, 2))
    assert result.p_value == pytest.approx(stats.chi2.sf(q, 2))
    assert cochran_q(np.array([0.1]), np.array([0.1])) is None


@pytest.mark.parametrize(("p1", "p0", "n"), [(0.3, 0.2, 200), (0.05, 0.02, 400)])
def test_newcombe_coverage_near_nominal(p1: float, p0: float, n: int) -> None:
    rng = np.random.default_rng(7)
    draws = 2000
    x1, x0 = rng.binomial(n, p1, draws), rng.binomial(n, p0, draws)
    hits = sum(lo <= p1 - p0 <= hi for lo, hi in
               (newcombe_interval(a, n, b, n) for a, b in zip(x1, x0, strict=True)))
    assert 0.93 <= hits / draws <= 0.97


def test_welch_coverage_near_nominal_on_skewed_spend() -> None:
    rng = np.random.default_rng(8)
    hits = 0
    for _ in range(1000):
        a, b = rng.gamma(2.0, 12.0, 300), rng.gamma(2.0, 10.0, 250)
        got = welch(a.mean(), a.var(ddof=1), 300, b.mean(), b.var(ddof=1), 250)
        hits += got.ci_low <= 4.0 <= got.ci_high
    assert 0.93 <= hits / 1000 <= 0.97


def test_the_sample_ratio_check_uses_the_settings_significance_level() -> None:
    """520 / 480 users against an equal split: chi2 = 1.6, p = 0.206; a mismatch only for a
    level above that (UpliftSettings.srm_alpha, default 0.001)."""
    from personae.config import UpliftSettings
    from personae.experiments.checks import srm_checks

    counts = {"all": {"control": 520, "treated": 480}}
    default = srm_checks(counts, None, UpliftSettings().srm_alpha)
    assert default["overall"]["chi2"] == pytest.approx(1.6)
    assert default["overall"]["p_value"] == pytest.approx(0.2059, abs=1e-4)
    assert not default["mismatch"] and "p < 0.001" in default["method"]
    loose = srm_checks(counts, None, 0.25)
    assert loose["mismatch"] and "p < 0.25" in loose["method"]


def test_a_significance_level_outside_0_1_is_refused() -> None:
    from personae.config import UpliftSettings, build
    from personae.errors import ConfigError

    with pytest.raises(ConfigError, match=r"uplift\(\): srm_alpha: srm_alpha must be in "
                                          r"\(0, 1\); got 0.0"):
        build(UpliftSettings, {"srm_alpha": 0.0}, "uplift()")
