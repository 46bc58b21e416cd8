"""What each feature means, so segments can be described in words.

Three sources, in order of precedence: a user's YAML file (their own columns), the
built-in meanings of the features personae derives, and a plain fallback made from the
column name. A YAML file looks like::

    monthly_spend:
      label: Monthly spend
      unit: EUR
      high: spend a lot every month
      low: spend little
      themes: [value]
      pain_when: low        # optional: which direction signals an unmet need

One-hot columns (``country=France``) are described from their parent column.

Each feature also has a **role** (:func:`feature_roles`): ``drive`` columns make the split
(the behavioural core: value, frequency, recency, engagement, breadth), ``describe`` columns
only describe the personas afterwards. By default a column describes when all it measures
is timing (hour-of-day and weekend shares, peak hour, calendar month, special days; money
per period such as ``MonthlyCharges`` is value, not timing) or the
user's context rather than behaviour (browser, operating system, region, zip code, traffic
source), or when it repeats core columns that are there (``ECHOES``: the event count is
active days x events per active day; the 30-day windows repeat recency and activity);
a column undefined for more than half of the users (the gap between visits where most came
once) describes too, since filled in it would read as average for most of them; everything
else drives. A YAML entry can say ``role: describe`` or ``role: drive``.

**Purchase words follow the data.** The built-in features of an event log keep their
column names (``recency_days``, ``frequency``, ``tenure_days``, ...) whatever the log holds,
so a saved model, a Spark run and a notebook read the same columns; only their *meanings*
change. When the log has no purchases (its provenance's ``purchases`` is empty: no
purchase-like event type, no value, price, quantity or order column), they read as
activity (:data:`ACTIVITY`: "Days since last activity", "Days with activity", ...) and no
purchase word (order, bought, spend, basket, buyer, customer) is said. A user table has no
such signal: its columns speak from their own names (:mod:`personae.features.lexicon`), so
a purchase word appears only when a column's name says so (purchases, orders, items_bought,
spend). :attr:`Semantics.purchases` carries the decision, :attr:`Semantics.noun` what the
people are called.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from personae.errors import DataError
from personae.features.lexicon import column_words, lexicon_entry, unit_of

THEMES: tuple[str, ...] = (
    "engagement",
    "value",
    "loyalty",
    "exploration",
    "social",
    "creation",
    "price sensitivity",
    "risk",
    "timing",
)

Direction = Literal["high", "low"]
Role = Literal["drive", "describe"]


@dataclass(frozen=True)
class FeatureMeaning:
    """The words for one feature: a label, a unit, phrases for high and low values."""

    name: str
    label: str
    unit: str = ""
    high: str = ""
    low: str = ""
    themes: tuple[str, ...] = ()
    pain_when: Direction | None = None
    source: Literal["builtin", "user", "fallback"] = "builtin"
    role: Role | None = None  # None: decided by feature_roles' default rule

    def phrase(self, direction: Direction) -> str:
        return self.high if direction == "high" else self.low


def _m(name: str, label: str, unit: str, high: str, low: str, themes: tuple[str, ...],
       pain_when: Direction | None = None) -> FeatureMeaning:
    return FeatureMeaning(name, label, unit, high, low, themes, pain_when)


BUILTIN: dict[str, FeatureMeaning] = {
    m.name: m
    for m in (
        _m("recency_days", "Days since last purchase", "days",
           "have not bought for a long time", "bought recently", ("loyalty", "risk"), "high"),
        _m("frequency", "Number of orders", "orders",
           "order often", "order rarely", ("loyalty", "engagement"), "low"),
        _m("monetary_total", "Total spend", "currency",
           "spend a lot in total", "spend little in total", ("value",), "low"),
        _m("monetary_mean", "Average order value", "currency",
           "place large orders", "place small orders", ("value", "price sensitivity")),
        _m("tenure_days", "Days since first purchase", "days",
           "have been customers for a long time", "are new customers", ("loyalty",)),
        _m("distinct_items", "Distinct products bought", "products",
           "buy a wide range of products", "stick to a few products", ("exploration",)),
        _m("items_per_order", "Items per order", "items",
           "fill large baskets", "buy few items at a time", ("value", "engagement")),
        _m("return_share", "Share of returned or cancelled lines", "share",
           "often return or cancel", "rarely return", ("risk",), "high"),
        # derived from event logs by personae.features.events
        _m("event_count", "Number of events", "events",
           "do more", "do less", ("engagement",), "low"),
        _m("active_days", "Active days", "days",
           "come back on many days", "come on few days", ("engagement", "loyalty"), "low"),
        _m("events_per_active_day", "Events per active day", "events/day",
           "do more on each active day", "do less on each active day", ("engagement",)),
        _m("days_between_visits", "Days between active days", "days",
           "come back less often", "come back more often", ("loyalty",), "high"),
        _m("session_count", "Number of sessions", "sessions",
           "have many sessions", "have few sessions", ("engagement",), "low"),
        _m("session_minutes_median", "Median session length", "minutes",
           "have longer sessions", "have shorter sessions", ("engagement",)),
        _m("events_per_session", "Events per session", "events",
           "do more per session", "do less per session", ("engagement",)),
        _m("share_event_other", "Share of less common event types", "share",
           "have more less common event types among their events",
           "stick to the common event types", ("exploration",)),
        _m("share_night", "Share of activity at night (0-6h UTC)", "share",
           "are active at night", "are rarely active at night", ("timing",)),
        _m("share_morning", "Share of activity in the morning (6-12h UTC)", "share",
           "are active in the morning", "are rarely active in the morning", ("timing",)),
        _m("share_afternoon", "Share of activity in the afternoon (12-18h UTC)", "share",
           "are active in the afternoon", "are rarely active in the afternoon", ("timing",)),
        _m("share_evening", "Share of activity in the evening (18-24h UTC)", "share",
           "are active in the evening", "are rarely active in the evening", ("timing",)),
        _m("share_weekend", "Share of activity at weekends", "share",
           "are active at weekends", "are active on weekdays", ("timing",)),
        _m("peak_hour", "Hour of peak activity (UTC)", "hour",
           "peak late in the day", "peak early in the day", ("timing",)),
        _m("distinct_categories", "Distinct categories", "categories",
           "range over many categories", "stay in a few categories", ("exploration",)),
        _m("category_entropy", "Spread of activity over categories", "bits",
           "spread evenly over categories", "concentrate on one category", ("exploration",)),
        _m("events_last_30d", "Events in the last 30 days", "events",
           "were busy in the last month", "were quiet in the last month",
           ("engagement", "risk"), "low"),
        _m("events_prev_30d", "Events in the 30 days before the last 30", "events",
           "were busy the month before", "were quiet the month before", ("engagement",)),
        _m("trend_30d", "Trend: last 30 days vs the 30 before", "share (-1..1)",
           "are picking up", "are dropping off", ("engagement", "risk"), "low"),
    )
}

_THEME_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("value", ("spend", "revenue", "amount", "price", "monetary", "value", "purchase",
               "order", "charge", "cost", "fresh", "milk", "grocery", "frozen", "paper",
               "delica")),
    ("engagement", ("session", "visit", "login", "duration", "page", "view", "click",
                    "time", "active", "event", "related", "administrative", "informational")),
    ("social", ("share", "like", "comment", "friend", "follow", "invite", "social")),
    ("creation", ("post", "upload", "create", "review", "write", "publish")),
    ("price sensitivity", ("discount", "coupon", "promo", "sale", "special")),
    ("risk", ("return", "cancel", "churn", "bounce", "exit", "complaint", "abandon")),
    ("loyalty", ("recency", "tenure", "since", "loyal", "member", "returning")),
    ("exploration", ("distinct", "unique", "categor", "explore", "search", "breadth")),
)


# The built-in features of a log without purchases: the same columns, activity words.
ACTIVITY: dict[str, FeatureMeaning] = {
    m.name: m
    for m in (
        _m("recency_days", "Days since last activity", "days",
           "have not been active for a long time", "were active recently", ("loyalty", "risk"),
           "high"),
        _m("frequency", "Days with activity", "days",
           "come back on many days", "come on few days", ("loyalty", "engagement"), "low"),
        _m("tenure_days", "Days since first activity", "days",
           "have been around for a long time", "are new", ("loyalty",)),
        _m("distinct_items", "Distinct items", "items",
           "range over many items", "stick to a few items", ("exploration",)),
        _m("monetary_total", "Total value", "currency",
           "have more value in total", "have less value in total", ("value",), "low"),
        _m("monetary_mean", "Average value", "currency",
           "have a higher average value", "have a lower average value", ("value",)),
        _m("items_per_order", "Items each time", "items",
           "take more items each time", "take fewer items each time", ("value", "engagement")),
        _m("return_share", "Share of returned or cancelled events", "share",
           "often return or cancel", "rarely return or cancel", ("risk",), "high"),
    )
}


def fallback_meaning(name: str) -> FeatureMeaning:
    """A plain description made from the column name alone: its readable words, and a verb
    when the lexicon knows its head word ("visits": "visit often")."""
    words = column_words(name)
    lowered = name.lower()
    themes = tuple(theme for theme, keys in _THEME_KEYWORDS if any(k in lowered for k in keys))
    entry = lexicon_entry(words)
    if entry is not None:
        themes = tuple(dict.fromkeys(entry.themes + themes))
        said = "" if words in entry.high or len(words.split()) == 1 else f" ({words})"
        high, low = entry.high + said, entry.low + said
        pain = entry.pain_when
    else:
        high, low = f"have high {words}", f"have low {words}"
        pain = "high" if "risk" in themes else None
    return FeatureMeaning(
        name=name,
        label=words[:1].upper() + words[1:],
        unit=unit_of(words),
        high=high,
        low=low,
        themes=themes,
        pain_when=pain,  # type: ignore[arg-type]
        source="fallback",
    )


EVENT_SHARE_LABEL = re.compile(r"Share of '(.+)' events")


def event_type_of(meaning: FeatureMeaning) -> str | None:
    """The event type a share-of-events meaning (:func:`event_type_meaning`) is about."""
    found = EVENT_SHARE_LABEL.fullmatch(meaning.label)
    return found.group(1) if found else None


def event_type_meaning(name: str, event_type: str) -> FeatureMeaning:
    """A share-of-events column in words that keep the event type a noun ("more of their
    events are 'Aulaweb'"), never a verb ("they often Aulaweb")."""
    base = fallback_meaning(event_type)
    return FeatureMeaning(
        name=name, label=f"Share of '{event_type}' events", unit="share",
        high=f"have more '{event_type}' among their events",
        low=f"have fewer '{event_type}' among their events",
        themes=base.themes,  # the mix of event types is no more or less engagement
        pain_when="high" if "risk" in base.themes else None, source="user",
    )


@dataclass(frozen=True)
class Semantics:
    """Looks up the meaning of any feature; the user's meanings win over built-in ones."""

    user: Mapping[str, FeatureMeaning] = field(default_factory=dict)
    noun: str = "users"  # what the people are called, plural, lower case
    # False: the built-in features read as activity (ACTIVITY); None: not decided by the
    # caller, so a run decides from its data (inputs.run_semantics) and words read as True
    purchases: bool | None = None

    @property
    def buys(self) -> bool:
        """Whether purchase words are licensed."""
        return self.purchases is not False

    def describe(self, name: str) -> FeatureMeaning:
        if name in self.user:
            return self.user[name]
        if not self.buys and name in ACTIVITY:
            return ACTIVITY[name]
        if name in BUILTIN:
            return BUILTIN[name]
        if "=" in name:
            parent, level = name.split("=", 1)
            base = self.describe(parent)
            return replace(
                base,
                name=name,
                label=f"{base.label}: {level}",
                unit="share",
                high=f"are often {level} ({base.label.lower()})",
                low=f"are rarely {level} ({base.label.lower()})",
                pain_when=None,
            )
        return fallback_meaning(name)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Semantics:
        import yaml

        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError("semantics file not found", source=source) from None
        except yaml.YAMLError as exc:
            raise DataError(f"not valid YAML ({exc.__class__.__name__})", source=source) from None
        if loaded is None:
            return cls()
        if not isinstance(loaded, dict):
            raise DataError("expected a mapping of column name -> meaning", source=source)
        meanings: dict[str, FeatureMeaning] = {}
        allowed = {"label", "unit", "high", "low", "themes", "pain_when", "role"}
        for name, spec in loaded.items():
            if not isinstance(spec, dict):
                raise DataError("expected a mapping with label/unit/high/low/themes",
                                source=source, column=str(name))
            unknown = set(spec) - allowed
            if unknown:
                raise DataError(f"unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}",
                                source=source, column=str(name))
            pain = spec.get("pain_when")
            if pain not in (None, "high", "low"):
                raise DataError(f"pain_when must be 'high' or 'low', got {pain!r}",
                                source=source, column=str(name))
            role = spec.get("role")
            if role not in (None, "drive", "describe"):
                raise DataError(f"role must be 'drive' or 'describe', got {role!r}",
                                source=source, column=str(name))
            themes = spec.get("themes", [])
            if isinstance(themes, str):
                themes = [themes]
            if not isinstance(themes, list) or not all(isinstance(t, str) for t in themes):
                raise DataError(f"themes must be a word or a list of words (e.g. "
                                f"{', '.join(THEMES[:3])}); got {themes!r}",
                                source=source, column=str(name))
            for key in ("label", "unit", "high", "low"):
                if isinstance(spec.get(key), (dict, list)):
                    raise DataError(f"{key} must be text, got {spec[key]!r}",
                                    source=source, column=str(name))
            base = fallback_meaning(str(name))
            meanings[str(name)] = FeatureMeaning(
                name=str(name),
                label=str(spec.get("label", base.label)),
                unit=str(spec.get("unit", "")),
                high=str(spec.get("high", base.high)),
                low=str(spec.get("low", base.low)),
                themes=tuple(str(t) for t in themes) or base.themes,
                pain_when=pain,
                source="user",
                role=role,
            )
        return cls(user=meanings)


# Columns that say when or from where, not what a user does (matched in the lowered name).
CONTEXT_WORDS: tuple[str, ...] = ("browser", "operatingsystem", "operating_system", "region",
                                  "zip", "postcode", "city", "traffictype", "traffic_type",
                                  "device_model", "user_agent")
TIMING_WORDS: tuple[str, ...] = ("hour", "weekend", "weekday", "month", "specialday",
                                 "special_day", "day_of_week", "dayofweek")
# Built-in features that measure again what core columns measure: each describes when the
# columns it repeats are there, so that no dimension is counted over and over (with them
# all driving, activity counts weighed six columns and recency one). Measured in
# benchmarks/bench_usefulness.py: without them the persona level separates the next
# period's purchases better on Online Retail II and CDNOW (see benchmarks/README.md).
ECHOES: dict[str, tuple[str, ...]] = {
    "event_count": ("active_days", "events_per_active_day"),  # their product, exactly
    "session_count": ("active_days",),  # visits again
    "events_last_30d": ("recency_days", "active_days"),  # recent activity, in a window
    "events_prev_30d": ("recency_days", "active_days"),
    "trend_30d": ("recency_days", "active_days"),  # the two windows compared
}


@dataclass(frozen=True)
class FeatureRoles:
    """Which columns drive the split and which only describe it, and why each."""

    drive: tuple[str, ...]
    describe: tuple[str, ...]
    reasons: Mapping[str, str] = field(default_factory=dict)


MOSTLY_MISSING = 0.5  # above this share of users without a value, a column describes


def _default_role(name: str, meaning: FeatureMeaning, columns: set[str]
                  ) -> tuple[Role, str]:
    if meaning.role is not None:
        return meaning.role, f"the semantics say role: {meaning.role}"
    echoed = ECHOES.get(name, ()) if meaning.source == "builtin" else ()
    if echoed and set(echoed) <= columns:
        return "describe", f"repeats {' and '.join(echoed)}, which drive"
    if meaning.source != "fallback" and meaning.themes and set(meaning.themes) == {"timing"}:
        return "describe", "timing only (when, not how much)"
    lowered = re.sub(r"[^a-z_]", "", name.split("=", 1)[0].lower())
    squashed = lowered.replace("_", "")
    if meaning.source == "fallback":
        # money per period (MonthlyCharges) is how much, not when: the timing word only
        # names the period
        if any(w.replace("_", "") in squashed for w in TIMING_WORDS) and \
                "value" not in meaning.themes:
            return "describe", "timing only (when, not how much)"
        if any(w.replace("_", "") in squashed for w in CONTEXT_WORDS):
            return "describe", "context (where from, which device), not behaviour"
    return "drive", "behaviour"


def feature_roles(columns: list[str], semantics: Semantics | None = None, *,
                  drive: list[str] | None = None, describe: list[str] | None = None,
                  missing: Mapping[str, float] | None = None) -> FeatureRoles:
    """Split ``columns`` into drive and describe (the rule is in the module docstring).

    ``drive`` / ``describe`` override the rule for the columns they name (``--features``
    passes its list as ``drive``: the columns a user asks for all drive). Order is kept.
    ``missing``: each column's share of users without a value; a column undefined for
    more than half of them (the gap between visits where most came once) describes: the
    model would fill most of it in with the median, which reads as "average".
    """
    semantics = semantics or Semantics()
    forced_drive, forced_describe = set(drive or []), set(describe or [])
    both = forced_drive & forced_describe
    if both:
        raise DataError(f"columns asked to both drive and describe: {sorted(both)}",
                        source="feature roles")
    unknown = (forced_drive | forced_describe) - set(columns)
    if unknown:
        raise DataError(f"feature roles name columns that are not there: {sorted(unknown)}; "
                        f"columns are {columns[:12]}", source="feature roles")
    roles: dict[str, Role] = {}
    reasons: dict[str, str] = {}
    for name in columns:
        if name in forced_drive:
            roles[name], reasons[name] = "drive", "asked to drive"
        elif name in forced_describe:
            roles[name], reasons[name] = "describe", "asked to describe"
        elif drive is not None:
            roles[name], reasons[name] = "describe", "not among the columns asked to drive"
        # (a column with no value at all is the cleaner's clear error, not a role)
        elif missing is not None and MOSTLY_MISSING < missing.get(name, 0.0) < 1.0:
            roles[name], reasons[name] = "describe", (
                f"missing for {missing[name]:.0%} of users (undefined for them): filled in, "
                "most of them would read as average")
        else:
            roles[name], reasons[name] = _default_role(name, semantics.describe(name),
                                                       set(columns) - forced_describe)
    return FeatureRoles(tuple(c for c in columns if roles[c] == "drive"),
                        tuple(c for c in columns if roles[c] == "describe"), reasons)
