"""Logs that are not a shop's: who the user is, undefined features, grouped labels, the
log's own numeric columns. Known answers on hand-made logs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personae.errors import ConfigError, DataError
from personae.features import from_events
from personae.features.events_sql import group_labels, grouped_counts
from personae.features.table import TablePreprocessor, detect_id_column
from personae.profile.segments import segment_profiles

#: 8 numbered kinds (93 labels) and 6 plain labels: 99 labels, 14 kinds.
NUMBERED = {"Deeds_Es": 12, "FSM_Es": 12, "Study_Es": 12, "TextEditor_Es": 12,
            "Diagram_Es": 12, "Properties_Es": 12, "Deeds_Related": 10, "FSM_Related": 11}
PLAIN = ("Aulaweb", "Blank", "Other", "Deeds", "TextEditor", "Study_Materials")


def education_log(students: int = 12) -> pd.DataFrame:
    """A lab simulator's log: one row per student action, no purchases; activity labels
    ``<kind>_<exercise>_<step>`` and a few plain ones, every label used."""
    labels = [f"{kind}_{1 + i // 3}_{1 + i % 3}" for kind, n in NUMBERED.items()
              for i in range(n)] + list(PLAIN)
    rng = np.random.default_rng(7)
    rows = []
    start = pd.Timestamp("2014-10-01 09:00")
    for s in range(students):
        for k in range(20):
            t = start + pd.Timedelta(days=int(k // 5) * (1 + s % 3), minutes=7 * k)
            label = labels[(s * 20 + k) % len(labels)]
            rows.append((1 + k // 5, f"S{s:02d}", 1 + k % 6, label, t, t + pd.Timedelta(
                minutes=2), int(rng.integers(0, 50)), int(rng.integers(0, 9)),
                int(rng.integers(0, 30))))
    return pd.DataFrame(rows, columns=["session", "student_id", "exercise", "activity",
                                       "start_time", "end_time", "idle_time",
                                       "mouse_click_left", "keystroke"])


# --- who the user is ----------------------------------------------------------------------

def test_an_education_log_maps_its_columns_without_a_mapping():
    features = from_events(education_log())
    assert features.report.mapping["user"] == "student_id"
    assert features.report.mapping["time"] == "start_time"
    assert features.report.mapping["event"] == "activity"
    assert features.report.mapping["session"] == "session"
    assert len(features.frame) == 12


@pytest.mark.parametrize("column", ["player", "PlayerID", "member_no", "visitor", "account",
                                    "learner_id", "subscriberId", "id_student"])
def test_a_persons_noun_with_repeated_values_is_the_user_column(column):
    log = pd.DataFrame({column: ["a", "a", "b"], "event_id": ["e1", "e2", "e3"],
                        "timestamp": ["2024-01-01", "2024-01-02", "2024-01-02"]})
    assert from_events(log).report.mapping["user"] == column


def test_a_column_named_like_a_moment_is_the_time():
    log = pd.DataFrame({"id_student": [1, 1, 2], "score": [50, 70, 90],
                        "submitted_at": ["2024-01-01", "2024-01-05", "2024-01-02"]})
    mapping = from_events(log).report.mapping
    assert (mapping["user"], mapping["time"]) == ("id_student", "submitted_at")


def test_an_id_whose_values_never_repeat_is_not_the_user_column():
    log = pd.DataFrame({"row_key_id": ["r1", "r2", "r3"], "timestamp": ["2024-01-01"] * 3})
    with pytest.raises(DataError, match=r"no user column found by name; map it with --user"):
        from_events(log)


def test_a_user_table_takes_a_persons_noun_with_unique_values_as_its_id():
    table = pd.DataFrame({"region_id": [1, 1, 2], "student": ["a", "b", "c"], "score": [1, 2, 3]})
    assert detect_id_column(list(table.columns), table) == "student"
    repeated = table.assign(student=["a", "a", "c"])
    assert detect_id_column(list(repeated.columns), repeated) is None
    assert detect_id_column(["user_id", "student"]) == "user_id"


# --- undefined features -------------------------------------------------------------------

def _visits() -> pd.DataFrame:
    """``once`` comes on one day; ``twice`` on days 0 and 4; ``often`` on 0, 1, 2, 3."""
    rows = [("once", "2024-01-01 10:00")]
    rows += [("twice", "2024-01-01 10:00"), ("twice", "2024-01-05 10:00")]
    rows += [("often", f"2024-01-0{d} 10:00") for d in (1, 2, 3, 4)]
    return pd.DataFrame(rows, columns=["user_id", "timestamp"])


def test_a_one_visit_user_has_no_days_between_visits():
    frame = from_events(_visits()).frame.set_index("user_id")
    assert np.isnan(frame.loc["once", "days_between_visits"])
    assert frame.loc["twice", "days_between_visits"] == pytest.approx(4.0)
    assert frame.loc["often", "days_between_visits"] == pytest.approx(1.0)
    assert frame.loc["once", "tenure_days"] == pytest.approx(4 + 14 / 24)  # still known


def test_a_log_of_one_day_has_no_gap_between_visits_at_all():
    one_day = _visits()[lambda f: f["timestamp"].str.startswith("2024-01-01")]
    features = from_events(one_day)
    assert "days_between_visits" not in features.frame.columns
    assert features.frame["active_days"].eq(1).all()


def test_profiles_are_over_the_users_who_have_a_value_and_say_how_many():
    frame = from_events(_visits()).frame
    features = pd.concat([frame.drop(columns="user_id")] * 10, ignore_index=True)
    # segment 0: "once" and "often"; segment 1: "twice"
    labels = np.tile([0 if u in ("once", "often") else 1 for u in frame["user_id"]], 10)
    pre = TablePreprocessor().fit(features)
    profiles = segment_profiles(features, labels, pre).set_index(["segment", "feature"])
    gap0 = profiles.loc[(0, "days_between_visits")]
    assert gap0["size"] == 20
    assert gap0["covered"] == 10  # the one-visit users have no gap
    assert gap0["mean"] == pytest.approx(1.0)  # "often" alone, not the imputed value
    assert gap0["rest_mean"] == pytest.approx(4.0)
    assert profiles.loc[(0, "tenure_days"), "covered"] == 20


# --- the log's own numbers ----------------------------------------------------------------

def test_extra_numeric_columns_become_per_user_sums_and_means():
    log = education_log()
    features = from_events(log)
    frame = features.frame.set_index("user_id")
    by_user = log.groupby("student_id")
    for column in ("idle_time", "mouse_click_left", "keystroke"):
        pd.testing.assert_series_equal(frame[f"{column}_sum"], by_user[column].sum()
                                       .astype(float), check_names=False, check_index_type=False)
        pd.testing.assert_series_equal(frame[f"{column}_mean"], by_user[column].mean(),
                                       check_names=False, check_index_type=False)
    # ids, moments, codes and text are not summed
    assert not {"session_sum", "end_time_sum", "activity_sum", "exercise_sum"} & \
        set(frame.columns)
    assert features.meanings["idle_time_sum"].label == "Total idle time"
    assert features.meanings["idle_time_mean"].role == "drive"
    assert any("'idle_time'" in line for line in features.report.lines())


def test_a_number_column_with_text_in_it_is_left_alone():
    log = pd.DataFrame({"user_id": ["a", "a", "b"], "timestamp": ["2024-01-01"] * 3,
                        "attempts": ["1", "2", "3"], "level": ["1", "two", "3"],
                        "score_id": ["7", "8", "9"], "id_assessment": ["1", "2", "3"],
                        "__index_level_0__": [4, 5, 6], "Unnamed: 0": [0, 1, 2]})
    columns = from_events(log).frame.columns
    assert {"attempts_sum", "attempts_mean"} <= set(columns)
    assert [c for c in columns if c.endswith("_sum")] == ["attempts_sum"]


# --- labels that encode a hierarchy -------------------------------------------------------

def test_a_99_label_activity_column_groups_to_its_kinds():
    log = education_log()
    assert log["activity"].nunique() == 99
    features = from_events(log, top_event_types=20)
    shares = {c.removeprefix("share_event_") for c in features.frame.columns
              if c.startswith("share_event_")}
    # 14 kinds; the label "Other" is not the column of the types left unnamed (none here)
    assert shares == {k.lower() for k in [*NUMBERED, *PLAIN] if k != "Other"} | {"other_2"}
    assert features.report.event_group != ""
    said = [line for line in features.report.lines() if line.startswith("event labels grouped")]
    assert said and "99 labels into 14 kinds" in said[0]
    # the shares count every event of a kind
    frame = features.frame.set_index("user_id")
    deeds = log["activity"].str.match(r"Deeds_Es_\d").groupby(log["student_id"]).mean()
    pd.testing.assert_series_equal(frame["share_event_deeds_es"], deeds.astype(float),
                                   check_names=False, check_index_type=False)


def test_the_kept_rows_carry_the_kinds():
    rows = from_events(education_log(), keep_rows=True).rows
    assert rows is not None and rows["activity"].nunique() == 14


def test_a_stated_rule_groups_by_its_first_group_and_an_empty_one_keeps_every_label():
    log = education_log()
    kinds = from_events(log, event_group="^([A-Za-z]+)", top_event_types=30).report
    assert set(kinds.event_types) == {"Deeds", "FSM", "Study", "TextEditor", "Diagram",
                                      "Properties", "Aulaweb", "Blank", "Other"}
    assert "--event-group '^([A-Za-z]+)'" in kinds.lines()[-1]
    every = from_events(log, event_group="", top_event_types=200).report
    assert len(every.event_types) == 99 and every.event_group == ""


def test_few_labels_or_labels_without_numbered_parts_stay_as_they_are():
    views = pd.DataFrame({"user_id": list("aabbcc"), "timestamp": ["2024-01-01"] * 6,
                          "event": ["page_1", "page_2", "view", "cart", "page_3", "view"]})
    assert from_events(views).report.event_group == ""  # fewer labels than share columns
    words = pd.DataFrame({"user_id": ["a"] * 20, "timestamp": ["2024-01-01"] * 20,
                          "event": [f"add_to_{w}" for w in "abcdefghijklmnopqrst"]})
    assert from_events(words, top_event_types=3).report.event_group == ""


def test_a_bad_rule_is_refused_naming_the_flag():
    with pytest.raises(ConfigError, match=r"'event_group' parameter \(--event-group\)"):
        from_events(education_log(), event_group="([")


labels = st.lists(st.tuples(st.from_regex(r"[A-Za-z]{1,6}([_ .-][A-Za-z0-9]{1,3}){0,3}",
                                          fullmatch=True), st.integers(1, 50)),
                  min_size=1, max_size=40, unique_by=lambda pair: pair[0])


@settings(max_examples=60, deadline=None)
@given(counts=labels, top=st.integers(1, 10))
def test_grouping_keeps_every_event_and_each_kind_is_a_prefix_of_its_labels(counts, top):
    groups = group_labels(counts, None, top)
    grouped = dict(grouped_counts(counts, groups))
    assert sum(grouped.values()) == sum(n for _, n in counts)
    for label, kind in groups.kinds.items():
        assert label.startswith(kind) and kind and kind != label
        assert re.search(r"[0-9]", label[len(kind):])  # only numbered parts are dropped
    if groups.kinds:  # it earned its place: many labels, at least halved, 2 kinds or more
        assert len(counts) > top and 2 <= len(grouped) <= len(counts) / 2
    # grouping the kinds again changes nothing
    again = group_labels(list(grouped.items()), groups.rule or None, top)
    assert not again.kinds or groups.rule == ""


def test_a_run_keeps_its_grouping_rule_so_a_new_log_is_read_alike(tmp_path):
    from personae.config import EventsConfig, InputConfig, RunConfig
    from personae.data.event_options import read_event_options
    from personae.features.events_sql import NUMBERED_PARTS
    from personae.pipeline import segment

    result = segment(education_log(60), k=2, stability=False,
                     config=RunConfig(input=InputConfig(events=EventsConfig())))
    assert any("99 labels into 14 kinds" in line
               for line in result.info["input"]["report"])
    result.save(tmp_path / "run")
    mapping, options = read_event_options(tmp_path / "run" / "model")
    assert mapping["user"] == "student_id" and options["event_group"] == NUMBERED_PARTS
    # a new log of a few students has too few labels for the rule to fire by itself
    few = education_log(2).head(10)
    assert from_events(few).report.event_group == ""
    kinds = from_events(few, **options).report.event_types
    assert kinds and not any(re.search(r"_[0-9]", kind) for kind in kinds)  # 'Deeds_Es'
