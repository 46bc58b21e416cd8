"""Archetypes a designer knows (loyal high-value, lapsed regulars, first-timers, explorers,
loyalists, social, curators), each named only when its stated rule holds in the profile.

A clause holds when one of its features is distinguishing for the persona (BH-corrected
significant and |effect| >= 0.2, see :mod:`personae.profile.segments`) in the stated
direction; "one" clauses need the persona's median to be 1. A social or curator archetype
also needs support: the column's subject names sharing (share, like, comment, friend,
follow, invite) or collecting (playlist, collection, favourite, wishlist, bookmark, save),
and when it is a share of events, at least ``MIN_SUPPORT`` of the persona's events are of
that kind. The subject of a share-of-events column is the event type in its label's quotes.
Session clauses (and session words in names) need sessions that last
(:func:`sessions_last`): a transaction log's "sessions" are baskets rung up in one second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from personae.features.lexicon import column_words
from personae.features.semantics import Semantics
from personae.profile.segments import distinguishing

SESSION_FEATURES = frozenset({"session_minutes_median", "events_per_session", "session_count"})
MIN_SESSION_MINUTES = 1.0  # sessions shorter on average are a transaction log's baskets
MIN_SUPPORT = 0.10  # a social/curator event share must reach this share of their events
ACTIVITY = ("frequency", "active_days")
BREADTH = ("distinct_items", "distinct_categories", "category_entropy")
SOCIAL_WORDS = ("share", "like", "comment", "friend", "follow", "invite", "social")
CURATOR_WORDS = ("playlist", "collection", "favourite", "favorite", "wishlist", "bookmark",
                 "save", "library")


@dataclass(frozen=True)
class Archetype:
    words: str  # {noun}: the run's noun
    clauses: tuple[tuple[tuple[str, ...], str], ...]  # (any of these features, direction)
    purchases: bool = False  # needs a log with purchases

    @property
    def rule(self) -> str:
        return " and ".join(f"{' or '.join(features)} {'is 1 (median)' if d == 'one' else d}"
                            for features, d in self.clauses)


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("Loyal High-Value {noun}", ((ACTIVITY, "high"), (("recency_days",), "low"),
                                          (("monetary_total",), "high")), purchases=True),
    Archetype("Lapsed Regulars", ((ACTIVITY, "high"), (("recency_days",), "high"))),
    Archetype("First-Time {noun}", ((ACTIVITY, "one"), (("tenure_days",), "low"))),
    Archetype("Explorer {noun}", ((BREADTH, "high"),
                                  (("session_minutes_median", "events_per_session"), "low"))),
    Archetype("Loyalist {noun}", ((BREADTH, "low"), (ACTIVITY, "high"))),
)


def sessions_last(profiles: pd.DataFrame) -> bool:
    """Whether the log's sessions last long enough to be spoken of as visits: their median
    length averages at least ``MIN_SESSION_MINUTES`` over everyone (a transaction log's
    "sessions" are baskets rung up in the same second)."""
    rows = profiles[profiles["feature"] == "session_minutes_median"]
    return rows.empty or float(rows["overall_mean"].iloc[0]) >= MIN_SESSION_MINUTES


def subject(feature: str, label: str) -> str:
    """What a column is about: the quoted event type of a share of events, else its words."""
    quoted = re.search(r"'([^']+)'", label)
    return (quoted.group(1) if quoted else column_words(feature)).lower()


def _directions(profiles: pd.DataFrame, segment: int) -> dict[str, str]:
    rows = distinguishing(profiles, segment)
    effect = rows["effect_size"] if "effect_size" in rows.columns else rows["z_score"]
    return {str(f): "high" if e > 0 else "low" for f, e in zip(rows["feature"], effect,
                                                               strict=True)}


def _median_is_one(profiles: pd.DataFrame, segment: int, feature: str) -> bool:
    rows = profiles[(profiles["segment"] == segment) & (profiles["feature"] == feature)]
    return not rows.empty and "median" in rows.columns and rows.iloc[0]["median"] == 1.0


def _holds(arch: Archetype, said: dict[str, str], profiles: pd.DataFrame, segment: int
           ) -> dict[str, str] | None:
    used: dict[str, str] = {}
    for features, direction in arch.clauses:
        if direction == "one":
            hit = next((f for f in features if _median_is_one(profiles, segment, f)), None)
        else:
            hit = next((f for f in features if said.get(f) == direction), None)
        if hit is None:
            return None
        used[hit] = direction
    return used


def _supported(profiles: pd.DataFrame, segment: int, semantics: Semantics,
               said: dict[str, str], words: tuple[str, ...], theme: str | None
               ) -> tuple[str, float] | None:
    """The first column about ``words`` (and of ``theme``, when given: "share" in
    ``share_weekend`` is a proportion, not sharing) that is high for the persona, with its
    support."""
    rows = profiles[profiles["segment"] == segment].set_index("feature")
    for feature, direction in said.items():
        if direction != "high" or rows.loc[feature, "kind"] == "category":
            continue
        meaning = semantics.describe(feature)
        if theme is not None and theme not in meaning.themes:
            continue
        if not any(w in subject(feature, meaning.label) for w in words):
            continue
        mean = float(rows.loc[feature, "mean"])
        if meaning.unit == "share" and mean < MIN_SUPPORT:
            continue
        return feature, mean
    return None


def archetype(facts: Any, profiles: pd.DataFrame, segment: int, semantics: Semantics
              ) -> tuple[str, list[dict[str, Any]]] | None:
    """(name, why) of the first archetype whose rule holds for ``segment``, else None."""
    said = _directions(profiles, segment)
    noun = " ".join(w[:1].upper() + w[1:] for w in semantics.noun.split())
    if not sessions_last(profiles):
        said = {f: d for f, d in said.items() if f not in SESSION_FEATURES}
    for arch in ARCHETYPES:
        if arch.purchases and not semantics.buys:
            continue
        used = _holds(arch, said, profiles, segment)
        if used is not None:
            words = arch.words.replace("{noun}", noun)
            return words, [{"words": words, "features": used,
                            "rule": f"archetype: {arch.rule}"}]
    for words, kind, theme in ((SOCIAL_WORDS, "Social", "social"),
                               (CURATOR_WORDS, "Curator", None)):
        found = _supported(profiles, segment, semantics, said, words, theme)
        if found is not None:
            feature, mean = found
            return f"{kind} {noun}", [{
                "words": f"{kind} {noun}", "features": {feature: "high"},
                "rule": f"archetype: {feature} about {'/'.join(words[:3])}... is high "
                        f"(mean {mean:.3g}; a share of events needs >= {MIN_SUPPORT:.0%})"}]
    return None


def licensed(why: dict[str, Any], profiles: pd.DataFrame, segment: int,
             semantics: Semantics) -> bool:
    """Whether an archetype the persona is named by still holds (the truthfulness check)."""
    found = archetype(None, profiles, segment, semantics)
    return found is not None and found[0] == why["words"]
