"""What the sequences of each segment look like: typical sequences, n-grams, starts, ends.

Per segment:

- ``medoids``: the users with the smallest total distance to the segment's other users
  (over a seeded sample of 1,000 in larger segments): the most typical sequences, their
  first 30 tokens;
- ``ngrams``: the 2- and 3-grams (``<session>`` included) most over-represented in the
  segment: lift = share of the segment's users who have it / share of the other users
  who have it (users, not occurrences, so one long history cannot make an n-gram);
  an n-gram needs ``min_users`` users in the segment; the other users' share is
  floored at 1 user, so an n-gram no one else has has a finite lift;
- ``start`` and ``end``: the most common first and last tokens with their shares;
- ``length``: median and quartiles of the number of tokens.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from personae.features.sequences import Sequences

_MEDOIDS = 3
_SHOWN = 30
_SAMPLE = 1000


def _ngram_users(seqs: Sequences, n: int) -> list[set[tuple[int, ...]]]:
    out = []
    for i in range(len(seqs)):
        c = seqs.codes[seqs.offsets[i]:seqs.offsets[i + 1]].tolist()
        out.append({tuple(c[j:j + n]) for j in range(len(c) - n + 1)})
    return out


def sequence_profiles(seqs: Sequences, labels: np.ndarray, vectors: np.ndarray,
                      top: int = 5, min_users: int = 5) -> list[dict[str, Any]]:
    """One JSON-ready dict per segment (segment -1, the edge users, included if present)."""
    labels = np.asarray(labels)
    if len(labels) != len(seqs) or len(vectors) != len(seqs):
        raise ValueError("labels, vectors and sequences must have one row per user")
    vocab = seqs.vocabulary
    grams = {n: _ngram_users(seqs, n) for n in (2, 3)}
    lengths = seqs.lengths
    out = []
    for seg in sorted(np.unique(labels).tolist()):
        inside = labels == seg
        members = np.flatnonzero(inside)
        n_in, n_out = int(inside.sum()), int((~inside).sum())
        near = _medoids(vectors, members)
        rows: list[dict[str, Any]] = []
        for n, sets in grams.items():
            c_in: Counter[tuple[int, ...]] = Counter()
            c_out: Counter[tuple[int, ...]] = Counter()
            for i, s in enumerate(sets):
                (c_in if inside[i] else c_out).update(s)
            for gram, count in c_in.items():
                if count < min_users:
                    continue
                share_in = count / n_in
                share_out = max(c_out.get(gram, 0), 1) / max(n_out, 1)
                rows.append({"ngram": " \u2192 ".join(vocab[g] for g in gram), "n": n,
                             "users": count, "share": round(share_in, 4),
                             "others_share": round(c_out.get(gram, 0) / max(n_out, 1), 4),
                             "lift": round(share_in / share_out, 3)})
        rows.sort(key=lambda r: (-r["lift"], -r["users"], r["ngram"]))
        firsts = Counter(vocab[seqs.codes[seqs.offsets[i]]] for i in members
                         if lengths[i])
        lasts = Counter(vocab[seqs.codes[seqs.offsets[i + 1] - 1]] for i in members
                        if lengths[i])
        q1, med, q3 = np.percentile(lengths[inside], [25, 50, 75]).tolist()
        out.append({
            "segment": int(seg), "users": n_in,
            "length": {"median": med, "q1": q1, "q3": q3},
            "start": [{"token": t, "share": round(c / n_in, 3)}
                      for t, c in firsts.most_common(3)],
            "end": [{"token": t, "share": round(c / n_in, 3)}
                    for t, c in lasts.most_common(3)],
            "ngrams": rows[:top],
            "medoids": [{"user_id": _plain(seqs.ids[i]), "length": int(lengths[i]),
                         "tokens": seqs.tokens(int(i))[:_SHOWN]} for i in near],
        })
    return out


def _medoids(vectors: np.ndarray, members: np.ndarray) -> np.ndarray:
    """The members with the smallest total distance to the others (a seeded sample of
    ``_SAMPLE`` of them when the segment is larger): medoids, not the nearest to a mean,
    which in a mixed segment can be an atypical, long repetitive history."""
    pool = members
    if len(pool) > _SAMPLE:
        pool = np.sort(np.random.default_rng(0).choice(members, _SAMPLE, replace=False))
    from scipy.spatial.distance import cdist

    total = cdist(vectors[pool], vectors[pool]).sum(axis=1)
    return pool[np.argsort(total, kind="stable")[:_MEDOIDS]]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def profile_lines(profiles: list[dict[str, Any]]) -> list[str]:
    """A few short lines per segment, for the CLI and the report notes."""
    out = []
    for p in profiles:
        grams = "; ".join(f"{g['ngram']} (lift {g['lift']:.1f}, {g['users']} users)"
                          for g in p["ngrams"][:3])
        start = ", ".join(f"{s['token']} {s['share']:.0%}" for s in p["start"][:2])
        end = ", ".join(f"{s['token']} {s['share']:.0%}" for s in p["end"][:2])
        medoid = " \u2192 ".join(p["medoids"][0]["tokens"][:12]) if p["medoids"] else ""
        out.append(f"segment {p['segment']} ({p['users']:,} users, median length "
                   f"{p['length']['median']:g}): starts {start}; ends {end}")
        out.append(f"  over-represented: {grams or 'none with enough users'}")
        out.append(f"  typical: {medoid}")
    return out
