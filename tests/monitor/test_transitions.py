from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personae.monitor.transitions import (
    segment_shift,
    stayed_share,
    transition_matrix,
    transitions,
)


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3)), max_size=60),
       st.lists(st.tuples(st.integers(0, 40), st.integers(-1, 4)), max_size=60))
@settings(max_examples=60, deadline=None)
def test_transitions_sum_to_the_users_in_both(old, new):
    old_ids = pd.Series([i for i, _ in old], dtype="int64")
    new_ids = pd.Series([i for i, _ in new], dtype="int64")
    table = transitions(old_ids, np.array([s for _, s in old], dtype=int), new_ids,
                        np.array([s for _, s in new], dtype=int))
    assert table["users"].sum() == len(set(old_ids) & set(new_ids))
    assert list(table.columns) == ["from_segment", "to_segment", "users"]


def test_transitions_match_ids_written_as_numbers_or_text():
    table = transitions(pd.Series([12345.0, 2.0, 3.0]), np.array([0, 1, 1]),
                        pd.Series(["12345", "3", "9"]), np.array([1, 1, 0]))
    assert table.to_dict("records") == [{"from_segment": 0, "to_segment": 1, "users": 1},
                                        {"from_segment": 1, "to_segment": 1, "users": 1}]
    assert stayed_share(table) == 0.5
    matrix = transition_matrix(table)
    assert list(matrix.columns) == ["from_segment", "to_1"]


def test_segment_shift_of_the_same_labels_is_zero():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    table, summary = segment_shift({0: 50, 1: 30, 2: 20}, labels)
    assert summary.psi == 0 and summary.verdict == "stable"
    assert table["share_change"].abs().max() == 0 and (table["p_value"] == 1).all()


def test_segment_shift_sees_a_segment_that_emptied():
    table, summary = segment_shift({0: 500, 1: 500}, np.zeros(1000, dtype=int),
                                   {0: "Bargain hunters"})
    assert summary.verdict == "significant"
    row = table.set_index("segment").loc[1]
    assert row["new_share"] == 0 and row["p_value"] < 1e-10
    assert table.loc[0, "persona"] == "Bargain hunters"
    assert table["new_users"].sum() == 1000
    assert summary.p_value == pytest.approx(0.0, abs=1e-12)
