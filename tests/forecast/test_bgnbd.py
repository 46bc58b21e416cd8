"""BG/NBD: the paper's estimates on CDNOW, planted parameters recovered, the likelihood's
gradient, and logs it cannot learn from refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad

from forecast.helpers import cdnow_summaries
from personae.errors import DataError
from personae.forecast.bgnbd import (
    BGNBDParams,
    _loss_and_gradient,
    conditional_expected,
    fit_bgnbd,
    log_likelihood,
    p_alive,
    unconditional_expected,
)
from personae.forecast.forecaster import UNIT_DAYS, fit_forecaster
from personae.forecast.simulate import simulate_bgnbd

PAPER = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def test_cdnow_sample_gives_the_papers_estimates(cdnow_sample):
    summaries = cdnow_summaries(cdnow_sample)
    assert len(summaries) == 2357
    fitted = fit_bgnbd(summaries["repeat_events"], summaries["first_to_last_days"] / 7,
                       summaries["observed_days"] / 7)
    got = [round(v, 2) for v in (fitted.r, fitted.alpha, fitted.a, fitted.b)]
    assert got == [0.24, 4.41, 0.79, 2.43]  # the paper: 0.243, 4.414, 0.793, 2.426


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_parameters_come_back(seed):
    truth = BGNBDParams(r=0.6, alpha=3.0, a=0.9, b=4.0)
    users = simulate_bgnbd(truth, 40_000, (20, 60), random_state=seed)
    fitted = fit_forecaster(users, days=90, at_risk_below=0.5, purchases=False).events
    assert fitted.r == pytest.approx(truth.r, rel=0.1)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.1)
    assert fitted.a == pytest.approx(truth.a, rel=0.25)
    assert fitted.b == pytest.approx(truth.b, rel=0.3)
    assert fitted.unit_days == UNIT_DAYS


def test_gradient_is_the_likelihoods():
    users = simulate_bgnbd(PAPER, 3000, (10, 40), random_state=3)
    x, t_x, T = (users[c].to_numpy() / d for c, d in
                 (("repeat_events", 1), ("first_to_last_days", 7), ("observed_days", 7)))
    w = np.ones(len(x))
    theta = np.log([0.4, 3.0, 1.2, 2.0])
    value, _ = _loss_and_gradient(np.exp(theta), x, t_x, T, w)
    assert value == pytest.approx(-log_likelihood(np.exp(theta), x, t_x, T).sum())
    error = check_grad(lambda th: _loss_and_gradient(np.exp(th), x, t_x, T, w)[0],
                       lambda th: _loss_and_gradient(np.exp(th), x, t_x, T, w)[1], theta)
    assert error < 1e-3 * np.abs(_loss_and_gradient(np.exp(theta), x, t_x, T, w)[1]).max()


def test_p_alive_falls_the_longer_a_frequent_user_is_silent():
    silent_for = np.array([0.0, 5.0, 20.0, 40.0])
    alive = p_alive(PAPER, np.full(4, 6.0), 30.0 - np.minimum(silent_for, 30.0),
                    np.full(4, 30.0) + np.maximum(silent_for - 30.0, 0.0))
    assert np.all(np.diff(alive) < 0)
    assert alive[0] > 0.9 > 0.2 > alive[-1]
    # no repeat event: BG/NBD lets users leave only after one
    assert p_alive(PAPER, np.zeros(1), np.zeros(1), np.full(1, 30.0))[0] == 1.0


def test_expectations_grow_with_the_horizon_and_start_at_zero():
    x, t_x, T = np.array([0.0, 2.0, 10.0]), np.array([0.0, 10.0, 28.0]), np.full(3, 30.0)
    assert conditional_expected(PAPER, 0, x, t_x, T).tolist() == [0.0, 0.0, 0.0]
    short, long = (conditional_expected(PAPER, t, x, t_x, T) for t in (4.0, 40.0))
    assert np.all(long > short) and np.all(short > 0)
    assert short[2] > short[1] > short[0]  # more repeat events, recent: more to come
    # a new user's first 39 weeks: what users drawn from the model do on average
    drawn = simulate_bgnbd(PAPER, 200_000, (39.0, 39.0), random_state=0)
    assert unconditional_expected(PAPER, 39.0) == pytest.approx(
        drawn["repeat_events"].mean(), rel=0.02)


@pytest.mark.parametrize("x, t_x, T, words", [
    ([0, 0, 0], [0, 0, 0], [3, 5, 9], "nobody came back after their first day"),
    ([0, 0], [0, 0], [0, 0], "the history is a single day"),
    ([], [], [], "no users to forecast"),
    ([1, 2], [4, 9], [3, 10], r"0 <= t_x <= T"),
])
def test_logs_it_cannot_learn_from_are_one_line(x, t_x, T, words):
    with pytest.raises(DataError, match=words) as caught:
        fit_bgnbd(np.array(x, float), np.array(t_x, float), np.array(T, float),
                  source="log.csv")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("log.csv: ")


def test_a_fit_drifting_to_no_heterogeneity_still_forecasts_the_poisson_rate():
    # r and alpha in the tens of thousands (users alike, a Poisson rate of r / alpha a week),
    # almost nobody leaving: what a fit of a homogeneous log reaches
    drifted = BGNBDParams(r=25_687.8, alpha=162_754.8, a=0.0013, b=2135.8)
    expected = conditional_expected(drifted, 90 / 7, np.array([0.0, 3.0, 10.0]),
                                    np.array([0.0, 10.0, 15.0]), np.full(3, 17.0))
    np.testing.assert_allclose(expected, drifted.r / drifted.alpha * 90 / 7, rtol=1e-3)


MBG = BGNBDParams(r=0.6, alpha=3.0, a=0.9, b=4.0, variant="MBG/NBD")


@pytest.mark.parametrize("seed", [0, 1])
def test_mbgnbd_planted_parameters_come_back_and_win_the_choice(seed):
    users = simulate_bgnbd(MBG, 40_000, (20, 60), random_state=seed)
    forecaster = fit_forecaster(users, days=90, at_risk_below=0.5, purchases=False)
    fitted = forecaster.events
    assert fitted.variant == "MBG/NBD"
    assert forecaster.log_likelihoods["MBG/NBD"] > forecaster.log_likelihoods["BG/NBD"]
    assert fitted.r == pytest.approx(MBG.r, rel=0.1)
    assert fitted.alpha == pytest.approx(MBG.alpha, rel=0.1)
    assert fitted.a == pytest.approx(MBG.a, rel=0.25)
    assert fitted.b == pytest.approx(MBG.b, rel=0.3)
    # and users drawn from BG/NBD choose BG/NBD
    drawn = simulate_bgnbd(BGNBDParams(0.6, 3.0, 0.9, 4.0), 40_000, (20, 60),
                           random_state=seed)
    assert fit_forecaster(drawn, days=90, at_risk_below=0.5,
                          purchases=False).events.variant == "BG/NBD"


def test_mbgnbd_gradient_p_alive_and_expectations():
    users = simulate_bgnbd(MBG, 3000, (10, 40), random_state=3)
    x, t_x, T = (users[c].to_numpy() / d for c, d in
                 (("repeat_events", 1), ("first_to_last_days", 7), ("observed_days", 7)))
    w = np.ones(len(x))
    theta = np.log([0.4, 3.0, 1.2, 2.0])

    def loss(th):  # type: ignore[no-untyped-def]
        return _loss_and_gradient(np.exp(th), x, t_x, T, w, "MBG/NBD")

    assert loss(theta)[0] == pytest.approx(
        -log_likelihood(np.exp(theta), x, t_x, T, "MBG/NBD").sum())
    error = check_grad(lambda th: loss(th)[0], lambda th: loss(th)[1], theta)
    assert error < 1e-3 * np.abs(loss(theta)[1]).max()
    # a user who never came back can have left, the more likely the longer the silence
    alive = p_alive(MBG, np.zeros(3), np.zeros(3), np.array([1.0, 10.0, 50.0]))
    assert 1.0 > alive[0] > alive[1] > alive[2] > 0
    # a new user's first 39 weeks: what users drawn from the model do on average
    drawn = simulate_bgnbd(MBG, 200_000, (39.0, 39.0), random_state=0)
    assert unconditional_expected(MBG, 39.0) == pytest.approx(
        drawn["repeat_events"].mean(), rel=0.02)
    # the conditional expectation averages to the unconditional one (total expectation):
    # users drawn and observed for 26 weeks, the next 13 expected of each
    seen = simulate_bgnbd(MBG, 100_000, (26.0, 26.0), random_state=1)
    expected = conditional_expected(MBG, 13.0, seen["repeat_events"].to_numpy(),
                                    seen["first_to_last_days"].to_numpy() / 7,
                                    seen["observed_days"].to_numpy() / 7)
    assert expected.mean() == pytest.approx(
        unconditional_expected(MBG, 39.0) - unconditional_expected(MBG, 26.0), rel=0.01)
