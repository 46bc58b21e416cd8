"""Benchmark: how personae reads event logs that are not a shop's, on the real sets.

    .venv/bin/python benchmarks/bench_event_domains.py

For each log (../shared/data, and a generated lab-simulator log shaped like the one of
issue 25): the user column and how it was found, the event labels and the kinds they were
grouped into, the log's own numeric columns turned into per-user sums and means, the
users without a gap between visits (one active day: undefined, left missing), and the
journeys the log gets (event paths, or lifecycle steps for a log without event types),
with all users as one segment. Prints one table; nothing is downloaded.

Where a log cannot be read as it is stored, the table says what was derived: OULAD's
submission days count from the module's start (read here as days after 2013-01-01), the
UCI clickstream has a year, month and day but no time (its click order is read as
minutes) and no user column (each session is one user).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.features.events import from_events, steps_of
from personae.profile.journeys import journeys, lifecycle

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def education_log(students: int = 300, seed: int = 0) -> pd.DataFrame:
    """A lab simulator's log (one row per student action, no purchases): activities
    ``<tool>_Es_<exercise>_<step>`` (90 labels) and a few plain ones, idle time, clicks
    and keystrokes per action."""
    rng = np.random.default_rng(seed)
    tools = ["Deeds_Es", "FSM_Es", "Study_Es", "TextEditor_Es", "Diagram_Es", "Properties_Es"]
    labels = [f"{t}_{e}_{s}" for t in tools for e in range(1, 6) for s in range(1, 4)]
    labels += ["Aulaweb", "Blank", "Other", "Deeds", "TextEditor", "Study_Materials"]
    start = pd.Timestamp("2014-10-01 09:00")
    rows = []
    for s in range(students):
        days = rng.choice(42, size=int(rng.integers(1, 7)), replace=False)
        for day in days:
            for k in range(int(rng.integers(5, 40))):
                t = start + pd.Timedelta(days=int(day), minutes=3 * k + int(rng.integers(3)))
                rows.append((int(day) // 7 + 1, f"S{s:03d}", int(day) // 7 + 1,
                             labels[int(rng.integers(len(labels)))], t,
                             t + pd.Timedelta(minutes=2), int(rng.integers(0, 120)),
                             int(rng.integers(0, 20)), int(rng.integers(0, 60))))
    return pd.DataFrame(rows, columns=["session", "student_id", "exercise", "activity",
                                       "start_time", "end_time", "idle_time",
                                       "mouse_click_left", "keystroke"])


def oulad() -> pd.DataFrame:
    frame = pd.read_parquet(DATA / "oulad" / "studentAssessment.parquet")
    frame["submitted_at"] = pd.Timestamp("2013-01-01") + pd.to_timedelta(
        frame.pop("date_submitted"), unit="D")
    frame["score"] = frame["score"].astype("float64")
    return frame


def clickstream() -> pd.DataFrame:
    frame = pd.read_parquet(DATA / "uci_clickstream_eshop2008" / "e_shop_clothing_2008.parquet")
    day = pd.to_datetime(frame[["year", "month", "day"]])
    frame["clicked_at"] = day + pd.to_timedelta(frame["order"], unit="min")
    frame["main_category"] = "category " + frame["page1_main_category"].astype(str)
    return frame.drop(columns=["year", "month", "day", "page1_main_category"])


LOGS: list[tuple[str, Any, dict[str, str], str]] = [
    ("lab simulator (generated)", education_log, {}, "as generated"),
    ("OULAD studentAssessment", oulad, {}, "days from module start read as dates"),
    ("UCI clickstream 2008", clickstream, {"user": "session_id", "time": "clicked_at",
                                           "event": "main_category"},
     "session = user; click order as minutes"),
    ("REES46 2019-Oct head", DATA / "rees46_2019oct_head" / "2019-Oct_head17434.parquet", {},
     "as stored"),
    ("CDNOW master", DATA / "cdnow" / "cdnow_master.parquet", {}, "as stored"),
    ("Online Retail II 2009-10", DATA / "online_retail_ii" / "online_retail_ii_2009_2010.parquet",
     {}, "as stored"),
]


def journey_summary(features: Any) -> str:
    mapping = dict(features.report.mapping)
    rows = features.rows
    ids = features.frame["user_id"].astype(str)
    one = pd.Series(np.zeros(len(ids), dtype=int), index=ids.to_numpy())
    steps = steps_of(rows, mapping)
    if steps is None:
        noun = "order" if features.report.purchases else "visit"
        life = lifecycle(rows, one, mapping, noun=noun)["segments"][0]
        second = life["funnel"][1]
        gap = life["lifecycle"]["steps"][1]["gap_days_median"]
        return (f"lifecycle: {second['share_of_segment']:.0%} reach the {second['stage']} "
                f"(median gap {gap:.0f} d); {life['lifecycle']['stops_share']:.0%} stop "
                f"after the {life['lifecycle']['stops_after']}")
    paths = journeys(steps, one)
    top = paths["segments"][0]["top_paths"][0]
    return f"paths ({paths['method'][:24]}...): top '{top['path'][:60]}' {top['share']:.0%}"


def main() -> None:
    header = ("| log | read | user column | labels -> kinds | own numbers (sum, mean) | users "
              "| one active day (gap missing) | journeys | seconds |")
    print(header)
    print("|" + "---|" * 9)
    for name, source, mapping, how in LOGS:
        data = source() if callable(source) else str(source)
        started = time.perf_counter()
        features = from_events(data, **mapping, keep_rows=True)
        seconds = time.perf_counter() - started
        report = features.report
        grouped = next((line for line in report.lines() if line.startswith("event labels")),
                       "")
        labels = (grouped.split(" by ")[0].removeprefix("event labels grouped: ")
                  if grouped else f"{len(report.event_types)} types, not grouped"
                  if "event" in report.mapping else "no event column")
        extras = sorted(c.removesuffix("_mean") for c in features.frame.columns
                        if c.endswith("_mean") and c != "monetary_mean")
        one_day = features.frame["active_days"] == 1  # the column is left out when all are
        gap = features.frame.get("days_between_visits",
                                 pd.Series(np.nan, index=features.frame.index))
        assert gap.isna().equals(one_day)
        print(f"| {name} | {how} | {report.mapping['user']} | {labels} | "
              f"{', '.join(extras) or '-'} | {report.users:,} | "
              f"{int(gap.isna().sum()):,} ({gap.isna().mean():.0%}) | "
              f"{journey_summary(features)} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
