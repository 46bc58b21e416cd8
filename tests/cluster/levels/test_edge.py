"""The edge rule (one rule for the embedded fit and Spark's refit): known answers."""

from __future__ import annotations

import numpy as np
import pytest

from personae.cluster.levels import LevelRules, far_cap, far_limits, far_users, widened

RULES = LevelRules()


def test_a_far_limit_is_tukeys_fence_with_the_iqr_floored_by_the_mean_distance() -> None:
    limits = far_limits(count=np.array([10, 10, 3]), q1=np.array([1.0, 0.5, 0.0]),
                        q3=np.array([2.0, 0.5, 0.0]), mean=np.array([1.5, 0.5, 0.0]),
                        rules=RULES)
    floor = 0.1 * (10 * 1.5 + 10 * 0.5 + 3 * 0.0) / 23  # far_floor x the mean over users
    # a spread group: Q3 + 3 IQR; a group with no spread: Q3 + 3 floors; under 4 users: none
    assert limits == pytest.approx([2.0 + 3 * 1.0, 0.5 + 3 * floor, np.inf])


def test_identical_users_are_never_far_from_their_group() -> None:
    rng = np.random.default_rng(0)
    spread = rng.uniform(0.0, 2.0, 500)
    identical = np.full(500, 3e-7, dtype=np.float32)  # float noise off their own centre
    dist = np.r_[spread, identical].astype(np.float32)
    labels = np.r_[np.zeros(500, int), np.ones(500, int)]
    far, limits = far_users(dist, labels, 2, RULES)
    assert not far[labels == 1].any()
    # a saved model places them a little off the fit's distance: still inside
    assert limits[1] == pytest.approx(3e-7 + 3 * 0.1 * dist.mean(), rel=1e-5)
    assert limits[1] > 3e-7 + 1e-4


def test_the_far_users_are_capped_at_the_farthest_share_and_the_limits_move_out() -> None:
    rng = np.random.default_rng(1)
    near = rng.uniform(0.0, 1.0, 950)
    out = np.arange(10.0, 60.0)  # 50 far users (5%), the cap is 2%: 20
    dist = np.r_[near, out].astype(np.float32)
    labels = np.zeros(len(dist), int)
    assert far_cap(len(dist), RULES) == 20
    far, limits = far_users(dist, labels, 1, RULES)
    assert np.flatnonzero(far).tolist() == list(range(970, 1000))[-20:]
    # the farthest user kept in is at 39: the limit moves out just past them
    assert limits[0] == pytest.approx(39.0 * (1 + 1e-5))
    assert (dist[~far] <= limits[0]).all() and (dist[far] > limits[0]).all()


def test_widened_limits_keep_a_group_without_users_and_never_move_in() -> None:
    limits = np.array([5.0, 0.5, np.inf])
    moved = widened(limits, np.array([1.0, 2.0, np.nan]))
    assert moved.tolist() == [5.0, pytest.approx(2.0 + 1e-4), np.inf]  # past 2.0 by 1e-4
    assert widened(np.array([1.0]), np.array([0.0]))[0] == 1.0
    assert widened(np.array([0.0]), np.array([0.0]))[0] == pytest.approx(1e-4)
