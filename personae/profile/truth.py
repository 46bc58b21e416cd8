"""The truthfulness check: every persona's words against the profile numbers they come from.

:func:`check_personas` reads a personas document (``personas.json``), the profile table
(``segment_profiles.csv``) and the run's :class:`Semantics`, and returns one finding per
broken rule, each naming the persona and what is wrong. The rules:

- ``purchase words``: without purchases, no order, bought, buy, spend, basket, buyer,
  customer or purchase (the run's own noun and quoted event types, the data's words, aside);
- ``cadence``: Daily / Weekly / Monthly need the median gap between active days (1.5, 10,
  45 days), One-Time a median frequency of 1;
- ``session words``: a name speaks of sessions only when they last (archetypes.sessions_last);
- ``archetype``: an archetype name needs its rule to hold;
- ``unlicensed idea``: each idea of a name needs a distinguishing fact in its direction, and
  a name (not Typical, Edge) needs ideas; ``more than two ideas``;
- ``concept twice``: two ideas of a name share a content word or a word family;
- ``raw value``: a category value with spaces or underscores appears raw in a name;
- ``direction``: a stated fact's effect and its printed means point different ways;
- ``said twice``: a fact is stated twice on one card;
- ``no license``: a need, pain point, opportunity or empathy line that names no fact;
- ``coverage``: a fact about a feature some users lack that does not say how many have it.

Target: no finding (``benchmarks/bench_persona_words.py`` runs it on every real data set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personae.features.semantics import Semantics
from personae.profile import names as naming
from personae.profile.archetypes import MIN_SESSION_MINUTES, licensed, sessions_last

PURCHASE_WORDS = re.compile(r"\b(orders?|ordered|ordering|bought|buy(s|ing|ers?)?|"
                            r"spend(s|ing|ers?)?|spent|baskets?|customers?|purchas\w*)\b",
                            re.IGNORECASE)
QUOTED = re.compile(r"'[^']*'")


@dataclass(frozen=True)
class Finding:
    segment: int
    persona: str
    rule: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"segment": self.segment, "persona": self.persona, "rule": self.rule,
                "text": self.text}


def _texts(persona: dict[str, Any]) -> list[str]:
    empathy = persona.get("empathy_map", {})
    return [persona["name"], persona.get("narrative", ""),
            *(f["text"] for f in persona.get("data_says", [])),
            *(c["text"] for c in persona.get("characteristics", [])),
            *(p["text"] for p in persona.get("pain_points", [])),
            *persona.get("needs", []), *persona.get("opportunities", []),
            *(item for part in ("says", "thinks", "feels")
              for item in empathy.get(part, {}).get("items", []))]


def _purchase_words(persona: dict[str, Any], noun: str) -> list[str]:
    found = []
    for text in _texts(persona):
        plain = QUOTED.sub("", text)
        for word in noun.split():
            plain = re.sub(rf"\b{re.escape(word)}\b", "", plain, flags=re.IGNORECASE)
        found += [m.group(0) for m in PURCHASE_WORDS.finditer(plain)]
    return list(dict.fromkeys(found))


def _directions(profiles: pd.DataFrame, segment: int) -> dict[str, str]:
    from personae.profile.segments import distinguishing

    rows = distinguishing(profiles, segment)
    effect = rows["effect_size"] if "effect_size" in rows.columns else rows["z_score"]
    return {str(f): "high" if e > 0 else "low" for f, e in zip(rows["feature"], effect,
                                                               strict=True)}


def _name_findings(persona: dict[str, Any], profiles: pd.DataFrame,
                   semantics: Semantics) -> list[tuple[str, str]]:
    name, segment = persona["name"], int(persona["segment"])
    why = persona.get("why_name") or []
    noun = naming.title_noun(semantics.noun)
    out: list[tuple[str, str]] = []
    words = name.split()
    for word, limit in naming.CADENCE:
        if word in words:
            gap = naming.median_of(profiles, segment, "days_between_visits")
            visits = naming.median_of(profiles, segment, "active_days")
            if gap is None or gap > limit or (visits is not None and visits < 2):
                out.append(("cadence", f"'{word}' with a median gap of {gap} days over a "
                                       f"median of {visits} active days"))
    if "session" in name.lower() and not sessions_last(profiles):
        out.append(("session words", "sessions that last under "
                                     f"{MIN_SESSION_MINUTES:g} minute on average"))
    if "One-Time" in words and naming.median_of(profiles, segment, "frequency") != 1.0:
        out.append(("cadence", "'One-Time' without a median frequency of 1"))
    if not why and not persona.get("edge_users") and \
            not name.startswith(("Typical", "Mainstream", "Segment")) and persona["data_says"]:
        out.append(("unlicensed idea", "a name with no fact behind it"))
    if len(why) > naming.MAX_IDEAS:
        out.append(("more than two ideas", f"{len(why)} ideas"))
    said = _directions(profiles, segment)
    for idea in why:
        if idea["rule"].startswith("archetype:"):
            if not licensed(idea, profiles, segment, semantics):
                out.append(("archetype", f"'{idea['words']}' without its rule: {idea['rule']}"))
            continue
        for feature, direction in idea["features"].items():
            if said.get(feature) != direction:
                out.append(("unlicensed idea", f"'{idea['words']}': {feature} is not "
                                               f"distinguishingly {direction}"))
        if idea["words"] not in name:
            out.append(("unlicensed idea", f"'{idea['words']}' is not in the name"))
    for n, a in enumerate(why):
        for b in why[n + 1:]:
            if naming.same_concept(a["words"], b["words"], noun):
                out.append(("concept twice", f"'{a['words']}' and '{b['words']}'"))
    levels = {str(f).split("=", 1)[1] for f in profiles.loc[profiles["kind"] == "category",
                                                          "feature"]}
    if re.search(r"['\"_=,;]", name):
        out.append(("raw value", "quotes, underscores, commas or '=' in the name"))
    for level in levels:
        if re.search(r"[\s_]", level.strip()) and level.strip() in name:
            out.append(("raw value", f"'{level.strip()}'"))
    return out


def _card_findings(persona: dict[str, Any], users: pd.DataFrame | None
                   ) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[Any] = set()
    for fact in persona.get("data_says", []):
        source, values = fact["source"], fact["source"].get("values", {})
        feature = source["feature"]
        figures = (feature,) if "lift" in values else tuple(
            values.get(k) for k in ("mean", "rest_mean", "effect_size"))
        if feature in seen or figures in seen:
            out.append(("said twice", feature))
        seen.update({feature, figures})
        gap = values.get("mean", np.nan) - values.get("rest_mean", np.nan)
        effect = values.get("effect_size", np.nan)
        if "lift" not in values and np.isfinite(gap) and gap != 0 and np.isfinite(effect) \
                and (gap > 0) != (effect > 0):
            out.append(("direction", f"{feature}: means differ by {gap:+.3g} but the effect "
                                     f"is {effect:+.2f}"))
        if users is not None and feature in users.columns and "known for" not in fact["text"]:
            group = users.loc[users["segment"] == persona["segment"], feature]
            if group.isna().any():
                out.append(("coverage", f"{feature}: {int(group.isna().sum())} users have no "
                                        "value and the fact does not say so"))
    texts = [p["text"] for p in persona.get("pain_points", []) if p.get("source")]
    empathy = persona.get("empathy_map", {})
    texts += persona.get("opportunities", []) + [
        n for n in persona.get("needs", []) if not n.startswith("unknown")]
    texts += [i for part in ("says", "thinks", "feels")
              for i in empathy.get(part, {}).get("items", [])]
    out += [("no license", text) for text in texts if "from: " not in text]
    return out


def check_personas(document: dict[str, Any], profiles: pd.DataFrame,
                   semantics: Semantics | None = None, users: pd.DataFrame | None = None
                   ) -> list[Finding]:
    """Every broken rule of every persona (the rules are in the module docstring)."""
    semantics = semantics or Semantics()
    findings: list[Finding] = []
    for persona in document["personas"]:
        segment, name = int(persona["segment"]), str(persona["name"])
        found = _name_findings(persona, profiles, semantics) + _card_findings(persona, users)
        if not semantics.buys:
            words = _purchase_words(persona, semantics.noun)
            if words:
                found.append(("purchase words", ", ".join(words)))
        findings += [Finding(segment, name, rule, text) for rule, text in found]
    return findings
