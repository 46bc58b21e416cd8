"""What the sequences of each segment look like: typical sequences, n-grams, starts, ends.

Per segment:

- ``medoids``: the users with the smallest total distance to the segment's other users
  (over a seeded sample of 1,000 in larger segments): the most typical sequences, their
  first 30 tokens;
- ``ngrams``: the 2- and 3-grams (``<session>`` included) most over-represented in the
  segment: lift = share of the segment's users who have it / share of the other users
  who have it (users, not occurrences, so one long history cannot make an n-gram);
  an n-gram needs ``min_users`` (5) users and ``min_share`` (5%) of the segment's users,
  so the top lifts describe what a real part of the segment does, not ten users of a
  thousand (on the UCI clickstream slice the top lifts were otherwise 1-2% n-grams); the
  other users' share is floored at 1 user, so an n-gram no one else has has a finite lift;
- ``start`` and ``end``: the most common first and last tokens with their shares;
- ``length``: median and quartiles of the number of tokens.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from personae.features.sequences import Sequences

_MEDOIDS = 3
_SHOWN = 30
_SAMPLE = 1000


def _ngram_users(seqs: Sequences, n: int, segment_of: np.ndarray, segments: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The distinct n-grams (rows of codes) and, per segment, how many of its users have
    each one (segments x n-grams), counted with numpy over the flat sequences."""
    codes = np.asarray(seqs.codes, dtype=np.int64)
    lengths = seqs.lengths
    user_of = np.repeat(np.arange(len(lengths)), lengths)
    start = np.arange(len(codes))
    fits = start + n <= seqs.offsets[1:][user_of]  # the n-gram ends inside the same user
    start = start[fits]
    base = max(len(seqs.vocabulary), 1)
    key = np.zeros(len(start), dtype=np.int64)
    for k in range(n):
        key = key * base + codes[start + k]
    grams, gram = np.unique(key, return_inverse=True)
    pairs = np.unique(user_of[start] * max(len(grams), 1) + gram)  # each user counts once
    users, gram_of_pair = np.divmod(pairs, max(len(grams), 1))
    counts = np.zeros((segments, len(grams)), dtype=np.int64)
    np.add.at(counts, (segment_of[users], gram_of_pair), 1)
    rows = np.empty((len(grams), n), dtype=np.int64)
    rest = grams.copy()
    for k in range(n - 1, -1, -1):
        rest, rows[:, k] = np.divmod(rest, base)
    return rows, counts


def sequence_profiles(seqs: Sequences, labels: np.ndarray, vectors: np.ndarray,
                      top: int = 5, min_users: int = 5, min_share: float = 0.05
                      ) -> list[dict[str, Any]]:
    """One JSON-ready dict per segment (segment -1, the edge users, included if present)."""
    labels = np.asarray(labels)
    if len(labels) != len(seqs) or len(vectors) != len(seqs):
        raise ValueError("labels, vectors and sequences must have one row per user")
    vocab = seqs.vocabulary
    order, segment_of = np.unique(labels, return_inverse=True)
    grams = {n: _ngram_users(seqs, n, segment_of, len(order)) for n in (2, 3)}
    lengths = seqs.lengths
    nonempty = lengths > 0
    first = np.full(len(seqs), -1, dtype=np.int64)
    last = np.full(len(seqs), -1, dtype=np.int64)
    first[nonempty] = seqs.codes[seqs.offsets[:-1][nonempty]]
    last[nonempty] = seqs.codes[seqs.offsets[1:][nonempty] - 1]
    out = []
    for index, seg in enumerate(order.tolist()):
        inside = segment_of == index
        members = np.flatnonzero(inside)
        n_in, n_out = int(inside.sum()), int((~inside).sum())
        near = _medoids(vectors, members)
        rows: list[dict[str, Any]] = []
        for n, (codes, counts) in grams.items():
            c_in = counts[index]
            c_out = counts.sum(axis=0) - c_in
            enough = (c_in >= min_users) & (c_in >= min_share * n_in)
            for g in np.flatnonzero(enough).tolist():
                share_in = int(c_in[g]) / n_in
                share_out = max(int(c_out[g]), 1) / max(n_out, 1)
                rows.append({"ngram": " \u2192 ".join(vocab[c] for c in codes[g].tolist()),
                             "n": n, "users": int(c_in[g]), "share": round(share_in, 4),
                             "others_share": round(int(c_out[g]) / max(n_out, 1), 4),
                             "lift": round(share_in / share_out, 3)})
        rows.sort(key=lambda r: (-r["lift"], -r["users"], r["ngram"]))
        q1, med, q3 = np.percentile(lengths[inside], [25, 50, 75]).tolist()
        out.append({
            "segment": int(seg), "users": n_in,
            "length": {"median": med, "q1": q1, "q3": q3},
            "start": _common(first[members], vocab, n_in),
            "end": _common(last[members], vocab, n_in),
            "ngrams": rows[:top],
            "medoids": [{"user_id": _plain(seqs.ids[i]), "length": int(lengths[i]),
                         "tokens": seqs.tokens(int(i))[:_SHOWN]} for i in near],
        })
    return out


def _common(codes: np.ndarray, vocab: tuple[str, ...], n: int) -> list[dict[str, Any]]:
    """The 3 most common tokens (ties by name) with their share of the segment."""
    codes = codes[codes >= 0]
    found, counts = np.unique(codes, return_counts=True)
    ranked = sorted(zip(counts.tolist(), found.tolist(), strict=True),
                    key=lambda cv: (-cv[0], vocab[cv[1]]))[:3]
    return [{"token": vocab[c], "share": round(k / n, 3)} for k, c in ranked]


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
