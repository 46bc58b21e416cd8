"""Personas and journeys speak from the sequence profiles, with the numbers measured."""

from __future__ import annotations

from personae.profile.journeys import with_sequences
from personae.profile.personas import personas_document
from personae.profile.sequence_words import MIN_LIFT, sequence_story


def _profile(segment: int = 0, **changes):
    profile = {
        "segment": segment, "users": 600, "length": {"median": 17.0, "q1": 15.0, "q3": 19.0},
        "start": [{"token": "view", "share": 0.62}, {"token": "cart", "share": 0.2}],
        "end": [{"token": "purchase", "share": 0.4}],
        "ngrams": [
            {"ngram": "cart \u2192 purchase", "n": 2, "users": 410, "share": 0.6833,
             "others_share": 0.2135, "lift": 3.2},
            {"ngram": "view \u2192 <session>", "n": 2, "users": 300, "share": 0.5,
             "others_share": 0.0, "lift": 900.0},
            {"ngram": "view \u2192 view", "n": 2, "users": 100, "share": 0.17,
             "others_share": 0.15, "lift": 1.1},
        ],
        "medoids": [{"user_id": 42, "length": 17,
                     "tokens": ["view", "cart", "purchase", "<session>", "view"] + ["x"] * 12}],
    }
    return {**profile, **changes}


def test_the_story_quotes_lift_counts_and_shares():
    story = sequence_story(_profile())
    texts = [s["text"] for s in story["sentences"]]
    assert texts[0].startswith("Typical sequence (user 42, the segment's medoid): view \u2192 "
                               "cart \u2192 purchase \u2192 (new session) \u2192 view")
    assert texts[0].endswith("\u2192 \u2026; median length 17 events (quartiles 15-19).")
    assert texts[1] == ("Most start with view (62% of them); the most common last event is "
                        "purchase (40% of them).")
    assert texts[2] == ("3.2x more likely than everyone else to go cart \u2192 purchase "
                        "(410 of them: 68% vs 21% of the others).")
    # nobody else has it: no lift is quoted (it was floored at one other user)
    assert texts[3] == "View \u2192 (new session): 300 of them (50%) and no other user."
    assert len(texts) == 4  # lift 1.1 < MIN_LIFT is not said
    assert MIN_LIFT > 1.1 and all(s["source"]["file"] == "sequence_profiles.json"
                                  for s in story["sentences"])
    assert story["narrative"] == ("In the sequence of their events: most start with view "
                                  "(62% of them); "
                                  "3.2x more likely than everyone else to go cart \u2192 "
                                  "purchase (410 of them: 68% vs 21% of the others).")


def test_a_segment_with_nothing_over_represented_says_only_what_was_measured():
    story = sequence_story(_profile(ngrams=[], start=[{"token": "view", "share": 0.3}],
                                    end=[], medoids=[]))
    assert [s["text"] for s in story["sentences"]] == [
        "The most common first event is view (30% of them)."]
    assert "more likely" not in story["narrative"]


def test_personas_and_journeys_carry_the_sequence_block(make_profiles):
    profiles = make_profiles({0: {"frequency": 1.0}, 1: {"frequency": -1.0}})
    sequences = [_profile(0), _profile(1, ngrams=[])]
    document = personas_document(profiles, sequences=sequences)
    first, second = document["personas"]
    assert "3.2x more likely than everyone else to go cart \u2192 purchase" in first["narrative"]
    assert "more likely" not in second["narrative"]
    assert "most start with view" in second["narrative"]
    assert any("cart \u2192 purchase" in d["text"] for d in first["empathy_map"]["does"])
    assert first["sequence"]["typical"][:3] == ["view", "cart", "purchase"]
    assert "lift" in document["method"]["sequences"]
    assert "sequence" not in personas_document(profiles)["personas"][0]
    journeys = {"stages": ["view"], "method": "m", "segments": {
        0: {"users": 600, "funnel": [], "top_paths": []},
        1: {"users": 600, "funnel": [], "top_paths": []}}}
    told = with_sequences(journeys, sequences)
    assert told["segments"][0]["sequence"]["ngrams"][0]["lift"] == 3.2
    assert "medoid" in told["sequence_method"] and "sequence" not in journeys["segments"][0]
    assert with_sequences(journeys, None) is journeys and with_sequences(None, sequences) is None


def test_edge_users_are_not_called_a_persona():
    story = sequence_story(_profile(-1))
    assert story["narrative"].startswith("These edge users: ")
