"""Per-segment journeys from an event log: the funnel through the stages present, and paths.

Stages are recognised from event type names (``page_view`` -> view, ``add_to_cart`` ->
cart, ``purchase``/``order`` -> purchase, ...), kept in the order visit -> view -> search
-> cart -> checkout -> purchase -> repeat, and only when the log has them. A user reaches
a stage when they did it at least once *and* reached the stage before (a strict funnel;
time order within a user is not required). "repeat" = two or more purchase events.
When no event type matches a known stage, the funnel is the most common event types in
order of how many users did them. Without an event log there is no journey: the report
says so instead of inventing one.

A log without an event column (a transaction log) gets *lifecycle* journeys instead
(:func:`lifecycle`): each user's orders in time order (distinct order ids, else the days
they came; returns left out), the funnel of the first ``LIFE_STEPS`` of them, the median
gap before each, what each one holds (the category, else the item), and where each
segment stops coming: the order after which most of its users made no other.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("visit", ("visit", "session", "open", "login", "launch", "start", "landing", "home")),
    ("view", ("view", "browse", "page", "detail", "impression", "click")),
    ("search", ("search", "query", "filter")),
    ("cart", ("cart", "basket", "add")),
    ("checkout", ("checkout", "payment", "pay")),
    ("purchase", ("purchase", "buy", "order", "transaction", "invoice", "sale", "paid")),
)
PATH_STEPS = 4
PATH_USERS = 100_000
TOP_PATHS = 5
FALLBACK_STAGES = 5


def stage_of(event_type: str) -> str | None:
    """The funnel stage an event type belongs to, from its name; None when unknown."""
    words = re.sub(r"[^a-z]+", " ", str(event_type).lower())
    for stage, keys in reversed(STAGES):  # purchase before view ("order_view" is a view?)
        if any(k in words for k in keys):
            return stage
    return None


def journeys(events: pd.DataFrame, segments: pd.Series, *, user: str = "user",
             time: str = "time", event: str = "event") -> dict[str, Any]:
    """Funnel and top paths per segment.

    ``events`` has one row per event (columns ``user``, ``time``, ``event``);
    ``segments`` maps user id (index) -> segment. Users without a segment are ignored.
    """
    frame = events[[user, time, event]].rename(columns={user: "user", time: "time",
                                                        event: "event"})
    frame = frame.dropna(subset=["user", "event"])
    if not (pd.api.types.is_numeric_dtype(frame["time"])
            or pd.api.types.is_datetime64_any_dtype(frame["time"])):
        frame["time"] = pd.to_datetime(frame["time"], format="mixed", errors="coerce")
    frame["event"] = frame["event"].astype(str)
    seg_map = pd.Series(segments.to_numpy(), index=segments.index.astype(str))
    frame["segment"] = frame["user"].astype(str).map(seg_map)
    frame = frame.dropna(subset=["segment"])
    frame["segment"] = frame["segment"].astype(int)
    types = frame["event"].unique().tolist()
    stage_map = {t: stage_of(t) for t in types}
    present = [s for s, _ in STAGES if s in set(stage_map.values())]
    if present:
        frame["stage"] = frame["event"].map(stage_map)
        method = "stages recognised from event type names"
    else:
        users_per_type = frame.groupby("event")["user"].nunique().sort_values(
            ascending=False, kind="stable")
        present = users_per_type.index[:FALLBACK_STAGES].tolist()
        frame["stage"] = frame["event"].where(frame["event"].isin(present))
        method = "no known stage names; the most common event types by users"
    did = (frame.dropna(subset=["stage"]).groupby(["user", "stage"]).size()
           .unstack(fill_value=0))
    stages = list(present)
    if "purchase" in did.columns:
        did["repeat"] = (did["purchase"] >= 2).astype(int)
        stages.append("repeat")
    user_segment = frame.groupby("user")["segment"].first()
    did = did.reindex(user_segment.index, fill_value=0)
    result: dict[str, Any] = {"stages": stages, "method": method,
                              "stage_events": {s: sorted(t for t, v in stage_map.items()
                                                         if v == s) for s in stages},
                              "segments": {}}
    users = frame["user"].astype(str).unique()
    path_users = users
    if len(users) > PATH_USERS:  # paths need a full sort: a fixed sample of users is enough
        hashes = pd.util.hash_array(users.astype(object))
        path_users = users[np.argsort(hashes, kind="stable")[:PATH_USERS]]
        result["paths_sample_users"] = PATH_USERS
        frame_for_paths = frame[frame["user"].astype(str).isin(set(path_users))]
    else:
        frame_for_paths = frame
    paths = _paths(frame_for_paths)
    for seg, users in user_segment.groupby(user_segment, sort=True):
        block = did.loc[users.index]
        reached = np.ones(len(block), dtype=bool)
        funnel = []
        previous = len(block)
        for stage in stages:
            reached = reached & (block[stage].to_numpy() > 0)
            count = int(reached.sum())
            conversion = count / previous if previous else 0.0
            funnel.append({"stage": stage, "users": count,
                           "share_of_segment": round(count / len(block), 6),
                           "conversion": round(conversion, 6),
                           "drop_off": round(1 - conversion, 6)})
            previous = count
        seg_paths = paths[paths["segment"] == seg]
        top = seg_paths["path"].value_counts().sort_index().sort_values(
            ascending=False, kind="stable").head(TOP_PATHS)
        path_base = max(len(seg_paths), 1)
        result["segments"][int(seg)] = {
            "users": len(block),
            "funnel": funnel,
            "top_paths": [{"path": p, "users": int(n), "share": round(n / path_base, 6)}
                          for p, n in top.items()],
        }
    log.info("journeys for %d segments over %d stages", len(result["segments"]), len(stages))
    return result


LIFE_STEPS = 5
_ORDINALS = ("1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th")


def lifecycle(rows: pd.DataFrame, segments: pd.Series, mapping: dict[str, str], *,
              noun: str = "order") -> dict[str, Any]:
    """Lifecycle journeys per segment from the rows of a log without event types.

    ``rows``: the log's rows under its own column names, ``mapping`` role -> column (user
    and time; order, item, category, quantity and value when mapped); ``segments``: user
    id (index) -> segment; ``noun``: what a step is called ("order", or "visit" for a
    log without purchases). The result has the shape of :func:`journeys` (stages, funnel,
    top_paths per segment) plus ``lifecycle`` per segment: each step's median gap in days
    from the step before and its most common category or item, and where users stop.
    """
    frame = pd.DataFrame({"user": rows[mapping["user"]].astype(str).to_numpy(),
                          "time": pd.to_datetime(rows[mapping["time"]]).to_numpy()})
    what_role = next((r for r in ("category", "item") if r in mapping), None)
    if what_role is not None:
        frame["what"] = rows[mapping[what_role]].astype("string").to_numpy()
    returned = np.zeros(len(frame), dtype=bool)
    for role in ("quantity", "value"):
        if role in mapping:
            numbers = pd.to_numeric(rows[mapping[role]], errors="coerce").to_numpy()
            returned |= np.nan_to_num(numbers, nan=0.0) < 0
    if "order" in mapping:
        frame["key"] = rows[mapping["order"]].astype("string").to_numpy()
        returned |= frame["key"].str.fullmatch(r"C[0-9].*").fillna(False).to_numpy(bool)
    else:
        frame["key"] = frame["time"].dt.strftime("%Y-%m-%d")
    seg_map = pd.Series(segments.to_numpy(), index=segments.index.astype(str))
    frame["segment"] = frame["user"].map(seg_map)
    frame = frame[~returned].dropna(subset=["segment", "time", "key"])
    frame["segment"] = frame["segment"].astype(int)
    orders = (frame.groupby(["user", "key"], sort=False)
              .agg(time=("time", "min"), segment=("segment", "first")).reset_index()
              .sort_values(["user", "time", "key"], kind="stable"))
    orders["step"] = orders.groupby("user").cumcount() + 1
    orders["gap"] = orders.groupby("user")["time"].diff().dt.total_seconds() / 86400.0
    per_user = orders.groupby("user").agg(n=("step", "max"), last=("time", "max"),
                                          segment=("segment", "first"))
    end = orders["time"].max()
    lines = frame.merge(orders[["user", "key", "step"]], on=["user", "key"]) \
        if what_role is not None else None
    stages = [f"{_ORDINALS[i]} {noun}" for i in range(LIFE_STEPS)]
    method = (f"lifecycle: each user's {noun}s in time order ("
              + ("distinct order ids" if "order" in mapping else "the days they came")
              + "; returns left out); the log has no event types to make a funnel of")
    result: dict[str, Any] = {"kind": "lifecycle", "stages": stages, "method": method,
                              "noun": noun, "what": mapping.get(what_role or "", ""),
                              "stage_events": {}, "segments": {}}
    for seg, users in per_user.groupby("segment", sort=True):
        held = None if lines is None else lines[lines["segment"] == seg]
        result["segments"][int(seg)] = {
            **_life_of(orders[orders["segment"] == seg], users, held, end, stages),
            # item ids are too many for a sequence of them to repeat across users
            "top_paths": _what_paths(held) if what_role == "category" else []}
    log.info("lifecycle journeys for %d segments", len(result["segments"]))
    return result


def _life_of(orders: pd.DataFrame, users: pd.DataFrame, lines: pd.DataFrame | None,
             end: Any, stages: list[str]) -> dict[str, Any]:
    """One segment's funnel of steps, gaps, what each step holds, and where users stop."""
    size = len(users)
    funnel, steps, previous = [], [], size
    for i, stage in enumerate(stages, start=1):
        reached = int((users["n"] >= i).sum())
        conversion = reached / previous if previous else 0.0
        funnel.append({"stage": stage, "users": reached,
                       "share_of_segment": round(reached / size, 6),
                       "conversion": round(conversion, 6), "drop_off": round(1 - conversion, 6)})
        gaps = orders.loc[orders["step"] == i, "gap"].dropna()
        step: dict[str, Any] = {"stage": stage, "users": reached,
                                "gap_days_median": round(float(gaps.median()), 3)
                                if len(gaps) else None}
        if lines is not None:
            held = lines[lines["step"] == i].dropna(subset=["what"])
            if len(held):
                buyers = held.groupby("what")["user"].nunique().sort_values(
                    ascending=False, kind="stable")
                step["top"] = str(buyers.index[0])
                step["top_share"] = round(int(buyers.iloc[0]) / max(reached, 1), 6)
        steps.append(step)
        previous = reached
    last = users["n"].clip(upper=len(stages))
    stopped = last[last < len(stages)].value_counts()
    stops = {"after": None, "share": 0.0}
    if len(stopped):
        after = int(stopped.sort_index().idxmax())
        stops = {"after": stages[after - 1], "share": round(int(stopped.max()) / size, 6)}
    idle = (end - users["last"]).dt.total_seconds() / 86400.0
    return {"users": size, "funnel": funnel,
            "lifecycle": {"steps": steps, "stops_after": stops["after"],
                          "stops_share": stops["share"],
                          "past_last_step_share": round(float((last >= len(stages)).mean()), 6),
                          "days_since_last_median": round(float(idle.median()), 3)}}


def _what_paths(lines: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The most common sequences of what users' first steps hold (each step's most
    common category or item), joined by ' > '."""
    if lines is None or not len(lines):
        return []
    first = lines[lines["step"] <= PATH_STEPS].dropna(subset=["what"])
    main = (first.groupby(["user", "step", "what"]).size().reset_index(name="n")
            .sort_values(["user", "step", "n", "what"], ascending=[True, True, False, True],
                         kind="stable").drop_duplicates(["user", "step"]))
    paths = main.groupby("user")["what"].agg(" > ".join)
    top = paths.value_counts().sort_index().sort_values(ascending=False, kind="stable")
    base = max(len(paths), 1)
    return [{"path": p, "users": int(n), "share": round(n / base, 6)}
            for p, n in top.head(TOP_PATHS).items()]


def _paths(frame: pd.DataFrame) -> pd.DataFrame:
    """Each user's first PATH_STEPS distinct consecutive event types, joined by ' > '."""
    ordered = frame.sort_values(["user", "time", "event"], kind="stable")
    changed = ordered["event"].ne(ordered.groupby("user")["event"].shift())
    steps = ordered[changed]
    steps = steps[steps.groupby("user").cumcount() < PATH_STEPS]
    joined = steps.groupby("user").agg(path=("event", " > ".join),
                                       segment=("segment", "first"))
    return joined.reset_index()


def with_sequences(result: dict[str, Any] | None,
                   profiles: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """Journeys that also speak from the run's sequence profiles: each segment gets its
    typical sequence (medoid), start and end events and over-represented n-grams with lift
    and counts (``sequence``), beside the funnel and paths of the event types. Segments
    without a profile, and runs without sequences, are left as they were."""
    if result is None or not profiles:
        return result
    from personae.profile.sequence_words import MIN_LIFT, stories

    told = stories(profiles)
    segments = {seg: ({**data, "sequence": told[int(seg)]} if int(seg) in told else data)
                for seg, data in result["segments"].items()}
    return {**result, "segments": segments,
            "sequence_method": "typical sequence = the segment's medoid user (tokens of the "
                               "embedding); n-grams with lift >= "
                               f"{MIN_LIFT} (share of the segment's users who have it / share "
                               "of the others); sequence_profiles.json"}
