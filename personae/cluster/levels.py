"""Persona levels a team can act on: broad (2-3) > persona (3-8) > detailed (8-12), nested.

Works on the scaled matrix ``X`` the model clusters (``SegmentModel.transform``) and the
labels of the base fit, whatever algorithm made them. The rules, in order:

1. **Edge users.** A user is an edge user when they lie far from their group (distance to
   its centre above the group's Q3 + 3 IQR, Tukey's "far out"; at most ``MAX_FAR_SHARE`` of
   users, the farthest first) or when their group holds under ``EDGE_SHARE`` of users.
   Edge users keep label ``-1`` (``NOISE``) at every level; ``nearest`` still says which
   persona each resembles. They are kept and flagged, never a persona.
2. **Persona level.** K-means (k-means++, ``N_INIT`` starts) for K in 2..8 on all users.
   A K is *actionable* when no persona holds over ``MAX_SHARE`` of users and at least
   ``MIN_BIG`` personas hold ``BIG_SHARE`` or more, or when its groups are distinct
   (silhouette >= ``DISTINCT_SILHOUETTE``) with none over ``MAX_SHARE``: two clear groups
   are two personas, and cutting one of them to reach three would invent a persona. K=2 is
   only ever chosen that way. Among actionable K the choice is the
   best silhouette (on a stated sample of non-edge users) among the stable ones (bootstrap
   ARI >= ``STABLE_ARI``); with none stable, the best silhouette, flagged. With no
   actionable K at all the data has no structure worth splitting: one persona, said so.
3. **Broad level.** Ward's merge cost on the persona centres weighted by size, cut at 2 or
   3 groups (3 only with 4+ personas, when its silhouette is at least that of 2).
4. **Detailed level.** Each persona split by K-means into a share of ``DETAILED_TARGET``
   groups proportional to its size (8-12 in all); kept only when every detailed group
   holds at least ``DETAILED_MIN_SHARE`` of users.
5. **Scale.** Above ``FIT_ROWS`` users the K choice and its stability are measured on a
   seeded sample of that many; the chosen K's centres then start one K-means run on
   everyone, and the detailed split of each persona is learnt on a sample of it.
6. **Separation.** Silhouette of the persona level on the sample: >= 0.5 (the course's
   "aim for > 0.5") reads "distinct groups", below it "regions of a continuum". When the
   base fit is a density method (it has noise, ``-1``) its DBCV is reported beside it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, pairwise_distances_argmin_min, silhouette_score
from threadpoolctl import threadpool_limits

from personae.cluster._base import NOISE
from personae.cluster.validate import dbcv

log = logging.getLogger(__name__)

K_RANGE = (3, 8)  # personas when the data is a continuum
DISTINCT_K_MIN = 2  # distinct groups may be two
MAX_SHARE = 0.60
BIG_SHARE = 0.05
MIN_BIG = 3
EDGE_SHARE = 0.015
MAX_FAR_SHARE = 0.02
FAR_IQR = 3.0
STABLE_ARI = 0.8
DISTINCT_SILHOUETTE = 0.5
SAMPLE = 5_000
DBCV_SAMPLE = 2_000
N_INIT = 4
BOOTSTRAPS = 4
BOOT_FRACTION = 0.8
DETAILED_TARGET = (8, 12)
DETAILED_MIN_SHARE = 0.005
MIN_USERS = 30
CHUNK_ROWS = 500_000
SMALL_PASS = 200_000  # users x centres x features held at once by a small request
FIT_ROWS = 20_000  # users the K choice, its stability and each detailed split are learnt on
# users (the FIT_ROWS sample fits included): OpenMP's threads cost more than they give
# there (spin-waits)
ONE_THREAD_BELOW = 20_000

Verdict = Literal["distinct groups", "regions of a continuum", "no structure worth splitting"]

__all__ = ["PersonaLevels", "Separation", "assign_levels", "broad_groups", "persona_levels"]


@dataclass(frozen=True)
class Separation:
    """How separated the persona level is, and the rule that turned it into words."""

    silhouette: float
    sample_size: int
    dbcv: float | None
    verdict: Verdict
    rule: str = (f"silhouette >= {DISTINCT_SILHOUETTE} on the sample reads 'distinct groups', "
                 "below it 'regions of a continuum'")

    def as_dict(self) -> dict[str, Any]:
        return {"silhouette": _num(self.silhouette), "sample_size": self.sample_size,
                "dbcv": _num(self.dbcv), "verdict": self.verdict, "rule": self.rule}


@dataclass(frozen=True, eq=False)
class PersonaLevels:
    """Labels at three nested levels (``-1`` = edge user), and why they were chosen.

    ``persona``/``broad``/``detailed``/``edge``/``nearest`` are per user, in the order of
    ``X``. ``centers`` (persona centres in the space of ``X``), ``far_distance`` and
    ``persona_to_broad`` are what :func:`assign_levels` needs to place new users.
    """

    persona: np.ndarray
    broad: np.ndarray
    detailed: np.ndarray | None
    edge: np.ndarray
    nearest: np.ndarray
    centers: np.ndarray
    far_distance: np.ndarray
    persona_to_broad: dict[int, int]
    detailed_to_persona: dict[int, int]
    base_to_persona: dict[int, dict[str, Any]]
    separation: Separation
    stability_ari: float | None
    stable: bool
    k_table: list[dict[str, Any]]
    actionable: bool
    why: list[str] = field(default_factory=list)
    edge_centers: np.ndarray | None = None  # groups too small to be personas: their users are edge
    detailed_centers: np.ndarray | None = None  # placing users at the detailed level

    @property
    def n_personas(self) -> int:
        return len(self.centers)

    def sizes(self, level: Literal["broad", "persona", "detailed"] = "persona"
              ) -> dict[int, int]:
        labels = getattr(self, level)
        if labels is None:
            return {}
        values, counts = np.unique(labels, return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able summary (no per-user arrays): save it beside the model."""
        return {
            "n_personas": self.n_personas,
            "sizes": {lvl: {str(k): v for k, v in self.sizes(lvl).items()}  # type: ignore[arg-type]
                      for lvl in ("broad", "persona", "detailed")},
            "edge_users": int(self.edge.sum()),
            "centers": self.centers.astype(float).round(6).tolist(),
            "far_distance": [_num(v) for v in self.far_distance],
            "edge_centers": [] if self.edge_centers is None else
            self.edge_centers.astype(float).round(6).tolist(),
            "persona_to_broad": {str(k): v for k, v in self.persona_to_broad.items()},
            "detailed_to_persona": {str(k): v for k, v in self.detailed_to_persona.items()},
            "detailed_centers": [] if self.detailed_centers is None else
            self.detailed_centers.astype(float).round(6).tolist(),
            "base_to_persona": {str(k): v for k, v in self.base_to_persona.items()},
            "separation": self.separation.as_dict(),
            "stability_ari": _num(self.stability_ari),
            "stable": self.stable,
            "actionable": self.actionable,
            "k_table": self.k_table,
            "why": list(self.why),
        }


def _num(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 6)


def _kmeans(X: np.ndarray, k: int, seed: int, n_init: int = N_INIT,
            init: np.ndarray | None = None) -> KMeans:
    # the run on everyone centres X in place and back (copy_x=False): a copy of 10M users
    # would be 600 MB more at the run's peak
    model = KMeans(n_clusters=k, n_init=n_init, random_state=seed) if init is None else \
        KMeans(n_clusters=k, init=init, n_init=1, random_state=seed, copy_x=False)
    with threadpool_limits(limits=1 if len(X) <= ONE_THREAD_BELOW else None,
                           user_api="openmp"):
        return model.fit(X)


def _distances(X: np.ndarray, centers: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each row's distance to the centre it is labelled with, a chunk of rows at a time (a
    whole 10M-user difference matrix would be gigabytes)."""
    out = np.empty(len(X), dtype=np.float32)
    for start in range(0, len(X), CHUNK_ROWS):
        rows = slice(start, start + CHUNK_ROWS)
        out[rows] = np.linalg.norm(X[rows] - centers[labels[rows]], axis=1)
    return out


def _predict(model: KMeans, X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.concatenate([model.predict(X[rows[start:start + CHUNK_ROWS]])
                           for start in range(0, len(rows), CHUNK_ROWS)] or
                          [np.zeros(0, dtype=np.int32)])


def _sample(n: int, size: int, seed: int, mask: np.ndarray | None = None) -> np.ndarray:
    idx = np.flatnonzero(mask) if mask is not None else np.arange(n)
    if len(idx) <= size:
        return idx
    return np.sort(np.random.default_rng(seed).choice(idx, size, replace=False))


def _silhouette(X: np.ndarray, labels: np.ndarray, idx: np.ndarray) -> float:
    keep = idx[labels[idx] != NOISE]
    if len(keep) < 3 or len(np.unique(labels[keep])) < 2:
        return float("nan")
    return float(silhouette_score(X[keep], labels[keep]))


def _far(dist: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Users far out in their own group (Tukey: above Q3 + 3 IQR), the farthest
    ``MAX_FAR_SHARE`` at most; and each group's distance limit."""
    limits = np.full(k, np.inf)
    ratio = np.zeros(len(dist))
    for g in range(k):
        own = labels == g
        if own.sum() < 4:
            continue
        q1, q3 = np.quantile(dist[own], [0.25, 0.75])
        limits[g] = q3 + FAR_IQR * max(q3 - q1, 1e-9)
        ratio[own] = dist[own] / limits[g]
    far = ratio > 1.0
    cap = int(MAX_FAR_SHARE * len(dist))
    if far.sum() > cap:
        keep = np.argsort(-ratio)[:cap]
        far = np.zeros(len(dist), dtype=bool)
        far[keep] = True
        for g in range(k):  # the limit moves out to the users the cap kept in, so a saved
            near = (labels == g) & ~far  # model flags exactly these training users
            if near.any():
                limits[g] = max(limits[g], float(dist[near].max()) * (1 + 1e-5))
    return far, limits


@dataclass(frozen=True)
class _Fit:
    k: int
    labels: np.ndarray      # compact 0..k'-1, NOISE for edge
    nearest: np.ndarray     # compact persona of every user
    edge: np.ndarray
    centers: np.ndarray
    far_distance: np.ndarray
    edge_centers: np.ndarray  # centres of the groups too small to be personas
    silhouette: float
    max_share: float
    n_big: int
    actionable: bool
    model: KMeans


def _fit_k(X: np.ndarray, k: int, seed: int, idx: np.ndarray,
           init: np.ndarray | None = None) -> _Fit:
    model = _kmeans(X, k, seed, init=init)
    raw = model.labels_
    dist = _distances(X, model.cluster_centers_, raw)
    far, limits = _far(dist, raw, k)
    counts = np.bincount(raw, minlength=k)
    tiny = counts < EDGE_SHARE * len(X)
    keep_groups = np.flatnonzero(~tiny)
    remap = np.full(k, NOISE)
    remap[keep_groups] = np.arange(len(keep_groups))
    edge = far | tiny[raw]
    centers = model.cluster_centers_[keep_groups]
    nearest = remap[raw]
    if tiny.any():  # members of tiny groups resemble the nearest kept persona
        moved = tiny[raw]
        nearest[moved] = _nearest(X[moved], centers)[0]
    labels = np.where(edge, NOISE, remap[raw])
    shares = np.bincount(labels[labels != NOISE], minlength=len(keep_groups)) / len(X)
    max_share = float(shares.max()) if len(shares) else 1.0
    n_big = int((shares >= BIG_SHARE).sum())
    silhouette = _silhouette(X, labels, idx)
    sized = n_big >= MIN_BIG and k >= K_RANGE[0]
    distinct = bool(silhouette >= DISTINCT_SILHOUETTE) and len(keep_groups) >= DISTINCT_K_MIN
    return _Fit(k, labels, nearest, edge, centers, limits[keep_groups],
                model.cluster_centers_[tiny], silhouette, max_share,
                n_big, max_share <= MAX_SHARE and (sized or distinct), model)


def _stability(X: np.ndarray, fit: _Fit, seed: int) -> float:
    rng = np.random.default_rng(seed + 1)
    n = len(X)
    core = np.flatnonzero(~fit.edge)
    scores = []
    for b in range(BOOTSTRAPS):
        pick = rng.choice(n, int(BOOT_FRACTION * n), replace=False)
        other = _kmeans(X[pick], fit.k, seed + 100 + b)
        scores.append(adjusted_rand_score(fit.model.labels_[core], other.predict(X[core])))
    return float(np.mean(scores))


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


def _broad(X: np.ndarray, fit: _Fit, idx: np.ndarray) -> dict[int, int]:
    return broad_groups(X, fit.labels, fit.centers,
                        np.bincount(fit.nearest, minlength=len(fit.centers)), idx)


def broad_groups(X: np.ndarray, labels: np.ndarray, centers: np.ndarray, sizes: np.ndarray,
                 idx: np.ndarray) -> dict[int, int]:
    """persona -> broad group: Ward's merge of the persona ``centers`` weighted by ``sizes``,
    cut at 2 groups, or 3 (with 4+ personas) when the silhouette of ``labels`` (persona per
    row of ``X``, ``-1`` = edge) on the rows ``idx`` is at least that of 2."""
    k = len(centers)
    if k <= 2:
        return {p: p for p in range(k)}
    best: tuple[float, dict[int, int]] | None = None
    for groups in (2, 3) if k >= 4 else (2,):
        cut = _ward_cut(centers, sizes, groups)
        grouped = np.where(labels == NOISE, NOISE, cut[np.maximum(labels, 0)])
        score = _silhouette(X, grouped, idx)
        score = -1.0 if not np.isfinite(score) else score
        if best is None or score >= best[0] + (0.0 if groups == 2 else 1e-12):
            best = (score, {p: int(cut[p]) for p in range(k)})
    assert best is not None
    return best[1]


def _detailed(X: np.ndarray, fit: _Fit, seed: int
              ) -> tuple[np.ndarray | None, dict[int, int], np.ndarray | None]:
    """The detailed level: each persona split by K-means into groups in proportion to its
    size; labels, detailed -> persona, and the groups' centres (rounded as levels.json
    keeps them, and the labels placed by them, so a saved model places users as the fit)."""
    k = len(fit.centers)
    n = len(X)
    target = int(np.clip(2 * k, *DETAILED_TARGET))
    if target <= k or n < target * 50:
        return None, {}, None
    sizes = np.bincount(fit.labels[fit.labels != NOISE], minlength=k).astype(float)
    quota = sizes / sizes.sum() * target
    parts = np.maximum(1, np.floor(quota)).astype(int)
    for p in np.argsort(-(quota - np.floor(quota))):
        if parts.sum() >= target:
            break
        parts[p] += 1
    parent: dict[int, int] = {}
    centers = []
    nxt = 0
    for p in range(k):
        rows = np.flatnonzero(fit.labels == p)
        m = int(min(parts[p], max(1, len(rows) // 25)))
        learn = rows[_sample(len(rows), FIT_ROWS, seed + p)]
        centers.extend(fit.centers[p][None] if m == 1 else
                       _kmeans(X[learn], m, seed + p, n_init=2).cluster_centers_)
        for s in range(m):
            parent[nxt + s] = p
        nxt += m
    info = {"detailed_centers": np.asarray(centers, dtype=float).round(6).tolist(),
            "detailed_to_persona": parent}
    detailed = assign_detailed(X, fit.labels, info)
    if detailed is None:
        return None, {}, None
    counts = np.bincount(detailed[detailed != NOISE], minlength=nxt)
    if nxt < DETAILED_TARGET[0] or counts.min() < DETAILED_MIN_SHARE * n:
        return None, {}, None
    return detailed, parent, np.asarray(info["detailed_centers"])


def _base_map(base: np.ndarray, persona: np.ndarray) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for b in np.unique(base):
        own = persona[base == b]
        values, counts = np.unique(own, return_counts=True)
        top = int(np.argmax(counts))
        out[int(b)] = {"persona": int(values[top]), "share": round(float(counts[top] / len(own)),
                                                                   6),
                       "users": int(len(own))}
    return out


def _order_by_size(fit: _Fit) -> _Fit:
    """Persona 0 is the biggest: stable, readable numbering."""
    k = len(fit.centers)
    sizes = np.bincount(fit.nearest, minlength=k)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty(k, dtype=int)
    rank[order] = np.arange(k)
    labels = np.where(fit.labels == NOISE, NOISE, rank[np.maximum(fit.labels, 0)])
    return _Fit(fit.k, labels, rank[fit.nearest], fit.edge, fit.centers[order],
                fit.far_distance[order], fit.edge_centers, fit.silhouette, fit.max_share,
                fit.n_big, fit.actionable, fit.model)


def persona_levels(X: np.ndarray, base_labels: np.ndarray, *, k: int | None = None,
                   random_state: int = 0, checks: bool = True) -> PersonaLevels:
    """Broad, persona and detailed levels over ``X`` (users x scaled features).

    ``base_labels`` are the base fit's labels (any algorithm; ``-1`` = noise); they are
    mapped onto the personas (``base_to_persona``), and give DBCV when they have noise.
    ``k`` fixes the number of K-means groups (edge groups then still drop out).
    Below ``ONE_THREAD_BELOW`` users K-means runs on one thread: on a busy machine its
    OpenMP threads made a 1,500-user fit 20x slower. ``checks=False`` skips the level's own
    bootstrap and the detailed level (``stability_ari`` is then NaN): for the refits of a
    stability check, which only place users.
    """
    return _persona_levels(X, base_labels, k=k, random_state=random_state, checks=checks)


def _persona_levels(X: np.ndarray, base_labels: np.ndarray, *, k: int | None,
                    random_state: int, checks: bool = True) -> PersonaLevels:
    X = np.asarray(X, dtype=np.float32)
    base = np.asarray(base_labels)
    if X.ndim != 2 or len(X) != len(base):
        raise ValueError(f"persona_levels: X must be users x features with one base label a "
                         f"user; got X {X.shape} and {base.shape} labels")
    if k is not None and not 1 <= k <= len(X):
        raise ValueError(f"persona_levels: k must be in [1, {len(X)}]; got {k}")
    n = len(X)
    idx = _sample(n, SAMPLE, random_state)
    base_dbcv = None
    if (base == NOISE).any() and len(np.unique(base[base != NOISE])) >= 2:
        d_idx = idx[:DBCV_SAMPLE]
        base_dbcv = float(dbcv(X[d_idx], base[d_idx]))
    distinct_rows = len(np.unique(X[idx], axis=0))
    if n < MIN_USERS or distinct_rows < K_RANGE[0]:
        return _one_group(X, base, base_dbcv, idx,
                          f"only {n:,} users with {distinct_rows} distinct rows: too few to "
                          "split into personas")
    candidates = [k] if k is not None else list(range(DISTINCT_K_MIN, min(K_RANGE[1],
                                                                        distinct_rows) + 1))
    # K and its stability are decided on a sample of FIT_ROWS users (stated in why); the
    # chosen K's centres then start one K-means run on everyone
    rows = _sample(n, FIT_ROWS, random_state)
    Xs = X[rows] if len(rows) < n else X
    idx_s = _sample(len(Xs), SAMPLE, random_state)
    fits = [_fit_k(Xs, kk, random_state, idx_s) for kk in candidates]
    table = [{"k": f.k, "personas": len(f.centers), "silhouette": _num(f.silhouette),
              "max_share": round(f.max_share, 4), "personas_over_5pct": f.n_big,
              "edge_users": int(f.edge.sum()), "actionable": f.actionable,
              "stability_ari": None} for f in fits]
    actionable = [i for i, f in enumerate(fits) if f.actionable]
    why: list[str] = []
    if k is None and not actionable:
        return _one_group(X, base, base_dbcv, idx,
                          f"no K in {DISTINCT_K_MIN}..{K_RANGE[1]} gives personas a team can "
                          f"act on (each K left one group over {MAX_SHARE:.0%} of users, or "
                          f"fewer than {MIN_BIG} groups of {BIG_SHARE:.0%}+ that are not "
                          "distinct): the data has no structure worth splitting, so it is one "
                          "persona", table)
    pool = actionable or [0]
    ranked = sorted(pool, key=lambda i: -np.nan_to_num(fits[i].silhouette, nan=-1.0))
    aris: dict[int, float] = {}
    chosen = ranked[0]
    for i in ranked if checks else ():  # best silhouette first, until one is stable
        aris[i] = _stability(Xs, fits[i], random_state)
        table[i]["stability_ari"] = round(aris[i], 4)
        if aris[i] >= STABLE_ARI:
            chosen = i
            break
    ari = aris.get(chosen, float("nan"))
    fit = fits[chosen] if Xs is X else \
        _fit_k(X, fits[chosen].k, random_state, idx, init=fits[chosen].model.cluster_centers_)
    fit = _order_by_size(fit)
    if k is None:
        why.append(f"K-means for K {DISTINCT_K_MIN}..{K_RANGE[1]}: {len(actionable)} of "
                   f"{len(fits)} K gave actionable personas (none over {MAX_SHARE:.0%}, and "
                   f"{MIN_BIG}+ of {BIG_SHARE:.0%} or more or distinct groups); K={fit.k} has "
                   "the best silhouette "
                   + ("among the stable ones" if ari >= STABLE_ARI else
                      "(no actionable K was stable)"))
    else:
        why.append(f"K={k} as asked")
        if not fit.actionable:
            why.append(f"K={k} breaks the size rule (largest persona {fit.max_share:.0%}, "
                       f"{fit.n_big} of {BIG_SHARE:.0%}+)")
    if Xs is not X:
        why.append(f"K chosen on a seeded sample of {len(Xs):,} of {n:,} users; its centres "
                   "started one K-means run on everyone")
    stable = ari >= STABLE_ARI
    why.append(f"stability: bootstrap ARI {ari:.2f} ({BOOTSTRAPS} resamples of "
               f"{BOOT_FRACTION:.0%}); " + ("stable" if stable else
                                            f"below {STABLE_ARI}: treat the borders as soft"))
    edge_n = int(fit.edge.sum())
    if edge_n:
        why.append(f"{edge_n:,} edge users ({edge_n / n:.1%}): far from their group or in a "
                   f"group under {EDGE_SHARE:.1%} of users; kept and flagged, not a persona")
    sil = fit.silhouette
    verdict: Verdict = "distinct groups" if sil >= DISTINCT_SILHOUETTE else \
        "regions of a continuum"
    why.append(f"silhouette {sil:.2f} on {min(len(idx), n):,} sampled users: {verdict}" +
               ("" if verdict == "distinct groups" else
                " (users shade into each other; the borders are drawn, not found)"))
    if base_dbcv is not None:
        why.append(f"the base density fit scores DBCV {base_dbcv:.2f} on {len(idx[:DBCV_SAMPLE]):,}"
                   " sampled users")
    to_broad = _broad(X, fit, idx)
    broad = np.where(fit.labels == NOISE, NOISE,
                     np.array([to_broad[p] for p in range(len(fit.centers))])[
                         np.maximum(fit.labels, 0)])
    why.append(f"broad level: {len(set(to_broad.values()))} groups, Ward's merge of the persona "
               "centres weighted by size")
    detailed, parent, detailed_centers = _detailed(X, fit, random_state) if checks else \
        (None, {}, None)
    why.append(f"detailed level: {len(parent)} groups nested in the personas" if detailed
               is not None else "detailed level: not supported (too few users per group)")
    base_k = len(np.unique(base[base != NOISE]))
    why.append(f"base fit had {base_k} segments; each maps to the persona most of "
               "its users fall in (base_to_persona)")
    log.info("persona levels: %d personas, %d broad, %s detailed, %d edge users",
             len(fit.centers), len(set(to_broad.values())), len(parent) or "no", edge_n)
    return PersonaLevels(
        persona=fit.labels, broad=broad, detailed=detailed, edge=fit.edge, nearest=fit.nearest,
        centers=fit.centers, far_distance=fit.far_distance, persona_to_broad=to_broad,
        detailed_to_persona=parent, base_to_persona=_base_map(base, fit.labels),
        separation=Separation(sil, int(min(len(idx), n)), base_dbcv, verdict),
        stability_ari=ari, stable=stable, k_table=table, actionable=fit.actionable, why=why,
        edge_centers=fit.edge_centers, detailed_centers=detailed_centers)


def _one_group(X: np.ndarray, base: np.ndarray, base_dbcv: float | None, idx: np.ndarray,
               reason: str, table: list[dict[str, Any]] | None = None) -> PersonaLevels:
    n = len(X)
    zeros = np.zeros(n, dtype=int)
    center = np.median(X, axis=0, keepdims=True)
    dist = _distances(X, center, zeros)
    far, limits = _far(dist, zeros, 1)
    labels = np.where(far, NOISE, 0)
    return PersonaLevels(
        persona=labels, broad=labels.copy(), detailed=None, edge=far, nearest=zeros,
        centers=center, far_distance=limits, persona_to_broad={0: 0}, detailed_to_persona={},
        base_to_persona=_base_map(base, labels),
        separation=Separation(float("nan"), int(len(idx)), base_dbcv,
                              "no structure worth splitting"),
        stability_ari=None, stable=False, k_table=table or [], actionable=False,
        why=[reason])


@dataclass(frozen=True)
class LevelCentres:
    """What placing a user needs, as arrays: a service prepares it once per model rather
    than per request (the saved summary holds lists)."""

    centers: np.ndarray
    limits: np.ndarray
    to_broad: np.ndarray
    edge_centers: np.ndarray

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> LevelCentres:
        centers = np.asarray(info["centers"], dtype=np.float64)
        to_broad = np.zeros(len(centers), dtype=int)
        for persona, group in info["persona_to_broad"].items():
            to_broad[int(persona)] = int(group)
        return cls(centers=centers,
                   limits=np.array([np.inf if v is None else v for v in info["far_distance"]]),
                   to_broad=to_broad,
                   edge_centers=np.asarray(info.get("edge_centers") or [],
                                           dtype=np.float64).reshape(-1, centers.shape[1]))


def assign_levels(X: np.ndarray, levels: PersonaLevels | LevelCentres | dict[str, Any]
                  ) -> dict[str, np.ndarray]:
    """Place new users: nearest persona centre, its broad group, edge when farther from it
    than the persona's far limit or nearer a group too small to be a persona. Takes the
    levels, their ``to_dict()`` or its :class:`LevelCentres`."""
    if not isinstance(levels, LevelCentres):
        info = levels.to_dict() if isinstance(levels, PersonaLevels) else levels
        levels = LevelCentres.from_info(info)
    X = np.asarray(X)
    # the matrix's own precision: a float64 copy of 10M float32 rows is 1.2 GB more
    X = X.astype(X.dtype if X.dtype in (np.float32, np.float64) else np.float64, copy=False)
    nearest, distance = _nearest(X, levels.centers.astype(X.dtype, copy=False))
    edge = distance > levels.limits[nearest]
    if len(levels.edge_centers):
        _, to_tiny = _nearest(X, levels.edge_centers.astype(X.dtype, copy=False))
        edge |= to_tiny < distance
    broad = levels.to_broad[nearest]
    return {"persona": np.where(edge, NOISE, nearest), "broad": np.where(edge, NOISE, broad),
            "nearest": nearest, "edge": edge}


def assign_detailed(X: np.ndarray, persona: np.ndarray, info: dict[str, Any]
                    ) -> np.ndarray | None:
    """The detailed level of users placed at ``persona``: the nearest detailed centre among
    their persona's own (edge users stay edge); None when the levels (``info``, levels.json)
    have no detailed level."""
    centers = np.asarray(info.get("detailed_centers") or [], dtype=np.float64)
    if not len(centers):
        return None
    X = np.asarray(X)
    X = X.astype(X.dtype if X.dtype in (np.float32, np.float64) else np.float64, copy=False)
    centers = centers.astype(X.dtype)
    parent = np.full(len(centers), NOISE)
    for group, owner in info["detailed_to_persona"].items():
        parent[int(group)] = int(owner)
    persona = np.asarray(persona)
    out = np.full(len(X), NOISE, dtype=np.int32)
    for owner in np.unique(persona[persona != NOISE]):
        rows = np.flatnonzero(persona == owner)
        groups = np.flatnonzero(parent == owner)
        if len(groups):
            out[rows] = groups[_nearest(X[rows], centers[groups])[0]]
    return out


def _nearest(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre and the distance to it. A request of a few users takes one numpy
    pass (scikit-learn's checks cost more than the arithmetic there); many users go
    through its chunked pairwise search, which never holds users x centres x features."""
    if len(X) * len(centers) * X.shape[1] <= SMALL_PASS:
        d = np.sqrt(((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2))
        nearest = d.argmin(axis=1)
        return nearest, d[np.arange(len(X)), nearest]
    return pairwise_distances_argmin_min(X, centers)
