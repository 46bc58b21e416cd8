"""Gamma-Gamma: the published CDNOW estimates, shrinkage towards the population's mean."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.helpers import cdnow_summaries
from personae.errors import DataError
from personae.forecast.gamma_gamma import GammaGammaParams, expected_spend, fit_gamma_gamma


def test_cdnow_sample_gives_the_published_estimates(cdnow_sample):
    summaries = cdnow_summaries(cdnow_sample)
    fitted = fit_gamma_gamma(summaries["repeat_events"], summaries["mean_repeat_spend"])
    # Fader, Hardie & Lee (2005) RFM and CLV, on the calibration period: 6.25, 3.74, 15.44
    assert [round(v, 2) for v in (fitted.p, fitted.q, fitted.gamma)] == [6.25, 3.74, 15.44]


def test_planted_spend_comes_back():
    rng = np.random.default_rng(0)
    truth = GammaGammaParams(p=5.0, q=4.0, gamma=60.0)
    n = 20_000
    nu = rng.gamma(truth.q, 1 / truth.gamma, n)
    x = rng.integers(1, 8, n)
    means = np.array([rng.gamma(truth.p, 1 / v, k).mean() for v, k in zip(nu, x, strict=True)])
    fitted = fit_gamma_gamma(x, means)
    assert fitted.population_mean == pytest.approx(truth.population_mean, rel=0.05)
    assert fitted.q == pytest.approx(truth.q, rel=0.15)


def test_expected_spend_shrinks_towards_the_population_the_fewer_purchases():
    params = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
    population = params.population_mean
    spend = expected_spend(params, np.array([0, 1, 10, 100, 3]),
                           np.array([np.nan, 100.0, 100.0, 100.0, 0.0]))
    assert spend[0] == pytest.approx(population) and spend[4] == pytest.approx(population)
    assert population < spend[1] < spend[2] < spend[3] < 100.0


def test_too_few_repeat_buyers_are_one_line():
    with pytest.raises(DataError, match="fewer than 10 users made a repeat purchase with "
                                        "positive spend"):
        fit_gamma_gamma(np.array([1, 2, 0, 0]), np.array([5.0, 7.0, np.nan, np.nan]))


def test_gradient_is_the_likelihoods():
    from scipy.optimize import check_grad

    from personae.forecast.gamma_gamma import _gradient, log_likelihood

    rng = np.random.default_rng(1)
    x = rng.integers(1, 9, 2000).astype(float)
    m = rng.gamma(3.0, 10.0, 2000)
    theta = np.log([4.0, 3.0, 2.0])
    error = check_grad(lambda th: np.mean(log_likelihood(np.exp(th), x, m)),
                       lambda th: _gradient(np.exp(th), x, m), theta)
    assert error < 1e-5
