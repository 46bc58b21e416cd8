"""Journeys on a small hand-made event log, against a funnel computed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from personae.profile.journeys import journeys, lifecycle, stage_of

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


# --- lifecycle journeys: a transaction log (no event types) --------------------------------

def _transactions() -> tuple[pd.DataFrame, pd.Series]:
    """Segment 0: 10 regulars ordering on days 0, 10 and 30 (gaps 10 and 20 days), the
    first order of shoes, the next ones of hats (half the third with socks), and a return;
    segment 1: 10 one-timers."""
    start = pd.Timestamp("2024-01-01 10:00")
    rows = []
    for u in range(10):
        for n, (day, what) in enumerate(((0, "shoes"), (10, "hats"), (30, "hats"))):
            t = start + pd.Timedelta(days=day, hours=u)
            rows.append((f"r{u}", t, f"o{u}-{n}", what, 2))
            if n == 2 and u % 2:  # half of the third orders also hold socks
                rows.append((f"r{u}", t, f"o{u}-{n}", "socks", 1))
        rows.append((f"r{u}", start + pd.Timedelta(days=31), f"C{u}", "hats", -1))
        rows.append((f"o{u}", start + pd.Timedelta(days=u), f"p{u}", "socks", 1))
    log = pd.DataFrame(rows, columns=["Customer", "When", "Invoice", "Kind", "Qty"])
    segments = pd.Series([0] * 10 + [1] * 10, index=[f"r{u}" for u in range(10)]
                         + [f"o{u}" for u in range(10)])
    return log, segments


MAPPING = {"user": "Customer", "time": "When", "order": "Invoice", "category": "Kind",
           "quantity": "Qty"}


def test_a_transaction_log_gets_lifecycle_journeys_with_the_planted_gaps() -> None:
    log, segments = _transactions()
    result = lifecycle(log, segments, MAPPING)
    assert result["kind"] == "lifecycle"
    assert result["stages"][:3] == ["1st order", "2nd order", "3rd order"]
    regulars = result["segments"][0]
    # the return is no order
    assert [s["users"] for s in regulars["funnel"]] == [10, 10, 10, 0, 0]
    steps = regulars["lifecycle"]["steps"]
    assert steps[0]["gap_days_median"] is None
    assert steps[1]["gap_days_median"] == pytest.approx(10.0)
    assert steps[2]["gap_days_median"] == pytest.approx(20.0)
    assert (steps[0]["top"], steps[0]["top_share"]) == ("shoes", 1.0)
    assert (steps[2]["top"], steps[2]["top_share"]) == ("hats", 1.0)
    assert regulars["top_paths"] == [{"path": "shoes > hats > hats", "users": 10,
                                      "share": 1.0}]
    assert regulars["lifecycle"]["stops_after"] == "3rd order"
    assert regulars["lifecycle"]["stops_share"] == 1.0
    assert regulars["lifecycle"]["past_last_step_share"] == 0.0
    one_timers = result["segments"][1]
    assert one_timers["lifecycle"]["stops_after"] == "1st order"
    assert one_timers["lifecycle"]["stops_share"] == 1.0
    assert [s["users"] for s in one_timers["funnel"]][:2] == [10, 0]


def test_without_an_order_column_the_steps_are_the_days_a_user_came() -> None:
    log, segments = _transactions()
    result = lifecycle(log, segments, {"user": "Customer", "time": "When"}, noun="visit")
    assert result["stages"][0] == "1st visit"
    regulars = result["segments"][0]
    # the return day is a day they came: a 4th visit, a day after the 3rd
    assert [s["users"] for s in regulars["funnel"]][:4] == [10, 10, 10, 10]
    assert regulars["lifecycle"]["steps"][3]["gap_days_median"] == pytest.approx(1.0, abs=0.5)
    assert regulars["top_paths"] == []  # no category or item: nothing to say they held


def test_a_run_on_a_transaction_log_gets_lifecycle_journeys_and_a_web_log_its_paths() -> None:
    from personae.describe import run_journeys
    from personae.inputs import RunInput

    log, segments = _transactions()
    ids = pd.Series(segments.index, name="user_id")
    read = RunInput(pd.DataFrame(), "log", {"kind": "events", "mapping": MAPPING,
                                            "purchases": "column 'Qty'"}, {}, rows=log)
    result = run_journeys(read, ids, segments.to_numpy())
    assert result is not None and result["kind"] == "lifecycle" and result["noun"] == "order"
    web = RunInput(pd.DataFrame(), "log", {"kind": "events", "mapping": {
        "user": "user", "time": "time", "event": "event"}}, {}, rows=LOG)
    paths = run_journeys(web, pd.Series(SEGMENTS.index), SEGMENTS.to_numpy())
    assert paths is not None and "kind" not in paths and paths["stages"][0] == "visit"
