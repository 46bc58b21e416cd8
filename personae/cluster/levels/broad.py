"""The broad level: the personas merged into 2 or 3 groups a team can name."""

from __future__ import annotations

import numpy as np

from personae.cluster._base import NOISE
from personae.cluster.levels._learn import SilhouetteSample


def broad_groups(X: np.ndarray, labels: np.ndarray, centers: np.ndarray, sizes: np.ndarray,
                 idx: np.ndarray, *, scored: SilhouetteSample | None = None
                 ) -> dict[int, int]:
    """persona -> broad group: Ward's merge of the persona ``centers`` weighted by ``sizes``,
    cut at 2 groups, or 3 (with 4+ personas) when the silhouette of ``labels`` (persona per
    row of ``X``, ``-1`` = edge) on the rows ``idx`` is at least that of 2. ``scored``: those
    rows of ``X`` with their distances already computed, when the caller has them."""
    scored = scored if scored is not None else SilhouetteSample(X, idx)
    k = len(centers)
    if k <= 2:
        return {p: p for p in range(k)}
    best: tuple[float, dict[int, int]] | None = None
    for groups in (2, 3) if k >= 4 else (2,):
        cut = _ward_cut(centers, sizes, groups)
        grouped = np.where(labels == NOISE, NOISE, cut[np.maximum(labels, 0)])
        score = scored.score(grouped)
        score = -1.0 if not np.isfinite(score) else score
        if best is None or score >= best[0] + (0.0 if groups == 2 else 1e-12):
            best = (score, {p: int(cut[p]) for p in range(k)})
    assert best is not None
    return best[1]


def _ward_cut(centers: np.ndarray, sizes: np.ndarray, groups: int) -> np.ndarray:
    """Merge the centres by Ward's cost (size-weighted) down to ``groups``; their group."""
    members = [[i] for i in range(len(centers))]
    cent = [c.astype(float) for c in centers]
    size = [float(s) for s in sizes]
    while len(members) > groups:
        best = (np.inf, 0, 0)
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                cost = size[a] * size[b] / (size[a] + size[b]) * \
                    float(np.sum((cent[a] - cent[b]) ** 2))
                best = min(best, (cost, a, b))
        _, a, b = best
        total = size[a] + size[b]
        cent[a] = (cent[a] * size[a] + cent[b] * size[b]) / total
        size[a] = total
        members[a] += members.pop(b)
        cent.pop(b)
        size.pop(b)
    order = sorted(range(len(members)), key=lambda g: -size[g])  # 0 = the biggest group
    out = np.empty(len(centers), dtype=int)
    for rank, g in enumerate(order):
        out[members[g]] = rank
    return out
