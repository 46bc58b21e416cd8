"""Properties of the parsers and transforms (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from personae.cli import parse_split
from personae.experiments.stats import benjamini_hochberg, newcombe_interval, wilson_interval

arm_names = st.text(alphabet=st.characters(blacklist_characters=",=",
                                           blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
                    min_size=1, max_size=12)


@given(st.dictionaries(arm_names, st.floats(0.01, 1000), min_size=1, max_size=5))
def test_expected_split_round_trips(split: dict[str, float]) -> None:
    text = ",".join(f"{arm}={share!r}" for arm, share in split.items())
    assert parse_split(text) == split


@given(st.lists(st.floats(0, 1), min_size=1, max_size=60))
def test_bh_q_is_at_least_p_and_keeps_the_order(p: list[float]) -> None:
    values = np.array(p)
    q = benjamini_hochberg(values)
    assert np.all(q >= values - 1e-12) and np.all(q <= 1.0)
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(q[order]) >= -1e-12)


@settings(max_examples=200)
@given(st.integers(1, 500), st.integers(1, 500), st.data())
def test_intervals_hold_the_estimate(n1: int, n0: int, data: st.DataObject) -> None:
    x1 = data.draw(st.integers(0, n1))
    x0 = data.draw(st.integers(0, n0))
    low, high = wilson_interval(x1, n1)
    assert 0.0 <= low <= x1 / n1 <= high <= 1.0
    d_low, d_high = newcombe_interval(x1, n1, x0, n0)
    assert -1.0 <= d_low <= x1 / n1 - x0 / n0 <= d_high <= 1.0
