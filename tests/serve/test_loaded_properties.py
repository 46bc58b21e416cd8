"""The request parsers write values the way the batch cleaning reads them."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personae.features.table import category_text, coerce_numeric
from personae.serve.loaded import RequestError, _category, _number

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(deadline=None, max_examples=60)
@given(st.one_of(finite, st.integers(-(2**52), 2**52)))
def test_category_codes_match_category_text(value):
    expected = category_text(pd.Series([value], dtype="float64")).iloc[0]
    assert _category(value, "mode") == expected


@settings(deadline=None, max_examples=60)
@given(st.one_of(finite, st.integers(-(2**52), 2**52)))
def test_numbers_and_their_text_match_coerce_numeric(value):
    for sent in (value, str(value)):
        expected = coerce_numeric(pd.Series([sent]), "t", "c")[0]
        assert _number(sent, "f") == expected


def test_gaps_and_bad_values():
    assert math.isnan(_number(None, "f")) and math.isnan(_number(" ", "f"))
    assert _category(None, "mode") == "mode" and _category(float("nan"), "mode") == "mode"
    with pytest.raises(RequestError, match=r"users\[0\].x: 'abc' is not a number"):
        _number("abc", "users[0].x")
    with pytest.raises(RequestError, match="infinite value"):
        _number(float("inf"), "f")
