from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personae.monitor.stats import BIMODAL, bimodality, centroids, psi, psi_verdict

shares = st.lists(st.floats(0, 1), min_size=2, max_size=12).filter(lambda s: sum(s) > 0)


@given(shares)
@settings(max_examples=60, deadline=None)
def test_psi_of_identical_shares_is_zero_and_never_negative(values):
    p = np.asarray(values) / sum(values)
    assert psi(p, p) == 0.0
    q = np.roll(p, 1)
    assert psi(p, q) >= 0.0


def test_psi_floors_empty_bins_at_1e4():
    # one bin empties: (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(1 / 0.5)
    expected = (1e-4 - 0.5) * np.log(1e-4 / 0.5) + 0.5 * np.log(2)
    assert psi([0.5, 0.5], [0.0, 1.0]) == pytest.approx(expected)


@pytest.mark.parametrize(("value", "verdict"), [(0.0, "stable"), (0.0999, "stable"),
                                                (0.1, "moderate"), (0.2499, "moderate"),
                                                (0.25, "significant"), (3.0, "significant")])
def test_psi_verdicts_follow_the_credit_scoring_convention(value, verdict):
    assert psi_verdict(value) == verdict


def test_bimodality_tells_one_group_from_two():
    rng = np.random.default_rng(0)
    one = rng.normal(size=(4000, 3))
    two = np.vstack([rng.normal(size=(2000, 3)) - [4, 0, 0], rng.normal(size=(2000, 3)) +
                     [4, 0, 0]])
    assert bimodality(one) < BIMODAL < bimodality(two)
    assert np.isnan(bimodality(one[:3]))


def test_centroids_are_segment_means_with_nan_for_empty_segments():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [10.0, 10.0], [5.0, 5.0]])
    labels = np.array([0, 0, 1, -1])
    c = centroids(X, labels, [0, 1, 2])
    np.testing.assert_allclose(c[:2], [[1.0, 2.0], [10.0, 10.0]])
    assert np.isnan(c[2]).all()
