"""Shares of users in words (personae/_share.py)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from personae._share import share_text


@given(st.floats(min_value=0, max_value=1), st.integers(min_value=0, max_value=3))
def test_a_share_reads_as_none_or_all_only_when_it_is(value: float, digits: int) -> None:
    text = share_text(value, digits)
    number = float(re.sub(r"[<>%]", "", text)) / 100
    if 0 < value < 1:  # some users, not all: never "0.0%" or "100.0%"
        assert number not in (0.0, 1.0), text
    if text.startswith("<"):
        assert value < number
    elif text.startswith(">"):
        assert value > number
    else:
        assert abs(number - value) <= 0.5 * 10.0 ** -(digits + 2) + 1e-12


def test_known_shares() -> None:
    assert [share_text(v) for v in (0, 4 / 4_504, 0.0004, 0.25, 0.9996, 1)] == \
        ["0.0%", "0.1%", "<0.1%", "25.0%", ">99.9%", "100.0%"]
    assert share_text(0.004, 0) == "<1%"
