"""Personas: deterministic, uniquely named, every fact traceable to a profile row."""

from __future__ import annotations

import pandas as pd
import pytest

from personae.profile.personas import build_personas, fmt

RETAIL_EFFECTS = {
    0: {"monetary_total": 1.5, "frequency": 1.2, "recency_days": -0.8},
    1: {"recency_days": 1.4, "frequency": -1.1, "monetary_total": -0.6},
    2: {"monetary_mean": -0.9, "items_per_order": -0.7, "return_share": 0.1},
}


@pytest.fixture
def retail(make_profiles) -> pd.DataFrame:
    return make_profiles(RETAIL_EFFECTS)


def test_names_come_from_what_the_data_says(retail) -> None:
    names = [p["name"] for p in build_personas(retail)]
    # frequent + recent + higher spending is the loyal high-value archetype (#25); the
    # noun is the run's ("users" unless the id column or report.noun says otherwise)
    assert names == ["Loyal High-Value Users", "Infrequent Lapsed Users",
                     "Few-Item Smaller-Order Buyers"]


def test_deterministic_and_independent_of_row_order(retail) -> None:
    first = build_personas(retail)
    shuffled = retail.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert build_personas(shuffled) == first
    assert build_personas(retail) == first


def test_names_are_never_two_alike(make_profiles) -> None:
    same = {s: {"monetary_total": 1.0, "frequency": 0.5} for s in range(6)}
    names = [p["name"] for p in build_personas(make_profiles(same))]
    assert len({n.lower() for n in names}) == 6
    assert names[:4] == ["Frequent Higher Spenders", "Higher Spenders",
                         "Higher-Spending Repeat Buyers", "Repeat Buyers"]


def test_every_fact_traces_to_a_profile_row(retail) -> None:
    for persona in build_personas(retail):
        facts = persona["data_says"] + persona["characteristics"] + \
            persona["empathy_map"]["does"]
        assert facts
        for fact in facts:
            source = fact["source"]
            row = retail[(retail["segment"] == source["segment"])
                         & (retail["feature"] == source["feature"])]
            assert len(row) == 1 and source["segment"] == persona["segment"]
            row = row.iloc[0]
            assert source["values"]["mean"] == pytest.approx(row["mean"], rel=1e-5)
            assert source["values"]["effect_size"] == pytest.approx(row["effect_size"],
                                                                    rel=1e-5)
        for fact in persona["data_says"]:
            values = fact["source"]["values"]
            assert fmt(values["mean"]) in fact["text"]
            assert fmt(values["rest_mean"]) in fact["text"]
            assert f"d {values['effect_size']:+.2f}" in fact["text"]


def test_only_distinguishing_features_become_facts(retail) -> None:
    lapsed = build_personas(retail)[2]
    assert "return_share" not in [f["source"]["feature"] for f in lapsed["data_says"]]


def test_empathy_map_marks_hypotheses(retail) -> None:
    persona = build_personas(retail)[1]
    empathy = persona["empathy_map"]
    for part in ("says", "thinks", "feels"):
        assert empathy[part]["hypothesis"] is True and empathy[part]["items"]
    assert all("source" in item for item in empathy["does"])
    assert any("lapse" in o or "win-back" in o for o in persona["opportunities"])
    assert any("have not bought" in p["text"] for p in persona["pain_points"])


def test_edge_users_are_their_own_persona(make_profiles) -> None:
    profiles = make_profiles({-1: {"monetary_total": 3.0}, 0: {"monetary_total": -0.3},
                             1: {"frequency": 0.9}})
    personas = build_personas(profiles)
    assert [p["segment"] for p in personas] == [-1, 0, 1]
    assert personas[0]["name"] == "Edge Users" and personas[0]["edge_users"]
    assert "They belong to no persona" in personas[0]["narrative"]


def test_nothing_distinctive_says_so(make_profiles) -> None:
    persona = build_personas(make_profiles({0: {"a": 0.05}, 1: {"a": -0.05}}))[0]
    assert persona["data_says"] == []
    assert "Nothing sets them apart" in persona["narrative"]
    assert persona["name"] == "Typical Users"


def test_gmm_runs_say_how_mixed_each_group_is(retail) -> None:
    users = pd.DataFrame({"segment": [0] * 10 + [1] * 10,
                          "second_segment": [1] * 10 + [0] * 10,
                          "mixed": [True] * 3 + [False] * 7 + [False] * 10})
    personas = build_personas(retail[retail["segment"] < 2], users=users)
    assert personas[0]["also_like"][0]["text"] == \
        "30% of this group also behaves like Infrequent Lapsed Users."
    assert personas[1]["also_like"] == []
