"""Naming rules on hand-made profiles: absolute words need the numbers, category values
become words, no head phrase three times, no vocabulary from another domain."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from tests.profile.conftest import profile_rows

from personae.features.semantics import FeatureMeaning, Semantics
from personae.profile.personas import build_personas

ABSOLUTE = ("daily", "weekly", "big", "premium", "vip", "power")


def _with_medians(profiles: pd.DataFrame, medians: dict[tuple[int, str], float]
                  ) -> pd.DataFrame:
    out = profiles.copy()
    for (seg, feature), value in medians.items():
        out.loc[(out["segment"] == seg) & (out["feature"] == feature), "median"] = value
    return out


def _names(profiles: pd.DataFrame, semantics: Semantics | None = None) -> list[str]:
    return [p["name"] for p in build_personas(profiles, semantics)]


@pytest.mark.parametrize(("gap", "expected"), [(1.0, "Daily Regulars"),
                                               (6.0, "Weekly Regulars"),
                                               (30.0, "Monthly Regulars"),
                                               (86.0, "Regulars")])  # CDNOW's "daily" gap
def test_a_cadence_word_needs_the_cadence(gap, expected):
    effects = {0: {"active_days": 1.5, "days_between_visits": -0.1},
               1: {"active_days": -1.0, "days_between_visits": 0.1}}
    profiles = _with_medians(profile_rows(effects), {(0, "days_between_visits"): gap})
    assert _names(profiles)[0] == expected


def test_one_time_needs_a_median_of_one_order():
    effects = {0: {"frequency": -1.0}, 1: {"frequency": 1.0}}
    assert _names(profile_rows(effects))[0] == "Occasional Buyers"
    once = _with_medians(profile_rows(effects), {(0, "frequency"): 1.0})
    assert _names(once)[0] == "One-Time Buyers"


def test_no_absolute_claims_from_relative_numbers():
    effects = {s: {"monetary_total": 1.2, "event_count": 1.0, "session_count": 0.8,
                   "monetary_mean": 0.5} for s in range(5)}
    for name in _names(profile_rows(effects)):
        assert not any(w in name.lower().split() for w in ABSOLUTE), name


def test_no_head_phrase_three_times_and_names_unique():
    effects = {s: {"event_count": 1.0 + s / 10, "frequency": 0.5, "monetary_total": 0.4}
               for s in range(6)}
    names = _names(profile_rows(effects))
    assert len({n.lower() for n in names}) == len(names)
    heads = Counter(" ".join(n.split()[-2:]) for n in names)
    assert max(heads.values()) <= 2, names


def _telco() -> pd.DataFrame:
    rows = profile_rows({0: {"Contract=Month-to-month": 0.3, "InternetService=Fiber optic": 0.2,
                             "Partner=No": 0.15},
                         1: {"InternetService=No internet service": 0.3, "Churn=No": 0.2}},
                        kind="category")
    return rows.assign(mean=0.6, rest_mean=0.2, lift=3.0)


def test_category_values_become_words():
    names = _names(_telco())
    # title case joined by hyphens (#25); the stronger value next to the noun; two ideas
    assert names[0] == "Fiber-Optic Month-to-Month Users"
    assert names[1] == "No-Churn No-Internet-Service Users"
    assert not any("Leaning" in n for n in names)
    amounts = profile_rows({0: {"history_segment=1) $0 - $100": 0.3}, 1: {"x=a": 0.3}},
                           kind="category").assign(mean=0.6, rest_mean=0.2, lift=3.0)
    assert _names(amounts)[0] == "History $0-$100 Users"  # the column's first word (#25)


def test_other_columns_speak_from_their_own_label():
    effects = {0: {"balance": 1.0, "purchases": -0.8}, 1: {"balance": -1.0}}
    names = _names(profile_rows(effects))
    assert names == ["Low-Purchases High-Balance Users", "Low-Balance Users"]
    assert not any(w in " ".join(names) for w in ("Shopper", "Browser", "Power"))
    many = {s: {"page_values": 1.0 + s / 10, "bounce_rates": -0.5 - s / 10,
                "exit_rates": 0.3} for s in range(5)}
    heads = Counter(" ".join(n.split()[-2:]) for n in _names(profile_rows(many)))
    assert max(heads.values()) <= 2, heads
    semantics = Semantics(user={"balance": FeatureMeaning("balance", "Card balance",
                                                          source="user")})
    assert _names(profile_rows(effects), semantics)[1] == "Low-Card-Balance Users"


def test_a_yes_no_column_written_as_0_1_reads_as_yes_no():
    """Hillstrom's mens/womens flags: "High-Womens" claimed a level; a flag is had or not."""
    from personae.features.table import TablePreprocessor
    from personae.profile.segments import segment_profiles

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], [300, 300, 200])
    womens = np.where(labels == 0, 1.0, np.where(labels == 1, 0.0, rng.random(800) < 0.6))
    frame = pd.DataFrame({"user_id": np.arange(800), "womens": womens,
                          "visits": rng.normal(np.array([5.0, 5.0, 9.0])[labels], 1.0)})
    frame.loc[7, "womens"] = np.nan  # a missing value keeps it a flag
    pre = TablePreprocessor(id_column="user_id", log_transform=False).fit(frame)
    profiles = segment_profiles(pre.clean(frame), labels, pre)
    kinds = profiles.groupby("feature")["kind"].first()
    assert kinds["womens"] == "flag" and kinds["visits"] == "number"
    personas = build_personas(profiles)
    names = [p["name"] for p in personas]
    assert "Womens" in names[0].split() and "No-Womens" in names[1].split(), names
    assert not any("High-Womens" in n or "Low-Womens" in n for n in names), names
    said = [f["text"] for f in personas[0]["data_says"] if f["source"]["feature"] == "womens"]
    assert said and said[0].startswith("Womens: yes for 100% of them vs "), said
    phrases = [c["text"] for c in personas[1]["characteristics"]]
    assert any(p.startswith("They are never marked 'womens' (") for p in phrases), phrases
    lines = [p["line"] for p in personas]
    assert "more often womens" not in " ".join(lines), lines


def test_the_noun_is_the_runs_not_the_features():
    """#25: a frequency column no longer makes everyone "Customers"; the run's noun does."""
    effects = {0: {"frequency": 1.0, "events_per_session": -1.2},
               1: {"frequency": -1.0, "events_per_session": 1.2}}
    names = _names(profile_rows(effects), Semantics(noun="customers"))
    assert all("Users" not in n.split() for n in names), names
    assert any(n.endswith("Customers") for n in names), names
    plain = _names(profile_rows(effects), Semantics(purchases=False))
    assert all("Customers" not in n and "Buyers" not in n for n in plain), plain
