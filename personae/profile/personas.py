"""One persona per segment, built only from the profile numbers and the feature semantics.

Every fact a persona states ("data says", characteristics, DOES, pain points) carries a
``source`` that points at one row of ``segment_profiles.csv`` (segment, feature) and the
numbers it quotes, so a reader can check it. SAYS / THINKS / FEELS are hypotheses made
from the themes of those facts and are marked as such: they are questions to take to real
users, not findings. The same profiles and semantics always give the same personas.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from personae.cluster._base import NOISE
from personae.data.formats import PERSONAS_FORMAT
from personae.features.semantics import Direction, FeatureMeaning, Semantics, event_type_of
from personae.profile import names as naming
from personae.profile.segments import ALPHA, MIN_CATEGORY_DIFF, MIN_EFFECT, distinguishing
from personae.profile.sequence_words import MIN_LIFT, sequence_name, stories
from personae.profile.themes import HYPOTHESES, NEEDS, OPPORTUNITIES

log = logging.getLogger(__name__)

MAX_FACTS = 5
MAX_IDEAS = 4
BAD_THEMES = frozenset({"risk", "price sensitivity"})  # more of these is the pain
EMBEDDING_COLUMN = r"(emb|umap)_\d+"  # coordinates of a sequence embedding, not behaviour

@dataclass(frozen=True)
class _Fact:
    row: pd.Series
    meaning: FeatureMeaning
    direction: Direction

    def side(self, theme: str) -> str:
        """'up' when the value means more of ``theme``, 'down' when less.

        Without a pain direction, high = more. With one, a pain means less of a good theme
        (low frequency = less loyalty) but more of a bad one (many returns = more risk).
        """
        if self.meaning.pain_when is None:
            return "up" if self.direction == "high" else "down"
        more = self.direction == self.meaning.pain_when
        return ("up" if more else "down") if theme in BAD_THEMES else \
            ("down" if more else "up")

    @property
    def themes(self) -> tuple[str, ...]:
        """Themes whose direction is known: all of them when the meaning says which way is
        the pain; otherwise only the first (high average order value is more *value* but
        less *price sensitivity*, and nothing says so)."""
        return self.meaning.themes if self.meaning.pain_when else self.meaning.themes[:1]

    @property
    def is_pain(self) -> bool:
        return self.meaning.pain_when is not None and self.direction == self.meaning.pain_when


def fmt(value: float) -> str:
    """A number as a person reads it: 3 significant figures, thousands separated."""
    if value is None or not np.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if float(value).is_integer() or magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:,.1f}"
    if magnitude >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def _pct(value: float) -> str:
    return f"{value:.0%}" if value >= 0.01 or value == 0 else f"{value:.1%}"


def _p_text(p: float) -> str:
    return "q < 0.001" if p < 0.001 else f"q = {p:.3f}"


def _statement(fact: _Fact) -> tuple[str, dict[str, Any]]:
    row, meaning = fact.row, fact.meaning
    segment, feature = int(row["segment"]), str(row["feature"])
    effect = float(row.get("effect_size", row["z_score"]))
    p_adj = float(row.get("p_adjusted", np.nan))
    quoted: dict[str, float] = {"mean": float(row["mean"]), "rest_mean": _rest(row),
                                "effect_size": effect}
    if np.isfinite(p_adj):
        quoted["p_adjusted"] = p_adj
    unit = f" {meaning.unit}" if meaning.unit and meaning.unit not in ("share",
                                                                     "currency") else ""
    if row["kind"] == "flag":
        text = (f"{meaning.label}: yes for {_pct(row['mean'])} of them vs "
                f"{_pct(quoted['rest_mean'])} of everyone else (Cohen's d {effect:+.2f}")
        text += f", {_p_text(p_adj)})" if np.isfinite(p_adj) else ")"
    elif row["kind"] == "category":
        text = (f"{meaning.label}: {_pct(row['mean'])} of them vs {_pct(quoted['rest_mean'])} "
                f"of everyone else")
        lift = row.get("lift", np.nan)
        if lift is not None and np.isfinite(lift) and lift > 0:
            quoted["lift"] = float(lift)
            text += f" ({float(lift):.1f}x)"
    elif (event_type := event_type_of(meaning)) is not None:  # the type stays a noun
        text = (f"{_pct(row['mean'])} of their events are '{event_type}' against "
                f"{_pct(quoted['rest_mean'])} for everyone else (Cohen's d {effect:+.2f}")
        text += f", {_p_text(p_adj)})" if np.isfinite(p_adj) else ")"
    else:
        text = (f"{meaning.label}: average {fmt(row['mean'])}{unit} vs "
                f"{fmt(quoted['rest_mean'])}{unit} for everyone else "
                f"(Cohen's d {effect:+.2f}")
        text += f", {_p_text(p_adj)})" if np.isfinite(p_adj) else ")"
    source = {"file": "segment_profiles.csv", "segment": segment, "feature": feature,
              "values": {k: _round(v) for k, v in quoted.items()}}
    return text, source


def _rest(row: pd.Series) -> float:
    if "rest_mean" in row.index and np.isfinite(row["rest_mean"]):
        return float(row["rest_mean"])
    return float(row["overall_mean"])


def _round(value: float) -> float:
    return float(f"{value:.6g}") if np.isfinite(value) else float("nan")


def agrees(row: pd.Series) -> bool:
    """Whether a fact's direction (its effect, on the model's scale) agrees with the figures
    it prints (the persona's mean against everyone else's): a log-scale effect can point the
    other way than the means ("1,116 items vs 215 items, d -1.09"), and then nothing is said."""
    if row["kind"] == "category":
        return True
    effect = float(row.get("effect_size", row["z_score"]))
    gap = float(row["mean"]) - _rest(row)
    return not np.isfinite(gap) or gap == 0 or (gap > 0) == (effect > 0)


def same_fact(row: pd.Series) -> tuple[Any, ...]:
    """What makes two rows one fact: a category value with its share (six telco columns'
    "No internet service"), or the same figures (a log without orders counts its frequency
    in active days: the two columns hold one number)."""
    if row["kind"] == "category":
        return ("category", str(row["feature"]).split("=", 1)[1].lower(),
                round(float(row["mean"]), 3))
    return ("number", _round(float(row["mean"])), _round(_rest(row)),
            _round(float(row.get("effect_size", row["z_score"]))))


def _facts(profiles: pd.DataFrame, segment: int, semantics: Semantics) -> list[_Fact]:
    """The strongest distinguishing facts whose figures agree with their direction, each
    said once (equal category values of several columns, "No internet service" in six
    telco columns, are one fact)."""
    rows = distinguishing(profiles, segment)
    facts: list[_Fact] = []
    seen: set[tuple[Any, ...]] = set()
    for _, row in rows.iterrows():
        if len(facts) == MAX_FACTS:
            break
        if not agrees(row):
            continue
        said = same_fact(row)
        if said in seen:
            continue
        seen.add(said)
        effect = float(row.get("effect_size", row["z_score"]))
        direction: Direction = "high" if effect > 0 else "low"
        meaning = semantics.describe(str(row["feature"]))
        if row["kind"] == "flag" and meaning.source == "fallback":
            meaning = flag_meaning(meaning, float(row["mean"]), _rest(row))
        facts.append(_Fact(row, meaning, direction))
    return facts


def flag_meaning(meaning: FeatureMeaning, share: float, rest: float) -> FeatureMeaning:
    """A yes/no column's words: how many of them have it, against everyone else. The
    column's own word is quoted, since only its name says what it marks ("womens"), and a
    flag is had or not: never "high womens" or "more often womens"."""
    marked = f"marked '{meaning.label.lower()}'"
    if share >= 0.995:
        said = f"are all {marked}"
    elif share <= 0.005:
        said = f"are never {marked}"
    else:
        said = f"are {marked} {'more' if share > rest else 'less'} often: {_pct(share)} of them"
    said += f" ({_pct(rest)} of everyone else)"
    return replace(meaning, unit="share", high=said, low=said)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def build_personas(profiles: pd.DataFrame, semantics: Semantics | None = None,
                   users: pd.DataFrame | None = None,
                   sequences: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One persona per segment (edge users included), in segment order; deterministic.

    ``users`` (users_segmented) is optional: with GMM columns (``mixed``,
    ``second_segment``) it adds how much of each group also behaves like another.
    ``sequences`` (a run's sequence profiles) adds what the order of their events shows.
    """
    semantics = semantics or Semantics()
    segments = sorted(int(s) for s in profiles["segment"].unique())
    # real segments first, so the edge users never take a name a segment would want
    order = [s for s in segments if s != NOISE] + [s for s in segments if s == NOISE]
    taken: list[str] = []
    personas: dict[int, dict[str, Any]] = {}
    told = stories(sequences)
    # with sequences, embedding coordinates are not facts: the order of events speaks
    readable = profiles[~profiles["feature"].astype(str).str.fullmatch(EMBEDDING_COLUMN)] \
        if told else profiles
    for seg in order:
        facts = _facts(readable, seg, semantics) if len(readable) else []
        if not facts and seg in told and seg != NOISE:
            name, why = sequence_name(told[seg], taken, naming.title_noun(semantics.noun)), []
        else:
            name, why = naming.name(facts, profiles, seg, taken,  # type: ignore[arg-type]
                                    semantics)
        taken.append(name)
        personas[seg] = _persona(seg, name, facts, profiles, semantics.noun,
                                 _coverage(facts), ordered=seg in told)
        personas[seg]["why_name"] = why
    if users is not None:
        _add_mixing(personas, users)
    for seg, story in told.items():
        if seg in personas:
            _add_sequence(personas[seg], story)
    log.info("built %d personas", len(personas))
    return [personas[s] for s in segments]


def _coverage(facts: list[_Fact]) -> dict[str, int]:
    """feature -> how many of the persona's users have a value, for features some lack
    (the gap between visits of a one-visit user is missing, not a number): the profile's
    ``covered`` count, so every engine words it alike."""
    out = {}
    for fact in facts:
        covered = fact.row.get("covered")
        if covered is not None and pd.notna(covered) and int(covered) < int(fact.row["size"]):
            out[str(fact.row["feature"])] = int(covered)
    return out


def _license(fact: _Fact) -> str:
    """The fact an idea comes from, as a reader names it."""
    more = "higher" if fact.direction == "high" else "lower"
    if fact.row["kind"] == "category":
        more = "more common" if fact.direction == "high" else "less common"
    return f"{fact.meaning.label} {more} than everyone else's"


def _licensed(table: dict[tuple[str, str], Any], facts: list[_Fact]) -> list[tuple[Any, str]]:
    """(idea, the fact that licenses it) for each theme side the facts point to, once."""
    out: dict[Any, str] = {}
    for fact in facts:
        for theme in fact.themes:
            item = table.get((theme, fact.side(theme)))
            if item is not None and item not in out:
                out[item] = _license(fact)
    return list(out.items())


def _persona(seg: int, name: str, facts: list[_Fact], profiles: pd.DataFrame, noun: str,
             coverage: dict[str, int], ordered: bool = False) -> dict[str, Any]:
    first = profiles[profiles["segment"] == seg].iloc[0]
    size, share = int(first["size"]), float(first["share"])
    data_says = []
    for fact in facts:
        text, source = _statement(fact)
        known = coverage.get(str(fact.row["feature"]))
        if known is not None:
            text += f"; known for {known:,} of the {size:,} (the others have no value)"
            source["known_for"] = known
        data_says.append({"text": text, "source": source})
    phrases = _unique([f.meaning.phrase(f.direction) for f in facts
                       if f.meaning.phrase(f.direction)])
    sides = _unique([f"{theme}|{f.side(theme)}" for f in facts for theme in f.themes])
    keys = [tuple(s.split("|")) for s in sides]
    who = f"{noun} on the edge of every segment" if seg == NOISE else noun
    if phrases:
        narrative = (f"{size:,} {who} ({_pct(share)} of all). Compared with everyone else they "
                     f"{_join(phrases[:3])}.")
        if len(phrases) > 3:
            narrative += f" They also {_join(phrases[3:])}."
    elif ordered:  # the sequence sentence follows (_add_sequence)
        narrative = f"{size:,} {who} ({_pct(share)} of all), grouped by the order of their events."
    else:
        narrative = (f"{size:,} {who} ({_pct(share)} of all). Nothing sets them apart clearly: "
                     "no feature differs from the rest by a significant, meaningful amount.")
    if seg == NOISE:
        narrative += (" They belong to no persona (far from every group, or in a group too "
                      f"small to be one): they may be your most unusual (or most valuable) "
                      f"{noun}; look at them one by one.")
    # the gallery's one line: what sets them apart, or that nothing does
    line = (f"They {_join(phrases[:2])}." if phrases else
            "Grouped by the order of their events." if ordered else
            "Nothing sets them apart clearly.")
    characteristics = [{"text": f"They {f.meaning.phrase(f.direction)}.",
                        "source": s["source"]} for f, s in zip(facts, data_says, strict=True)
                       if f.meaning.phrase(f.direction)]
    pains = [{"text": f"They {f.meaning.phrase(f.direction)} "
                      f"({', '.join(f.meaning.themes) or 'unmet need'}; from: "
                      f"{_license(f)}).",
              "source": s["source"]} for f, s in zip(facts, data_says, strict=True)
             if f.is_pain]
    needs = [f"{n} (from: {why})" for n, why in _licensed(NEEDS, facts)][:MAX_IDEAS]
    opportunities = [f"{o} (from: {why})"
                     for o, why in _licensed(OPPORTUNITIES, facts)][:MAX_IDEAS]
    hypotheses = _licensed(HYPOTHESES, facts)
    return {
        "segment": seg,
        "name": name,
        "size": size,
        "share": round(share, 6),
        "edge_users": seg == NOISE,
        "unstable": bool(first["unstable"]) if "unstable" in first.index
        and pd.notna(first["unstable"]) else None,
        "data_says": data_says,
        "narrative": narrative,
        "line": line,
        "characteristics": characteristics,
        "needs": needs or ["unknown: no distinguishing behaviour to infer a need from"],
        "pain_points": pains or [{"text": "No pain signal in the data for this group.",
                                  "source": None}],
        "opportunities": opportunities,
        "themes": _unique([k[0] for k in keys]),
        "empathy_map": {
            "does": [{"text": d["text"], "source": d["source"]} for d in data_says],
            **{part: {"hypothesis": True,
                      "items": _unique([f"{h[i]} (from: {why})" for h, why in hypotheses])}
               for i, part in enumerate(("says", "thinks", "feels"))},
        },
        "also_like": [],
    }


def _add_sequence(persona: dict[str, Any], story: dict[str, Any]) -> None:
    """The order of their events: a sentence in the narrative, measured items in DOES."""
    persona["sequence"] = story
    if story["narrative"]:
        persona["narrative"] += " " + story["narrative"]
    persona["empathy_map"]["does"].extend(story["sentences"])


def _join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _add_mixing(personas: dict[int, dict[str, Any]], users: pd.DataFrame) -> None:
    """GMM runs: share of each segment whose second most likely segment is close."""
    if "second_segment" not in users.columns:
        return
    mixed = users["mixed"].astype(bool) if "mixed" in users.columns else \
        users.get("second_probability", pd.Series(0.0, index=users.index)) >= 0.2
    for seg, group in users.groupby("segment", sort=True):
        seg = int(seg)
        if seg not in personas:
            continue
        in_mix = group[mixed.loc[group.index]]
        if in_mix.empty:
            continue
        for other, count in in_mix["second_segment"].value_counts().sort_index().items():
            other = int(other)
            if other == seg or other not in personas:
                continue
            share = count / len(group)
            personas[seg]["also_like"].append({
                "segment": other, "name": personas[other]["name"], "share": round(share, 6),
                "text": f"{_pct(share)} of this group also behaves like "
                        f"{personas[other]['name']}.",
                "source": {"file": "users_segmented.parquet", "columns": ["segment",
                                                                          "second_segment",
                                                                          "mixed"]},
            })
        personas[seg]["also_like"].sort(key=lambda a: (-a["share"], a["segment"]))




def personas_document(profiles: pd.DataFrame, semantics: Semantics | None = None,
                      users: pd.DataFrame | None = None, *, source: str | None = None,
                      sequences: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """personas.json: the personas of a run and how their facts were decided."""
    from personae.profile.truth import check_personas

    semantics = semantics or Semantics()
    personas = build_personas(profiles, semantics, users, sequences)
    findings = [f.as_dict() for f in check_personas({"personas": personas}, profiles,
                                                    semantics, users)]
    for finding in findings:
        log.warning("persona words: %(persona)s: %(rule)s: %(text)s", finding)
    return {
        "format": PERSONAS_FORMAT,
        "format_version": 1,
        "run": {"source": source,
                "users": int(len(users)) if users is not None else None,
                "segments": int(len(personas)), "noun": semantics.noun,
                "purchase_words": semantics.buys},
        "method": {
            "facts": "segment vs everyone else: Welch t-test and Cohen's d (numbers, on the "
                     "model's scale), two-proportion z-test and share difference "
                     "(categories); Benjamini-Hochberg correction over all tests of the run",
            "alpha": ALPHA, "min_effect_d": MIN_EFFECT, "min_share_difference":
                MIN_CATEGORY_DIFF,
            "sources": "each fact's 'source' names the row of segment_profiles.csv "
                       "(segment, feature) and the numbers it quotes",
            "hypotheses": "empathy map says/thinks/feels are hypotheses from the feature "
                          "themes, to be checked with real users; each names the fact it "
                          "comes from, as do needs, pain points and opportunities",
            "names": "why_name: each idea of a name with the distinguishing fact (or the "
                     "archetype rule) that licenses it; at most two ideas and the noun",
            **({"sequences": "typical sequence = the segment's medoid user; starts/ends = "
                             "shares of the segment; an n-gram is said when its lift (share "
                             "of the segment's users who have it / share of the others) is "
                             f"at least {MIN_LIFT}, with its counts "
                             "(sequence_profiles.json)"} if sequences else {}),
        },
        "personas": personas,
        # the truthfulness check of personae/profile/truth.py on these personas: none expected
        "word_check": findings,
    }
