"""Persona names that are true: unique, varied, in plain words, no claim the data can't back.

The rules (each has a test in ``tests/profile/test_names.py``):

- A name is at most two ideas and the noun ("Frequent Night-Owl Students", "Lapsed
  Regulars"); each idea is one distinguishing fact, recorded in the persona's ``why_name``
  with the feature and direction that license it. No concept twice: two ideas never share a
  content word ("Low-Informational-Duration High-Administrative-Duration") nor a family of
  words ("Occasional Rare Visitors"), and equal category values said by several columns
  ("No-Internet-Service" from six telco columns) are one idea.
- An archetype (:mod:`personae.profile.archetypes`) names the persona when its rule holds.
- The noun is the people's own (:func:`people_noun`: ``report.noun``, else the id column,
  else "Users"); purchase heads ("Repeat Buyers", "Higher Spenders") only when the data has
  purchases (:attr:`Semantics.purchases`).
- Names are unique, and no head phrase (the last two words) is shared by more than
  ``MAX_HEAD_SHARE`` personas: a third persona takes its words from another fact.
- Words are relative ("Higher-Spending", "More-Active") unless the absolute numbers back an
  absolute word: "Daily" needs the persona's median gap between active days <= 1.5 days,
  "Weekly" <= 10, "Monthly" <= 45, and a median of at least two active days (a one-visit
  user has no gap); "One-Time" needs a median of one order. Never "big",
  "premium", "VIP" or "power": nothing in a profile measures them.
- A category value becomes words, title case joined by hyphens (``contract=Month-to-month``
  gives "Month-to-Month"); yes/no values read from the column ("Partner: No" gives
  "No-Partner"). A 0/1 column is yes/no too: "Womens" when 90% of the persona have it,
  "No-Womens" when 10% or fewer do, else "More-"/"Mostly-" (having it less often names
  nothing); never "High-Womens".
- Only behaviour the features measure: the built-in words below describe personae's own
  features; any other column speaks from its own readable words ("High-Balance"), never from
  another domain's vocabulary (no "Window Shoppers" without browsing data).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from personae.cluster._base import NOISE
from personae.features.lexicon import column_words
from personae.features.semantics import Direction, FeatureMeaning, Semantics, event_type_of
from personae.features.table import PERSON_NOUNS
from personae.profile.archetypes import SESSION_FEATURES, archetype, sessions_last

MAX_HEAD_SHARE = 2
MAX_IDEAS = 2
FLAG_ALL = 0.9  # a yes/no column names a persona outright when this share has it
CADENCE = (("Daily", 1.5), ("Weekly", 10.0), ("Monthly", 45.0))  # median days between visits
YES = frozenset({"yes", "y", "true", "1", "1.0"})
NO = frozenset({"no", "n", "false", "0", "0.0"})
STOPWORDS = frozenset({"of", "in", "the", "a", "an", "per", "by", "for", "to", "and", "on",
                       "number", "share", "total", "at", "with"})
QUALIFIERS = frozenset({"high", "low", "more", "fewer", "less", "mostly", "no", "higher",
                        "lower", "heavy", "light"})
SMALL_WORDS = frozenset({"to", "of", "and", "in", "on", "at", "per", "a", "the", "or"})

# (adjective, head) for high and low values of the built-in features; {noun} is the run's
FEATURE_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "recency_days": {"high": ("Lapsed", "Lapsed {noun}"),
                     "low": ("Recent", "Recently-Active {noun}")},
    "frequency": {"high": ("Frequent", "Regulars"), "low": ("Infrequent", "Occasional {noun}")},
    "monetary_total": {"high": ("Higher-Spending", "Higher Spenders"),
                       "low": ("Lower-Spending", "Lighter Spenders")},
    "monetary_mean": {"high": ("Larger-Order", "Larger-Order Buyers"),
                      "low": ("Smaller-Order", "Smaller-Order Buyers")},
    "tenure_days": {"high": ("Long-Standing", "Long-Standing {noun}"),
                    "low": ("Newer", "Newer {noun}")},
    "distinct_items": {"high": ("Wide-Range", "Wide-Range {noun}"),
                       "low": ("Narrow-Range", "Focused {noun}")},
    "items_per_order": {"high": ("Fuller-Basket", "Fuller-Basket Buyers"),
                        "low": ("Few-Item", "Few-Item Buyers")},
    "return_share": {"high": ("Return-Prone", "Frequent Returners"),
                     "low": ("Rarely-Returning", "Keepers")},
    "event_count": {"high": ("More-Active", "Active {noun}"),
                    "low": ("Less-Active", "Quiet {noun}")},
    "active_days": {"high": ("Frequent-Visit", "Regulars"),
                    "low": ("Occasional", "Occasional {noun}")},
    "days_between_visits": {"high": ("Infrequent-Visit", "Occasional {noun}"),
                            "low": ("Frequent-Return", "Regulars")},
    "events_per_active_day": {"high": ("Intensive", "Intensive {noun}"),
                              "low": ("Light-Touch", "Light {noun}")},
    "session_count": {"high": ("Many-Session", "Regular {noun}"),
                      "low": ("Few-Session", "Rare {noun}")},
    "session_minutes_median": {"high": ("Longer-Session", "Longer-Session {noun}"),
                               "low": ("Shorter-Session", "Shorter-Session {noun}")},
    "events_per_session": {"high": ("Busier-Session", "Busier-Session {noun}"),
                           "low": ("Quicker-Session", "Quicker-Session {noun}")},
    "share_night": {"high": ("Night-Owl", "Night Owls"), "low": ("Daytime", "Daytime {noun}")},
    "share_morning": {"high": ("Morning", "Morning {noun}"),
                      "low": ("Later-Day", "Later-Day {noun}")},
    "share_afternoon": {"high": ("Afternoon", "Afternoon {noun}"),
                        "low": ("Non-Afternoon", "Off-Peak {noun}")},
    "share_evening": {"high": ("Evening", "Evening {noun}"), "low": ("Daytime", "Daytime {noun}")},
    "share_weekend": {"high": ("Weekend", "Weekenders"), "low": ("Weekday", "Weekday {noun}")},
    "distinct_categories": {"high": ("Many-Category", "Wide-Range {noun}"),
                            "low": ("Few-Category", "Focused {noun}")},
    "events_last_30d": {"high": ("Recently-Busy", "Recently-Busy {noun}"),
                        "low": ("Recently-Quiet", "Quiet {noun}")},
    "events_prev_30d": {"high": ("Busy-Month-Before", "Recently-Busy {noun}"),
                        "low": ("Quiet-Month-Before", "Quiet {noun}")},
    "trend_30d": {"high": ("Rising", "Risers"), "low": ("Fading", "Fading {noun}")},
    "peak_hour": {"high": ("Late-Peak", "Late-Day {noun}"),
                  "low": ("Early-Peak", "Early-Day {noun}")},
    "category_entropy": {"high": ("Spread-Out", "Wide-Range {noun}"),
                         "low": ("Single-Category", "Focused {noun}")},
}
# heads that say someone buys: only when the data has purchases (else the plain noun)
PURCHASE_HEADS: dict[str, dict[str, str]] = {
    "recency_days": {"low": "Recent Buyers"},
    "frequency": {"high": "Repeat Buyers", "low": "Occasional Buyers"},
    "distinct_items": {"high": "Wide-Range Buyers", "low": "Focused Buyers"},
    "distinct_categories": {"high": "Wide-Range Buyers", "low": "Focused Buyers"},
    "category_entropy": {"high": "Wide-Range Buyers", "low": "Focused Buyers"},
}
# adjectives that say someone buys, and what a run without purchases says instead
PLAIN_ADJECTIVES: dict[str, str] = {"Higher-Spending": "Higher-Value",
                                    "Lower-Spending": "Lower-Value",
                                    "Larger-Order": "Higher-Average-Value",
                                    "Smaller-Order": "Lower-Average-Value",
                                    "Fuller-Basket": "More-Items", "Few-Item": "Fewer-Items"}
# Words that say the same thing: two of a family are one concept ("Occasional Rare Visitors").
FAMILIES: tuple[frozenset[str], ...] = (
    frozenset({"occasional", "rare", "infrequent", "few-session", "infrequent-visit",
               "one-time", "quiet", "less-active"}),
    frozenset({"frequent", "regular", "regulars", "many-session", "frequent-visit",
               "frequent-return", "daily", "weekly", "monthly", "repeat", "active",
               "more-active"}),
    frozenset({"wide-range", "many-category", "spread-out", "narrow-range", "few-category",
               "single-category", "focused"}),
)
CADENCE_FEATURES = frozenset({"active_days", "days_between_visits"})
# the id column's last word -> the people's noun (the nouns are the id detection's own)
_PLURAL = {"person": "people", "account": "account holders"}
PEOPLE: dict[str, str] = {
    **{w: _PLURAL.get(w, w + "s") for w in PERSON_NOUNS},
    **{w + "s": w + "s" for w in PERSON_NOUNS if w not in _PLURAL},
    **{w + "id": _PLURAL.get(w, w + "s") for w in PERSON_NOUNS},
    "people": "people",
}
ID_WORDS = frozenset({"id", "ids", "key", "code", "no", "number", "uuid", "guid", "hash"})


class Fact(Protocol):
    row: pd.Series
    meaning: FeatureMeaning
    direction: Direction


@dataclass(frozen=True)
class Idea:
    """One thing a name says, and the fact that licenses it."""

    adjective: str
    head: str  # the same idea as a head phrase ("Regulars"), or "" when it has none
    feature: str
    direction: str

    def why(self, words: str, rule: str = "") -> dict[str, Any]:
        return {"words": words, "features": {self.feature: self.direction},
                "rule": rule or f"{self.feature} is {self.direction}er than everyone else's "
                                f"(a distinguishing fact)"}


def people_noun(column: str | None, given: str | None = None) -> str:
    """What to call the people: ``given`` (report.noun), else the id column's own word
    (``student_id`` -> students, ``PlayerID`` -> players), else users."""
    if given:
        return given.strip().lower()
    if not column:
        return "users"
    words = [w for w in column_words(column).split() if w not in ID_WORDS]
    squashed = re.sub(r"[^a-z]", "", column.lower())
    for word in [*reversed(words), squashed, squashed.removesuffix("id")]:
        if word in PEOPLE:
            return PEOPLE[word]
    return "users"


def title_noun(noun: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in noun.split())


def median_of(profiles: pd.DataFrame, segment: int, feature: str) -> float | None:
    rows = profiles[(profiles["segment"] == segment) & (profiles["feature"] == feature)]
    if rows.empty or "median" not in rows.columns or pd.isna(rows.iloc[0]["median"]):
        return None
    return float(rows.iloc[0]["median"])


def cadence(profiles: pd.DataFrame, segment: int) -> str | None:
    """Daily / Weekly / Monthly when the persona's median gap between active days backs it."""
    gap = median_of(profiles, segment, "days_between_visits")
    visits = median_of(profiles, segment, "active_days")
    if gap is None or (visits is not None and visits < 2):
        return None  # most of them came once: their gap is undefined, no cadence to name
    for word, limit in CADENCE:
        if gap <= limit:
            return word
    return None


def value_words(value: str) -> str:
    """A category value as a word of a name: "Month-to-month" -> "Month-to-Month",
    "No internet service" -> "No-Internet-Service"."""
    parts = [p for p in re.split(r"[\s_\-,;/|]+", value.strip()) if p]
    return "-".join(p if p.lower() in SMALL_WORDS and i else p[:1].upper() + p[1:]
                    for i, p in enumerate(parts))


def _level_words(label: str, level: str) -> str:
    text = re.sub(r"^\(?\d+[).:]\s+", "", level.strip())[:32] or "Other"  # "1) $0 - $100"
    lowered = text.lower()
    short = value_words(" ".join(label.split()[:3]).title())
    if lowered in YES:
        return short
    if lowered in NO:
        return f"No-{short}"
    if not text[:1].isalpha():  # a number or an amount says nothing without its column
        amount = re.sub(r"\s*-\s*", "-", text)  # "$0 - $100" -> "$0-$100"
        return f"{label.split()[0].capitalize()} {amount}"
    return value_words(text)


def idea(fact: Fact, profiles: pd.DataFrame, semantics: Semantics) -> Idea | None:
    """The idea one fact gives a name; None when it should not name a persona."""
    row, meaning, direction = fact.row, fact.meaning, fact.direction
    segment, feature = int(row["segment"]), str(row["feature"])
    noun = title_noun(semantics.noun)
    if row["kind"] == "category":
        if direction != "high":
            return None  # "rarely X" is no name
        parent = meaning.label.split(":", 1)[0]
        return Idea(_level_words(parent, feature.split("=", 1)[1]), "", feature, direction)
    name = meaning.name
    if name in SESSION_FEATURES and not sessions_last(profiles):
        return None
    if name in FEATURE_WORDS and meaning.source == "builtin":
        adjective, head = FEATURE_WORDS[name][direction]
        if semantics.buys:
            head = PURCHASE_HEADS.get(name, {}).get(direction, head)
        elif "Buyers" in head or "Spenders" in head:
            adjective, head = PLAIN_ADJECTIVES.get(adjective, adjective), ""
        said_cadence = cadence(profiles, segment) if name in CADENCE_FEATURES else None
        if said_cadence and head == "Regulars":  # the cadence is the news: it heads the name
            adjective, head = said_cadence, f"{said_cadence} Regulars"
        if name == "frequency" and direction == "low" and \
                median_of(profiles, segment, "frequency") == 1.0:
            adjective = "One-Time"
            head = "One-Time Buyers" if semantics.buys else ""
        return Idea(adjective, head.replace("{noun}", noun), feature, direction)
    event_type = event_type_of(meaning)
    if event_type is not None:  # the type is a noun: "Aulaweb-Heavy", never "High-'Aulaweb'"
        if direction != "high":
            return None  # like a category: "rarely X" is no name
        return Idea(f"{value_words(event_type[:24])}-Heavy", "", feature, direction)
    kept = [w for w in meaning.label.split() if w.lower() not in STOPWORDS] or \
        meaning.label.split()
    short = value_words(" ".join(kept[:2]).title())
    if row["kind"] == "flag":
        adjective = _flag_words(short, float(row["mean"]), direction)
        if adjective is None:
            return None
    else:
        adjective = f"High-{short}" if direction == "high" else f"Low-{short}"
    return Idea(adjective, "", feature, direction)


def _flag_words(short: str, share: float, direction: str) -> str | None:
    """A yes/no column by how many of the persona have it: "Womens" only when nearly all
    do, "No-Womens" when nearly none; otherwise the comparison ("More-Womens"). Having it
    less often than others is no name ("Fewer-Mens Womens" read as a query), as "rarely X"
    of a category is none."""
    if direction == "high":
        return short if share >= FLAG_ALL else f"Mostly-{short}" if share >= 0.5 \
            else f"More-{short}"
    return f"No-{short}" if share <= 1 - FLAG_ALL else None


def concept_words(text: str) -> set[str]:
    """The content words of a name part: what two ideas may not share."""
    words = {w for w in re.split(r"[\s\-]+", text.lower()) if w}
    return {w.rstrip("s") for w in words - QUALIFIERS - STOPWORDS if len(w) > 2}


def _family(text: str) -> set[int]:
    words = {text.lower(), *text.lower().split()}
    return {i for i, fam in enumerate(FAMILIES) if words & fam}


def same_concept(a: str, b: str, noun: str = "") -> bool:
    """Whether two parts of a name say one thing (a shared content word or word family)."""
    nouns = concept_words(noun)
    return bool((concept_words(a) & concept_words(b)) - nouns) or bool(_family(a) & _family(b))


def _distinct(ideas: list[Idea]) -> list[Idea]:
    """One idea per concept: equal words from several columns are said once."""
    out: list[Idea] = []
    for i in ideas:
        if not any(i.adjective.lower() == o.adjective.lower() for o in out):
            out.append(i)
    return out


def _candidates(ideas: list[Idea], noun: str) -> list[tuple[str, list[tuple[Idea, str]]]]:
    """(name, ideas) candidates of at most two ideas, by head: an adjective + another idea's
    head, then the head alone; then two adjectives + the noun (the stronger next to it), an
    adjective + the noun."""
    out: list[tuple[str, list[tuple[Idea, str]]]] = []
    for h in (i for i in ideas if i.head):
        out += [(f"{a.adjective} {h.head}", [(a, a.adjective), (h, h.head)]) for a in ideas
                if a is not h and not same_concept(a.adjective, h.head, noun)]
        out.append((h.head, [(h, h.head)]))
    pairs = [(a, b) for n, a in enumerate(ideas) for b in ideas[n + 1:]
             if not same_concept(a.adjective, b.adjective, noun)]
    out += [(f"{b.adjective} {a.adjective} {noun}", [(a, a.adjective), (b, b.adjective)])
            for a, b in pairs]
    out += [(f"{a.adjective} {b.adjective} {noun}", [(a, a.adjective), (b, b.adjective)])
            for a, b in pairs]
    out += [(f"{a.adjective} {noun}", [(a, a.adjective)]) for a in ideas]
    return list({text: said for text, said in out}.items())


def head_of(name: str) -> str:
    return " ".join(name.split()[-2:])


def name(facts: list[Fact], profiles: pd.DataFrame, segment: int,
         taken: list[str], semantics: Semantics | None = None
         ) -> tuple[str, list[dict[str, Any]]]:
    """(name, why) for ``segment``: a name no persona in ``taken`` has, whose head phrase
    at most ``MAX_HEAD_SHARE`` of them share (when the facts allow it); ``why`` lists each
    idea of the name with the fact (and rule) that licenses it."""
    semantics = semantics or Semantics()
    noun = title_noun(semantics.noun)
    if segment == NOISE:
        return f"Edge {noun}", []
    ideas = _distinct([i for f in facts if (i := idea(f, profiles, semantics)) is not None])
    candidates: list[tuple[str, list[dict[str, Any]]]] = []
    found = archetype(facts, profiles, segment, semantics)
    if found is not None:
        candidates.append(found)
    candidates += [(text, [i.why(words, _rule(words, profiles, segment)) for i, words in said])
                   for text, said in _candidates(ideas, noun)]
    if not candidates:
        candidates = [(f"Typical {noun}", []), (f"Mainstream {noun}", [])]
    names = {t.lower() for t in taken}
    heads = Counter(head_of(t) for t in taken)
    for candidate, why in candidates:
        if candidate.lower() not in names and heads[head_of(candidate)] < MAX_HEAD_SHARE:
            return candidate, why
    for candidate, why in candidates:  # every head is used twice: keep the name unique
        if candidate.lower() not in names:
            return candidate, why
    (base, why), qualifier = candidates[0], 2
    while f"{base} ({qualifier})".lower() in names:
        qualifier += 1
    return f"{base} ({qualifier})", why


def _rule(words: str, profiles: pd.DataFrame, segment: int) -> str:
    """The absolute rule behind an absolute word (a cadence, one-time), else "" (relative)."""
    first = words.split()[0]
    if first in dict(CADENCE):
        gap = median_of(profiles, segment, "days_between_visits")
        return (f"{first}: median days between active days {gap:g} <= "
                f"{dict(CADENCE)[first]:g}")
    if first == "One-Time":
        return "One-Time: median frequency is 1"
    return ""
