"""Journeys on a small hand-made event log, against a funnel computed by hand."""

from __future__ import annotations

import pandas as pd

from personae.profile.journeys import journeys, stage_of

# a: view, cart, purchase, purchase      -> reaches repeat
# b: view, cart                          -> stops at cart
# c: visit, view, purchase (no cart)     -> stops at view (strict funnel)
# d: view, cart, purchase                -> reaches purchase
LOG = pd.DataFrame([
    ("a", "2024-01-01 10:00", "page_view"), ("a", "2024-01-01 10:05", "add_to_cart"),
    ("a", "2024-01-01 10:09", "purchase"), ("a", "2024-01-05 09:00", "purchase"),
    ("b", "2024-01-02 11:00", "page_view"), ("b", "2024-01-02 11:01", "add_to_cart"),
    ("c", "2024-01-03 08:00", "session_start"), ("c", "2024-01-03 08:01", "page_view"),
    ("c", "2024-01-03 08:02", "purchase"),
    ("d", "2024-01-04 12:00", "page_view"), ("d", "2024-01-04 12:01", "page_view"),
    ("d", "2024-01-04 12:03", "add_to_cart"), ("d", "2024-01-04 12:04", "purchase"),
    ("zz", "2024-01-04 12:00", "purchase"),  # no segment: ignored
], columns=["user", "time", "event"])
SEGMENTS = pd.Series([0, 0, 1, 1], index=["a", "b", "c", "d"])


def test_stage_names() -> None:
    assert [stage_of(t) for t in ("page_view", "add_to_cart", "purchase", "session_start",
                                  "checkout", "search", "rate_song")] == \
        ["view", "cart", "purchase", "visit", "checkout", "search", None]


def test_funnel_by_hand() -> None:
    result = journeys(LOG, SEGMENTS)
    assert result["stages"] == ["visit", "view", "cart", "purchase", "repeat"]
    funnel = {s["stage"]: s for s in result["segments"][0]["funnel"]}
    # segment 0 (a, b): nobody has a visit event, so the strict funnel is empty from there
    assert funnel["visit"]["users"] == 0 and funnel["visit"]["drop_off"] == 1.0
    one = {s["stage"]: s for s in result["segments"][1]["funnel"]}
    assert [one[s]["users"] for s in result["stages"]] == [1, 1, 0, 0, 0]


def test_funnel_without_a_visit_stage() -> None:
    log = LOG[LOG["event"] != "session_start"]
    result = journeys(log, SEGMENTS)
    assert result["stages"] == ["view", "cart", "purchase", "repeat"]
    zero = result["segments"][0]["funnel"]
    assert [s["users"] for s in zero] == [2, 2, 1, 1]
    assert [s["conversion"] for s in zero] == [1.0, 1.0, 0.5, 1.0]
    assert [s["drop_off"] for s in zero] == [0.0, 0.0, 0.5, 0.0]
    one = result["segments"][1]["funnel"]
    assert [s["users"] for s in one] == [2, 1, 1, 0]  # c never added to cart
    assert [s["share_of_segment"] for s in one] == [1.0, 0.5, 0.5, 0.0]


def test_most_common_paths_collapse_repeats_in_time_order() -> None:
    shuffled = LOG.sample(frac=1.0, random_state=1)
    result = journeys(shuffled, SEGMENTS)
    paths = {p["path"]: p["users"] for p in result["segments"][1]["top_paths"]}
    assert paths == {"session_start > page_view > purchase": 1,
                     "page_view > add_to_cart > purchase": 1}
    zero = result["segments"][0]["top_paths"]
    assert {p["path"] for p in zero} == {"page_view > add_to_cart > purchase",
                                         "page_view > add_to_cart"}


def test_unknown_event_names_fall_back_to_the_most_common_types() -> None:
    log = pd.DataFrame({"user": ["a", "a", "b", "c"], "time": [1, 2, 1, 1],
                        "event": ["play_song", "rate_song", "play_song", "play_song"]})
    result = journeys(log, pd.Series([0, 0, 1], index=["a", "b", "c"]))
    assert result["stages"] == ["play_song", "rate_song"]
    assert "most common event types" in result["method"]
    assert [s["users"] for s in result["segments"][0]["funnel"]] == [2, 1]
