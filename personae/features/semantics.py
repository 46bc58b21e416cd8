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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from personae.errors import DataError

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
    )
}

_THEME_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("value", ("spend", "revenue", "amount", "price", "monetary", "value", "purchase",
               "order", "fresh", "milk", "grocery", "frozen", "paper", "delica")),
    ("engagement", ("session", "visit", "login", "duration", "page", "view", "click",
                    "time", "active", "event", "related", "administrative", "informational")),
    ("social", ("share", "like", "comment", "friend", "follow", "invite", "social")),
    ("creation", ("post", "upload", "create", "review", "write", "publish")),
    ("price sensitivity", ("discount", "coupon", "promo", "sale", "special")),
    ("risk", ("return", "cancel", "churn", "bounce", "exit", "complaint", "abandon")),
    ("loyalty", ("recency", "tenure", "since", "loyal", "member", "returning")),
    ("exploration", ("distinct", "unique", "categor", "explore", "search", "breadth")),
)


def _words(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    return re.sub(r"[_\-.]+", " ", spaced).strip()


def fallback_meaning(name: str) -> FeatureMeaning:
    """A plain description made from the column name alone."""
    words = _words(name)
    lowered = name.lower()
    themes = tuple(theme for theme, keys in _THEME_KEYWORDS if any(k in lowered for k in keys))
    pain: Direction | None = "high" if "risk" in themes else None
    return FeatureMeaning(
        name=name,
        label=words[:1].upper() + words[1:],
        high=f"have high {words.lower()}",
        low=f"have low {words.lower()}",
        themes=themes,
        pain_when=pain,
        source="fallback",
    )


@dataclass(frozen=True)
class Semantics:
    """Looks up the meaning of any feature; the user's meanings win over built-in ones."""

    user: Mapping[str, FeatureMeaning] = field(default_factory=dict)

    def describe(self, name: str) -> FeatureMeaning:
        if name in self.user:
            return self.user[name]
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
        allowed = {"label", "unit", "high", "low", "themes", "pain_when"}
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
            themes = spec.get("themes", [])
            if isinstance(themes, str):
                themes = [themes]
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
            )
        return cls(user=meanings)
