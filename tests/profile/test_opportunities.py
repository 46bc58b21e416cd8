"""The opportunity matrix follows its printed scoring rule."""

from __future__ import annotations

import pytest

from personae.profile.opportunities import RULE, opportunity_matrix


def test_score_is_share_times_unmet_need(make_profiles) -> None:
    profiles = make_profiles(
        {0: {"frequency": -1.0, "return_share": 0.5},   # pains: loyalty/engagement, risk
         1: {"frequency": -3.0},                        # capped at 2
         2: {"frequency": 1.0, "return_share": -0.5}},  # no pain
        sizes={0: 200, 1: 100, 2: 100})
    table = opportunity_matrix(profiles).set_index(["segment", "theme"])
    assert set(table.index.get_level_values("theme")) == {"engagement", "loyalty", "risk"}
    # raw: seg0 loyalty 0.5*1.0 = 0.5, seg1 loyalty 0.25*2.0 = 0.5, seg0 risk 0.5*0.5 = 0.25
    assert table.loc[(0, "loyalty"), "score"] == 100.0
    assert table.loc[(1, "loyalty"), "score"] == 100.0
    assert table.loc[(0, "risk"), "score"] == 50.0
    assert table.loc[(1, "loyalty"), "need"] == pytest.approx(2.0)
    assert (table.loc[2, "score"] == 0).all()
    assert table.loc[(0, "risk"), "features"] == "return_share"
    assert "share of users in the segment x unmet need" in RULE
