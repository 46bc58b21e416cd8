"""Tokens from event logs: order, sessions, rare grouping, caps, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personae.errors import ConfigError, DataError
from personae.features.sequences import (
    RARE_TOKEN,
    SESSION_TOKEN,
    parse_tokens,
    sequences_from_events,
    sequences_from_lists,
    wide_states,
)


def _log(rows):
    return pd.DataFrame(rows, columns=["user_id", "timestamp", "event_type", "category"])


T = pd.Timestamp("2024-01-01 10:00")


def test_order_is_by_time_not_by_row_and_sessions_are_marked():
    log = _log([
        (1, T + pd.Timedelta(minutes=2), "cart", "a"),
        (1, T, "view", "a"),
        (1, T + pd.Timedelta(hours=5), "view", "b"),
        (2, T, "purchase", "b"),
    ])
    seqs = sequences_from_events(log, min_count=1)
    assert seqs.ids.tolist() == [1, 2]
    assert seqs.tokens(0) == ["view", "cart", SESSION_TOKEN, "view"]
    assert seqs.tokens(1) == ["purchase"]  # a one-event user keeps its one token
    assert seqs.report.sessions_from == "a 30-minute gap"


def test_combined_tokens_and_rare_grouping_backs_off_to_the_event():
    rows = [(u, T + pd.Timedelta(minutes=i), "view", "shoes") for u in range(5) for i in range(2)]
    rows.append((9, T, "view", "hats"))
    seqs = sequences_from_events(_log(rows), tokens="event+category", min_count=3)
    assert seqs.tokens(0) == ["view|shoes", "view|shoes"]
    assert seqs.tokens(5) == [f"view|{RARE_TOKEN}"]
    assert seqs.report.rare_tokens_grouped == 1 and seqs.report.rare_events_grouped == 1


def test_long_histories_keep_the_most_recent_tokens():
    rows = [(1, T + pd.Timedelta(minutes=i), f"e{i}", "c") for i in range(10)]
    seqs = sequences_from_events(_log(rows), min_count=1, max_length=4)
    assert seqs.tokens(0) == ["e6", "e7", "e8", "e9"]
    assert seqs.report.users_capped == 1 and seqs.report.events_cut == 6


def test_position_breaks_ties_in_time_and_session_column_marks_sessions():
    log = pd.DataFrame({"sid": [7, 7, 7, 8], "day": pd.to_datetime(["2008-04-01"] * 4),
                        "click": [3, 1, 2, 1], "page": ["c", "a", "b", "a"],
                        "visit": ["y", "x", "x", "z"]})
    seqs = sequences_from_events(log, user="sid", time="day", event="page", position="click",
                                 session="visit", min_count=1)
    assert seqs.tokens(0) == ["a", "b", SESSION_TOKEN, "c"]
    assert seqs.report.sessions_from == "column"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"tokens": "event+colour"}, "The 'tokens' parameter must join roles"),
    ({"min_count": 0}, "The 'min_count' parameter must be an int >= 1"),
    ({"max_length": 1}, "The 'max_length' parameter must be an int >= 2"),
    ({"session_gap_minutes": 0}, "The 'session_gap_minutes' parameter must be a number > 0"),
])
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        sequences_from_events(_log([(1, T, "view", "a")]), **kwargs)


def test_bad_inputs_are_one_clear_line():
    log = _log([(1, T, "view", "a")])
    with pytest.raises(DataError, match="column 'colour': mapped column for event does not"):
        sequences_from_events(log, event="colour")
    with pytest.raises(DataError, match="tokens=item needs an item column"):
        sequences_from_events(log, tokens="item")
    with pytest.raises(DataError, match="column 'nope': position column does not exist"):
        sequences_from_events(log, position="nope")
    bad = pd.DataFrame({"user_id": [1, 1], "timestamp": ["2024-01-01", "soon"],
                        "event_type": ["a", "b"]})
    with pytest.raises(DataError, match="row 2: 1 rows have a time that does not parse"):
        sequences_from_events(bad)
    untimed = pd.DataFrame({"user_id": [1], "event_type": ["a"]})
    with pytest.raises(DataError, match="no time column found by name"):
        sequences_from_events(untimed)


def test_wide_states_reads_periods_in_order():
    frame = pd.DataFrame({"id": [10, 11], "a15": [0, 1], "a16": [1, 1], "a17": [2, None]})
    seqs = wide_states(frame, ["a15", "a16", "a17"], id_column="id")
    assert seqs.tokens(0) == ["0", "1", "2"] and seqs.tokens(1) == ["1", "1", "NA"]
    with pytest.raises(DataError, match="column 'a18': state column does not exist"):
        wide_states(frame, ["a18"])
    banded = wide_states(frame, ["a15", "a16", "a17"], band=2)
    assert banded.tokens(0) == ["0@0", "1@0", "2@1"]
    with pytest.raises(ConfigError, match="The 'band' parameter must be an int >= 1"):
        wide_states(frame, ["a15"], band=0)


def test_parse_tokens():
    assert parse_tokens("event + category") == ("event", "category")
    with pytest.raises(ConfigError, match="Got 'event\\+event' instead"):
        parse_tokens("event+event")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=8),
                min_size=1, max_size=6),
       st.integers(min_value=2, max_value=5))
def test_flat_sequences_round_trip_and_cap_keeps_the_tail(lists, cap):
    rows = [(u, T + pd.Timedelta(seconds=i), tok, "x") for u, seq in enumerate(lists)
            for i, tok in enumerate(seq)]
    seqs = sequences_from_events(_log(rows), min_count=1, max_length=cap)
    assert [seqs.tokens(i) for i in range(len(seqs))] == [s[-cap:] for s in lists]
    assert seqs.digest() == sequences_from_lists(seqs.ids, [s[-cap:] for s in lists]).digest() \
        or seqs.vocabulary != sequences_from_lists(seqs.ids, [s[-cap:] for s in lists]).vocabulary
    assert np.all(seqs.lengths >= 1)


def test_events_sharing_a_timestamp_keep_the_file_order_and_the_report_says_so():
    log = _log([(1, T, "cart", "a"), (1, T, "view", "a"), (1, T + pd.Timedelta(minutes=1),
                                                         "purchase", "a"), (2, T, "view", "b")])
    seqs = sequences_from_events(log, min_count=1)
    assert seqs.tokens(0) == ["cart", "view", "purchase"]  # the row order breaks the tie
    assert seqs.report.tied_events == 2
    assert seqs.report.lines()[-1] == ("ties: 2 events share their timestamp with another "
                                       "event of the same user; their order comes from the "
                                       "row order in the file")
    clicks = log.assign(click=[2, 1, 3, 1])
    ordered = sequences_from_events(clicks, min_count=1, position="click")
    assert ordered.tokens(0) == ["view", "cart", "purchase"]
    assert "the position column 'click'" in ordered.report.lines()[-1]
    assert sequences_from_events(log.iloc[2:], min_count=1).report.lines()[-1].startswith(
        "cap:")  # no tie, no line
