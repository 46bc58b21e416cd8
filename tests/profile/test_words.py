"""Persona words that speak the users' own domain (#25), on hand-made logs and tables with a
planted truth: purchase words only with purchases, the people's noun, event types as nouns,
names of two ideas with no concept twice and no raw values, archetypes only under their
rule; and the truthfulness check finds what breaks those rules."""

from __future__ import annotations

import re
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from tests.profile.conftest import profile_rows

from personae.config import RunConfig
from personae.features.lexicon import column_words, name_words, names_purchases
from personae.features.semantics import Semantics, event_type_meaning, fallback_meaning
from personae.pipeline import segment
from personae.profile.names import people_noun, same_concept
from personae.profile.personas import build_personas, personas_document
from personae.profile.truth import PURCHASE_WORDS, check_personas


def _log(prices: bool, n_users: int = 240, seed: int = 0) -> pd.DataFrame:
    """Two planted groups: daily regulars and rare visitors; with or without a price."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2024-01-01")
    for u in range(n_users):
        busy = u % 2 == 0
        days = rng.choice(90, size=40 if busy else 3, replace=False)
        for d in days:
            rows.append({"player_id": f"p{u:03d}", "ts": start + pd.Timedelta(days=int(d),
                                                                          hours=int(rng.integers(24))),
                         "action": rng.choice(["level_start", "level_fail", "boost"]),
                         "price": float(rng.uniform(1, 5))})
    frame = pd.DataFrame(rows)
    return frame if prices else frame.drop(columns="price")


def _run(frame: pd.DataFrame, **mapping: str):
    config = RunConfig.model_validate({"input": {"events": {"mapping": mapping}}})
    return segment(frame, config=config, k=2, algorithm="kmeans", persona_levels=False,
                   stability=False, random_state=0)


def _all_text(document: dict) -> str:
    return " ".join(str(v) for p in document["personas"] for v in (
        p["name"], p["narrative"], p["data_says"], p["characteristics"], p["pain_points"],
        p["needs"], p["opportunities"], p["empathy_map"]))


def test_a_log_without_prices_never_says_bought_and_player_id_gives_players():
    result = _run(_log(prices=False), user="player_id", time="ts", event="action")
    assert result.semantics.noun == "players" and result.semantics.purchases is False
    text = _all_text(result.personas)
    assert not PURCHASE_WORDS.search(text.replace("'", " ")), PURCHASE_WORDS.findall(text)
    assert "Days since last activity" in text or "Days with activity" in text \
        or "Active days" in text
    names = [p["name"] for p in result.personas["personas"]]
    assert all(n.endswith(("Players", "Regulars", "Night Owls", "Weekenders", "Risers"))
               for n in names), names
    assert check_personas(result.personas, result.profiles, result.semantics,
                          result.built_users) == []


def test_a_log_with_prices_may_speak_of_purchases():
    result = _run(_log(prices=True), user="player_id", time="ts", event="action",
                  price="price")
    assert result.semantics.purchases is True
    assert result.semantics.describe("recency_days").label == "Days since last purchase"


@pytest.mark.parametrize(("column", "noun"), [
    ("player_id", "players"), ("PlayerID", "players"), ("id_student", "students"),
    ("student", "students"), ("Customer ID", "customers"), ("member_no", "members"),
    ("account_id", "account holders"), ("visitorId", "visitors"), ("userid", "users"),
    ("sku_id", "users"), (None, "users")])
def test_the_noun_comes_from_the_id_column(column, noun):
    assert people_noun(column) == noun
    assert people_noun(column, "Listeners") == "listeners"  # report.noun wins


def test_the_noun_reaches_names_narratives_and_the_document():
    effects = {0: {"active_days": 1.0}, 1: {"active_days": -1.0}}
    semantics = Semantics(noun="students", purchases=False)
    document = personas_document(profile_rows(effects), semantics)
    assert document["run"]["noun"] == "students"
    first = document["personas"][1]
    assert first["name"] == "Occasional Students"
    assert first["narrative"].startswith("100 students (50% of all)")


def test_purchase_transactions_read_as_words():
    assert column_words("PURCHASES_TRX") == "purchase transactions"
    assert column_words("ProductRelated_Duration") == "product related duration"
    assert column_words("items_bought") == "items bought"
    assert fallback_meaning("PURCHASES_TRX").label == "Purchase transactions"
    assert names_purchases("PURCHASES_TRX") and names_purchases("items_bought")
    assert not names_purchases("pages_viewed") and not names_purchases("tenure")


@pytest.mark.parametrize(("column", "high"), [
    ("visits", "visit often"), ("cart_abandons", "abandon more often (cart abandons)"),
    ("reviews", "write more reviews"), ("tenure", "have been with you longer"),
    ("skips", "skip more"), ("wins", "win more")])
def test_the_lexicon_gives_common_columns_a_verb(column, high):
    assert fallback_meaning(column).high == high


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9_\-. ]{0,30}", fullmatch=True))
def test_column_words_are_lower_case_words(name):
    words = column_words(name)
    assert words == words.lower() and "_" not in words and "  " not in words


@given(st.lists(st.from_regex(r"[a-zé]{2,8}|[0-9]{1,3}", fullmatch=True), min_size=1,
                max_size=5), st.sampled_from(["snake", "camel", "upper", "spaced"]))
def test_one_splitter_reads_every_way_of_writing_a_name(words, style):
    """Id detection and persona words split a column name alike (one splitter): a name
    written snake_case, camelCase, UPPER_CASE or with spaces gives the same words, accents
    included (camelCase cannot tell two numbers apart)."""
    if style == "camel":
        assume(not any(a.isdigit() and b.isdigit() for a, b in pairwise(words)))
    written = {"snake": "_".join(words), "upper": "_".join(words).upper(),
               "spaced": " ".join(words),
               "camel": words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])}[style]
    assert name_words(written) == words


def test_event_types_are_nouns_never_verbs():
    meaning = event_type_meaning("share_event_aulaweb", "Aulaweb")
    assert meaning.high == "have more 'Aulaweb' among their events"
    profiles = profile_rows({0: {"share_event_aulaweb": 1.0}, 1: {"share_event_aulaweb": -1.0}})
    profiles["mean"] = np.where(profiles["segment"] == 0, 0.12, 0.04)
    profiles["rest_mean"] = np.where(profiles["segment"] == 0, 0.04, 0.12)
    personas = build_personas(profiles, Semantics(user={meaning.name: meaning}))
    said = personas[0]["data_says"][0]["text"]
    assert said.startswith("12% of their events are 'Aulaweb' against 4% for everyone else")
    assert personas[0]["name"] == "Aulaweb-Heavy Users"
    assert not re.search(r"\bAulaweb\b(?!')", personas[0]["narrative"].replace("'Aulaweb'", ""))


def _share_profiles(mean: float) -> pd.DataFrame:
    meaning = event_type_meaning("share_event_share", "share")
    profiles = profile_rows({0: {"share_event_share": 1.0}, 1: {"share_event_share": -1.0}})
    profiles["mean"] = np.where(profiles["segment"] == 0, mean, mean / 4)
    profiles["rest_mean"] = np.where(profiles["segment"] == 0, mean / 4, mean)
    return profiles, Semantics(user={meaning.name: meaning})


def test_social_only_when_the_sharing_share_supports_it():
    profiles, semantics = _share_profiles(0.30)
    persona = build_personas(profiles, semantics)[0]
    assert persona["name"] == "Social Users"
    assert persona["why_name"][0]["rule"].startswith("archetype: share_event_share")
    profiles, semantics = _share_profiles(0.04)  # 4% of their events: more, not social
    assert build_personas(profiles, semantics)[0]["name"] != "Social Users"
    weekend = profile_rows({0: {"share_weekend": 1.0}, 1: {"share_weekend": -1.0}})
    weekend["mean"] = 0.5  # "share" as a proportion is not sharing
    assert build_personas(weekend)[0]["name"] != "Social Users"


def test_archetypes_need_their_whole_rule():
    lapsed = {0: {"frequency": 1.0, "recency_days": 1.2}, 1: {"frequency": -1.0}}
    assert build_personas(profile_rows(lapsed))[0]["name"] == "Lapsed Regulars"
    only_gone = {0: {"recency_days": 1.2}, 1: {"frequency": -1.0}}
    assert "Regulars" not in build_personas(profile_rows(only_gone))[0]["name"]
    loyal = {0: {"frequency": 1.0, "recency_days": -1.0, "monetary_total": 1.1},
             1: {"frequency": -1.0}}
    assert build_personas(profile_rows(loyal))[0]["name"] == "Loyal High-Value Users"
    # no purchases: not the loyal high-value archetype, and no purchase word
    plain = build_personas(profile_rows(loyal), Semantics(purchases=False))[0]["name"]
    assert plain == "Higher-Value Regulars" and not PURCHASE_WORDS.search(plain)


def _telco() -> pd.DataFrame:
    rows = profile_rows({0: {"OnlineSecurity=No internet service": 0.5,
                             "TechSupport=No internet service": 0.5,
                             "StreamingTV=No internet service": 0.5,
                             "Contract=Two year": 0.3},
                         1: {"Contract=Month-to-month": 0.3}}, kind="category")
    return rows.assign(mean=0.6, rest_mean=0.2, lift=3.0)


def test_a_fact_is_said_once_and_no_concept_twice_in_a_name():
    persona = build_personas(_telco())[0]
    assert persona["name"] == "Two-Year No-Internet-Service Users"
    said = [f["source"]["feature"] for f in persona["data_says"]]
    assert sum("No internet service" in f for f in said) == 1, said
    effects = {0: {"Informational_Duration": -1.0, "Administrative_Duration": 0.9},
               1: {"Informational_Duration": 1.0}}
    name = build_personas(profile_rows(effects))[0]["name"]
    assert name.count("Duration") == 1, name
    assert same_concept("High-Purchase-Frequency", "High-Purchase-Transactions")
    assert not same_concept("Frequent", "Lapsed")


def test_at_most_two_ideas_and_each_names_its_fact():
    effects = {0: {"balance": 1.0, "purchases": -0.8, "tenure": 0.7, "charges": 0.6},
               1: {"balance": -1.0}}
    persona = build_personas(profile_rows(effects))[0]
    assert 1 <= len(persona["why_name"]) <= 2
    for idea in persona["why_name"]:
        assert idea["words"] in persona["name"] and idea["features"]
    for item in persona["needs"] + persona["opportunities"] + \
            persona["empathy_map"]["says"]["items"]:
        assert "(from: " in item, item


def test_a_fact_whose_figures_disagree_with_its_direction_is_not_said():
    """Online Retail's edge users: 1,116 items vs 215 with d -1.09 (the log scale)."""
    profiles = profile_rows({0: {"items_per_order": -1.09, "frequency": 0.5},
                             1: {"frequency": -0.5}})
    row = (profiles["segment"] == 0) & (profiles["feature"] == "items_per_order")
    profiles.loc[row, ["mean", "rest_mean"]] = [1116.0, 215.0]
    persona = build_personas(profiles)[0]
    assert "items_per_order" not in [f["source"]["feature"] for f in persona["data_says"]]
    assert "Few-Item" not in persona["name"]


def test_a_feature_some_users_lack_says_how_many_have_it():
    """The profile's ``covered`` count (users with a value) is what the words say."""
    profiles = profile_rows({0: {"days_between_visits": 1.0}, 1: {"days_between_visits": -1.0}})
    profiles["covered"] = [60, 100]
    persona, other = build_personas(profiles)[:2]
    assert "known for 60 of the 100" in persona["data_says"][0]["text"]
    assert "known for" not in other["data_says"][0]["text"]


def test_the_check_finds_each_broken_rule():
    effects = {0: {"active_days": 1.0, "days_between_visits": -1.0},
               1: {"active_days": -1.0}}
    profiles = profile_rows(effects)
    document = personas_document(profiles, Semantics(purchases=False))
    assert check_personas(document, profiles, Semantics(purchases=False)) == []
    broken = document["personas"][0]
    broken.update(name="Daily Buyers No internet service", narrative="They bought a lot.")
    broken["why_name"] = broken["why_name"] * 3
    broken["opportunities"] = ["win-back campaign"]
    rules = {f.rule for f in check_personas(document, profiles, Semantics(purchases=False))}
    assert {"purchase words", "cadence", "more than two ideas", "no license",
            "unlicensed idea"} <= rules


def test_two_columns_holding_one_number_are_one_fact():
    """A log without orders counts frequency in active days: one fact, said once."""
    profiles = profile_rows({0: {"active_days": 1.0, "frequency": 1.0, "tenure_days": 0.5},
                             1: {"active_days": -1.0}})
    persona = build_personas(profiles, Semantics(purchases=False))[0]
    said = [f["source"]["feature"] for f in persona["data_says"]]
    assert said == ["active_days", "tenure_days"], said
    assert persona["narrative"].count("come back on many days") == 1


def test_baskets_rung_up_in_a_second_are_not_sessions():
    """A transaction log's "sessions" last 0.03 minutes: no Longer-Session, no explorers."""
    effects = {0: {"session_minutes_median": 1.5, "distinct_items": 1.0,
                   "events_per_session": -0.8},
               1: {"session_minutes_median": -1.5}}
    profiles = profile_rows(effects)
    assert build_personas(profiles)[0]["name"] == "Explorer Users"  # sessions of 10 minutes
    profiles["overall_mean"] = np.where(profiles["feature"] == "session_minutes_median", 0.03,
                                        profiles["overall_mean"])
    names = [p["name"] for p in build_personas(profiles)]
    assert not any("Session" in n or "Explorer" in n for n in names), names


def test_report_noun_is_a_checked_setting():
    from personae.config import build
    from personae.errors import ConfigError

    assert RunConfig.model_validate({"report": {"noun": " listeners "}}).report.noun == \
        "listeners"
    with pytest.raises(ConfigError, match=r"--noun must be a word or two"):
        build(RunConfig, {"report": {"noun": "<b>x</b>"}}, "command line",
              {"report.noun": "--noun"})


def test_no_cadence_for_people_who_mostly_came_once():
    """The gap between visits is missing for one-visit users: a median gap of the few who
    came back is no cadence of the persona."""
    profiles = profile_rows({0: {"active_days": 1.0, "days_between_visits": -1.0},
                             1: {"active_days": -1.0}})
    profiles.loc[(profiles["segment"] == 0) & (profiles["feature"] == "days_between_visits"),
                 "median"] = 5.0
    assert build_personas(profiles)[0]["name"] == "Weekly Regulars"
    profiles.loc[(profiles["segment"] == 0) & (profiles["feature"] == "active_days"),
                 "median"] = 1.0
    assert "Weekly" not in build_personas(profiles)[0]["name"]
