"""What a persona and a journey say about the order of what its users do, in plain words.

Built only from one segment's sequence profile (``sequence_profiles.json``, see
:mod:`personae.features.sequence_profiles`), and only what it measured:

- the typical sequence is the segment's first medoid (a real user, named by id), cut at
  ``TYPICAL_TOKENS`` tokens;
- starts and ends quote the share of the segment whose sequence starts (ends) with the token;
  "most start with" only above half, else "the most common first event";
- an n-gram is said to be more likely only when its lift is at least ``MIN_LIFT`` and the
  profile counted it (``min_users``); the sentence quotes the lift, the users who have it
  and both shares. An n-gram no other user has says so instead of quoting a lift (its lift
  is floored at one other user).

Every statement carries a ``source`` naming the file and segment it came from.
"""

from __future__ import annotations

from typing import Any

from personae.cluster._base import NOISE
from personae.features.sequences import RARE_TOKEN, SESSION_TOKEN

TYPICAL_TOKENS = 12
MIN_LIFT = 1.5
MAX_NGRAMS = 3
SOURCE_FILE = "sequence_profiles.json"


def token_words(token: str) -> str:
    """A token as a reader says it: ``<session>`` is a new session, ``<rare>`` a rare one."""
    if token == SESSION_TOKEN:
        return "(new session)"
    return token.replace(RARE_TOKEN, "(rare)")


def _path(ngram: str) -> str:
    return " \u2192 ".join(token_words(t) for t in ngram.split(" \u2192 "))


def _pct(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 or share == 0 else f"{share:.1%}"


def _first(entries: list[dict[str, Any]], what: str) -> str | None:
    if not entries:
        return None
    top = entries[0]
    token, share = token_words(str(top["token"])), float(top["share"])
    if share > 0.5:
        return f"most {what} with {token} ({_pct(share)} of them)"
    verb = "first" if what == "start" else "last"
    return f"the most common {verb} event is {token} ({_pct(share)} of them)"


def ngram_sentence(gram: dict[str, Any]) -> str:
    """``3.2x more likely than everyone else to go cart → purchase (410 users: 68% vs 21%)``."""
    path, users = _path(str(gram["ngram"])), int(gram["users"])
    share, others = float(gram["share"]), float(gram["others_share"])
    if others == 0:
        return (f"{path}: {users:,} of them ({_pct(share)}) and no other user")
    return (f"{float(gram['lift']):.1f}x more likely than everyone else to go {path} "
            f"({users:,} of them: {_pct(share)} vs {_pct(others)} of the others)")


def sequence_story(profile: dict[str, Any]) -> dict[str, Any]:
    """The persona's (and journey's) ``sequence`` block: typical sequence, starts, ends,
    over-represented n-grams, and the sentences that say them."""
    segment = int(profile["segment"])
    source = {"file": SOURCE_FILE, "segment": segment}
    medoid = profile["medoids"][0] if profile.get("medoids") else None
    typical = [str(t) for t in medoid["tokens"][:TYPICAL_TOKENS]] if medoid else []
    grams = [g for g in profile.get("ngrams", []) if float(g["lift"]) >= MIN_LIFT][:MAX_NGRAMS]
    length = profile["length"]
    sentences: list[dict[str, Any]] = []
    if medoid:
        more = " \u2192 \u2026" if int(medoid["length"]) > len(typical) else ""
        sentences.append({
            "text": f"Typical sequence (user {medoid['user_id']}, the segment's medoid): "
                    f"{' → '.join(token_words(t) for t in typical)}{more}; median length "
                    f"{float(length['median']):g} events (quartiles {float(length['q1']):g}"
                    f"-{float(length['q3']):g}).",
            "source": {**source, "part": "medoids"}})
    ends = [_first(profile.get("start", []), "start"), _first(profile.get("end", []), "end")]
    said = [e for e in ends if e]
    if said:
        sentences.append({"text": f"{'; '.join(said)}.".capitalize(),
                          "source": {**source, "part": "start/end"}})
    for gram in grams:
        sentences.append({"text": ngram_sentence(gram).capitalize() + ".",
                          "source": {**source, "part": "ngrams", "ngram": gram["ngram"],
                                     "values": {k: gram[k] for k in ("users", "share",
                                                                     "others_share",
                                                                     "lift")}}})
    return {"segment": segment, "typical": typical,
            "typical_user": medoid["user_id"] if medoid else None,
            "length": dict(length), "start": list(profile.get("start", [])),
            "end": list(profile.get("end", [])), "ngrams": grams, "sentences": sentences,
            "narrative": _narrative(segment, said, grams), "source": source}


def _narrative(segment: int, ends: list[str], grams: list[dict[str, Any]]) -> str:
    """One sentence for the persona's narrative: where their sequences start and the most
    over-represented step, with the numbers."""
    parts = list(ends[:1])
    if grams:
        parts.append(ngram_sentence(grams[0]))
    if not parts:
        return ""
    who = "These edge users" if segment == NOISE else "In the sequence of their events"
    return f"{who}: {'; '.join(parts)}."


def stories(profiles: list[dict[str, Any]] | None) -> dict[int, dict[str, Any]]:
    """segment -> its sequence block (empty when the run has no sequence profiles)."""
    return {int(p["segment"]): sequence_story(p) for p in profiles or []}


def _title(token: str) -> str:
    return token_words(token).replace("|", " ").title()


def sequence_name(story: dict[str, Any], taken: list[str], head: str = "Users") -> str:
    """(name, head) from the order of events, for a persona no feature describes (a run on
    embeddings alone, whose columns are coordinates): "Cart-First Users" when most of the
    segment starts with cart, then the top over-represented step ("Cart-Purchase Users"),
    unique among ``taken``; ``head`` is the run's noun."""
    candidates = []
    if story["start"] and float(story["start"][0]["share"]) > 0.5:
        candidates.append(f"{_title(story['start'][0]['token'])}-First {head}")
    for gram in story["ngrams"]:
        steps = [t for t in str(gram["ngram"]).split(" \u2192 ") if t != SESSION_TOKEN]
        if len(steps) >= 2:
            candidates.append(f"{'-'.join(_title(t) for t in steps)} {head}")
    if candidates:
        candidates.append(f"{candidates[0].removesuffix(' ' + head)}, "
                          f"{candidates[-1]}")
    candidates.append(f"Segment {story['segment']} {head}")
    names = {t.lower() for t in taken}
    for candidate in candidates:
        if candidate.lower() not in names:
            return candidate
    return f"Segment {story['segment']} {head} (sequence)"
