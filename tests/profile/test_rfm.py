"""RFM scores: cut points on hand-made data with ties, the named map, new users by the cuts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personae.errors import DataError
from personae.profile.rfm import RFM_MAP, RFMCuts, fit_rfm, rfm_crosstab, rfm_name, score_rfm


def _users() -> pd.DataFrame:
    return pd.DataFrame({
        "recency_days": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        "frequency": [1, 1, 1, 1, 1, 1, 2, 2, 3, 10],
        "monetary_total": [10.0, 10, 10, 10, 20, 20, 30, 40, 50, 1000],
    })


def test_cut_points_on_tied_data_by_hand():
    cuts = fit_rfm(_users())
    # numpy's linear quantiles of the sorted values (positions 1.8, 3.6, 5.4, 7.2)
    assert cuts.frequency == pytest.approx((1.0, 1.0, 1.4, 2.2))
    assert cuts.recency == pytest.approx((2.8, 4.6, 6.4, 8.2))
    assert cuts.monetary == pytest.approx((10.0, 16.0, 24.0, 42.0))
    scores = score_rfm(_users(), cuts)
    # ties stay together: the six one-order users share one F score, the two 2s another
    assert scores["f_score"].tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    assert scores["m_score"].tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    # recent = high R
    assert scores["r_score"].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert scores["rfm_score"].iloc[0] == "511"
    assert scores["rfm_segment"].tolist()[:2] == ["New", "New"]
    assert scores["rfm_segment"].iloc[9] == "Can't lose"


def test_named_map_covers_each_cell_once():
    cells = [(r, f) for _, rs, fs in RFM_MAP for r in rs for f in fs]
    assert sorted(cells) == [(r, f) for r in range(1, 6) for f in range(1, 6)]
    assert rfm_name(5, 5) == "Champions" and rfm_name(1, 1) == "Hibernating"
    assert rfm_name(1, 5) == "Can't lose" and rfm_name(3, 3) == "Need attention"
    with pytest.raises(ValueError, match="scores 1-5"):
        rfm_name(0, 3)


def test_new_users_are_scored_by_the_stored_cuts():
    cuts = fit_rfm(_users())
    restored = RFMCuts.from_dict(json.loads(json.dumps(cuts.to_dict())))
    assert restored == cuts
    new = pd.DataFrame({"recency_days": [0.5, 100.0], "frequency": [50, 1],
                        "monetary_total": [5000.0, 0.0]})
    scores = score_rfm(new, restored)
    assert scores["rfm_score"].tolist() == ["555", "111"]
    assert scores["rfm_segment"].tolist() == ["Champions", "Hibernating"]


def test_without_monetary_column_scores_r_and_f_only():
    users = _users().drop(columns="monetary_total")
    scores = score_rfm(users, fit_rfm(users))
    assert "m_score" not in scores and scores["rfm_score"].str.len().eq(2).all()


def test_bad_input_names_the_column_and_row():
    with pytest.raises(DataError, match="RFM needs column 'frequency'"):
        fit_rfm(pd.DataFrame({"recency_days": [1.0]}))
    bad = _users().astype({"frequency": float})
    bad.loc[3, "frequency"] = np.nan
    with pytest.raises(DataError, match="row 3"):
        fit_rfm(bad)
    with pytest.raises(DataError, match="four values"):
        RFMCuts.from_dict({"columns": ["a", "b", None], "recency": [1, 2], "frequency": [1],
                           "monetary": None})
    with pytest.raises(DataError, match="not RFM cut points"):
        RFMCuts.from_dict({"recency": [1, 2, 3, 4]})


def test_crosstab_counts_every_user_once():
    scores = score_rfm(_users(), fit_rfm(_users()))
    persona = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, -1])
    table = rfm_crosstab(persona, scores["rfm_segment"], names={0: "A", 1: "B", 2: "C",
                                                                -1: "Edge users"})
    assert table["users"].sum() == 10
    assert list(table.columns[:-1]) == [n for n, _, _ in RFM_MAP]
    assert table.loc["A", "New"] == 2


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=5, max_size=60))
def test_scores_are_monotone_and_ties_equal(values):
    users = pd.DataFrame({"recency_days": values, "frequency": values,
                          "monetary_total": values})
    s = score_rfm(users, fit_rfm(users))
    order = np.argsort(values, kind="stable")
    assert (np.diff(s["f_score"].to_numpy()[order]) >= 0).all()
    assert (np.diff(s["r_score"].to_numpy()[order]) <= 0).all()
    for v in set(values):
        same = np.asarray(values) == v
        assert s["f_score"][same].nunique() == 1 and s["r_score"][same].nunique() == 1
    assert s["f_score"].between(1, 5).all() and s["r_score"].between(1, 5).all()
