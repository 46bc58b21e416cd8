"""Persona names that are true: unique, varied, in plain words, no claim the data can't back.

The rules (each has a test in ``tests/profile/test_names.py``):

- Names are unique, and no head phrase (the noun at the end, "Repeat Buyers") is shared by
  more than ``MAX_HEAD_SHARE`` personas: a third persona takes its noun from another fact.
- Words are relative ("Higher-Spending", "More Active") unless the absolute numbers back an
  absolute word: "Daily" needs the persona's median gap between active days <= 1.5 days,
  "Weekly" <= 10, "Monthly" <= 45; "One-Time" needs a median of one order. Never "big",
  "premium", "VIP" or "power": nothing in a profile measures them.
- A category value becomes words: ``contract=Month-to-month`` gives "Month-to-month";
  yes/no values read from the column ("Partner: No" gives "No-Partner"), never "No-Leaning".
  A 0/1 column is yes/no too: "Womens" when 90% of the persona have it, "No-Mens" when
  10% or fewer do, else "More-"/"Mostly-"/"Fewer-"; never "High-Womens".
- Only behaviour the features measure: the built-in words below describe personae's own
  features; any other column speaks from its own label ("High-Balance"), never from
  another domain's vocabulary (no "Window Shoppers" without browsing data).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Protocol

import pandas as pd

from personae.cluster._base import NOISE
from personae.features.semantics import Direction, FeatureMeaning

MAX_HEAD_SHARE = 2
FLAG_ALL = 0.9  # a yes/no column names a persona outright when this share has it
CADENCE = (("Daily", 1.5), ("Weekly", 10.0), ("Monthly", 45.0))  # median days between visits
YES = frozenset({"yes", "y", "true", "1", "1.0"})
NO = frozenset({"no", "n", "false", "0", "0.0"})
STOPWORDS = frozenset({"of", "in", "the", "a", "an", "per", "by", "for", "to", "and", "on",
                       "number", "share", "total"})

# Relative words for the built-in features: (adjective, head noun) for high and low values.
FEATURE_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "recency_days": {"high": ("Lapsed", "Lapsed Customers"), "low": ("Recent", "Recent Buyers")},
    "frequency": {"high": ("Frequent", "Repeat Buyers"),
                  "low": ("Infrequent", "Occasional Buyers")},
    "monetary_total": {"high": ("Higher-Spending", "Higher Spenders"),
                       "low": ("Lower-Spending", "Lighter Spenders")},
    "monetary_mean": {"high": ("Larger-Order", "Larger-Order Buyers"),
                      "low": ("Smaller-Order", "Smaller-Order Buyers")},
    "tenure_days": {"high": ("Long-Standing", "Long-Standing Customers"),
                    "low": ("Newer", "Newer Customers")},
    "distinct_items": {"high": ("Wide-Range", "Wide-Range Buyers"),
                       "low": ("Narrow-Range", "Focused Buyers")},
    "items_per_order": {"high": ("Fuller-Basket", "Fuller-Basket Buyers"),
                        "low": ("Few-Item", "Few-Item Buyers")},
    "return_share": {"high": ("Return-Prone", "Frequent Returners"),
                     "low": ("Rarely-Returning", "Keepers")},
    "event_count": {"high": ("More Active", "Active Users"), "low": ("Less Active", "Quiet Users")},
    "active_days": {"high": ("Frequent-Visit", "Regulars"),
                    "low": ("Occasional", "Occasional Visitors")},
    "days_between_visits": {"high": ("Infrequent-Visit", "Occasional Visitors"),
                            "low": ("Frequent-Return", "Regulars")},
    "events_per_active_day": {"high": ("Intensive", "Intensive Users"),
                              "low": ("Light-Touch", "Light Users")},
    "session_count": {"high": ("Many-Session", "Regular Visitors"),
                      "low": ("Few-Session", "Rare Visitors")},
    "session_minutes_median": {"high": ("Long-Session", "Long-Session Users"),
                               "low": ("Short-Session", "Short-Session Users")},
    "events_per_session": {"high": ("Deep-Session", "Deep-Session Users"),
                           "low": ("Quick-Session", "Quick-Session Users")},
    "share_night": {"high": ("Night-Owl", "Night Owls"), "low": ("Daytime", "Day Users")},
    "share_morning": {"high": ("Morning", "Morning Users"),
                      "low": ("Later-Day", "Later-Day Users")},
    "share_afternoon": {"high": ("Afternoon", "Afternoon Users"),
                        "low": ("Non-Afternoon", "Off-Peak Users")},
    "share_evening": {"high": ("Evening", "Evening Users"), "low": ("Daytime", "Day Users")},
    "share_weekend": {"high": ("Weekend", "Weekenders"), "low": ("Weekday", "Weekday Users")},
    "distinct_categories": {"high": ("Many-Category", "Wide-Range Buyers"),
                            "low": ("Few-Category", "Focused Buyers")},
    "events_last_30d": {"high": ("Recently Active", "Recently Active Users"),
                        "low": ("Recently Quiet", "Quiet Users")},
    "events_prev_30d": {"high": ("Busy-Month-Before", "Recently Active Users"),
                        "low": ("Quiet-Month-Before", "Quiet Users")},
    "trend_30d": {"high": ("Rising", "Risers"), "low": ("Fading", "Fading Users")},
    "peak_hour": {"high": ("Late-Peak", "Late-Day Users"),
                  "low": ("Early-Peak", "Early-Day Users")},
    "category_entropy": {"high": ("Spread-Out", "Wide-Range Buyers"),
                         "low": ("Single-Category", "Focused Buyers")},
}
# Words that say the same thing: an adjective never qualifies a head of its own family
# ("Occasional Rare Visitors").
FAMILIES: tuple[frozenset[str], ...] = (
    frozenset({"occasional", "rare", "infrequent", "few-session", "infrequent-visit",
               "one-time", "quiet", "less"}),
    frozenset({"frequent", "regular", "regulars", "many-session", "frequent-visit",
               "frequent-return", "daily", "weekly", "monthly", "repeat", "active", "more"}),
)
CADENCE_FEATURES = frozenset({"active_days", "days_between_visits"})
CUSTOMER_FEATURES = frozenset({"recency_days", "frequency", "monetary_total", "monetary_mean"})


class Fact(Protocol):
    row: pd.Series
    meaning: FeatureMeaning
    direction: Direction


def _median(profiles: pd.DataFrame, segment: int, feature: str) -> float | None:
    rows = profiles[(profiles["segment"] == segment) & (profiles["feature"] == feature)]
    if rows.empty or "median" not in rows.columns or pd.isna(rows.iloc[0]["median"]):
        return None
    return float(rows.iloc[0]["median"])


def _cadence(profiles: pd.DataFrame, segment: int) -> str | None:
    gap = _median(profiles, segment, "days_between_visits")
    if gap is None:
        return None
    for word, limit in CADENCE:
        if gap <= limit:
            return word
    return None


def _level_words(label: str, level: str) -> str:
    text = re.sub(r"^\(?\d+[).:]\s+", "", level.strip())[:32] or "Other"  # "1) $0 - $100"
    lowered = text.lower()
    short = " ".join(label.split()[:3]).title().replace(" ", "-")
    if lowered in YES:
        return short
    if lowered in NO:
        return f"No-{short}"
    if not text[:1].isalpha():  # a number or an amount says nothing without its column
        return f"{label.split(':')[0].strip().capitalize()} {text}"
    return text[:1].upper() + text[1:]


def words(fact: Fact, profiles: pd.DataFrame, noun: str) -> tuple[str, str] | None:
    """(adjective, head noun) for one fact; None when it should not name a persona."""
    row, meaning = fact.row, fact.meaning
    segment = int(row["segment"])
    if row["kind"] == "category":
        if fact.direction != "high":
            return None  # "rarely X" is no name
        parent = meaning.label.split(":", 1)[0]
        level = str(row["feature"]).split("=", 1)[1]
        return _level_words(parent, level), noun
    name = meaning.name
    if name in FEATURE_WORDS and meaning.source == "builtin":
        adjective, head = FEATURE_WORDS[name][fact.direction]
        cadence = _cadence(profiles, segment) if name in CADENCE_FEATURES else None
        if cadence and head == "Regulars":  # the cadence is the news: it heads the name
            adjective, head = cadence, f"{cadence} Regulars"
        if name == "frequency" and fact.direction == "low" and \
                _median(profiles, segment, "frequency") == 1.0:
            adjective, head = "One-Time", "One-Time Buyers"
        if head.endswith(" Users") and noun != "Users":  # one noun for one run's people
            head = f"{head.removesuffix(' Users')} {noun}"
        return adjective, head
    kept = [w for w in meaning.label.split() if w.lower() not in STOPWORDS] or \
        meaning.label.split()
    short = " ".join(kept[:2]).title().replace(" ", "-")
    if row["kind"] == "flag":
        adjective = _flag_words(short, float(row["mean"]), fact.direction)
    else:
        adjective = f"High-{short}" if fact.direction == "high" else f"Low-{short}"
    return adjective, f"{adjective} {noun}"  # its own head: "Users" is no head phrase


def _flag_words(short: str, share: float, direction: str) -> str:
    """A yes/no column by how many of the persona have it: "Womens" only when nearly all
    do, "No-Womens" when nearly none; otherwise the comparison ("More-Womens")."""
    if direction == "high":
        return short if share >= FLAG_ALL else f"Mostly-{short}" if share >= 0.5 \
            else f"More-{short}"
    return f"No-{short}" if share <= 1 - FLAG_ALL else f"Fewer-{short}"


def generic_noun(profiles: pd.DataFrame) -> str:
    features = set(profiles["feature"].astype(str))
    return "Customers" if features & CUSTOMER_FEATURES else "Users"


def _redundant(adjective: str, head: str) -> bool:
    a = adjective.lower()
    stem = a.split("-")[0]
    if (a if stem in ("high", "low") else stem) in head.lower():
        return True
    first = a.split()[0]
    words = {w.lower() for w in head.split()}
    return any((a in fam or first in fam) and words & fam for fam in FAMILIES)


def _candidates(pairs: list[tuple[str, str]], noun: str) -> list[tuple[str, str]]:
    """(name, head) candidates: one adjective + a head, two adjectives + a head, the head."""
    out: list[tuple[str, str]] = []
    heads = list(dict.fromkeys(h for _, h in pairs)) + [noun]
    for h in heads:
        adjs = list(dict.fromkeys(a for a, hh in pairs if (hh != h or hh == noun)
                                  and not _redundant(a, h)))
        own = [a for a, hh in pairs if hh == h and hh != noun]  # a last resort
        out += [(f"{a} {h}", h) for a in adjs]
        out += [(f"{a} {b} {h}", h) for i, a in enumerate(adjs) for b in adjs[i + 1:]]
        out.append((h, h))
        out += [(f"{a} {h}", h) for a in own if not _redundant(a, h)]
    return list(dict.fromkeys(out))


def name(facts: list[Fact], profiles: pd.DataFrame, segment: int,
         taken: list[tuple[str, str]]) -> tuple[str, str]:
    """(name, head) for ``segment``: a name no persona in ``taken`` has, and a head phrase
    at most ``MAX_HEAD_SHARE`` of them share (when the facts allow it)."""
    noun = generic_noun(profiles)
    if segment == NOISE:
        return "Edge Users", "Edge Users"
    named = [(f, w) for f in facts if (w := words(f, profiles, noun)) is not None]
    numbers = [w for f, w in named if f.row["kind"] != "category"]
    categories = [w[0] for f, w in named if f.row["kind"] == "category"]
    if not named:
        candidates = [(f"Typical {noun}", noun), (f"Mainstream {noun}", noun)]
    elif numbers:
        candidates = _candidates(numbers, noun)
        if categories:
            prefix = " ".join(categories[:2])
            candidates = [(f"{prefix} {c}", h) for c, h in candidates[:3]] + candidates
    else:
        sizes = [2, 1, 3] if len(categories) >= 2 else [1]
        candidates = [(" ".join(categories[:i]) + f" {noun}", noun) for i in sizes]
    names = {t.lower() for t, _ in taken}
    heads = Counter(h for _, h in taken)
    for candidate, h in candidates:
        if candidate.lower() not in names and heads[h] < MAX_HEAD_SHARE:
            return candidate, h
    for candidate, h in candidates:  # every head is used twice: keep the name unique at least
        if candidate.lower() not in names:
            return candidate, h
    (base, h), qualifier = candidates[0], 2
    while f"{base} ({qualifier})".lower() in names:
        qualifier += 1
    return f"{base} ({qualifier})", h
