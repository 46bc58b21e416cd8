"""Fitting the persona levels: the K choice, edge users, and the levels' result.

The rules, in order (their values: :class:`LevelRules`):

1. **Edge users.** A user is an edge user when they lie far from their group (distance to
   its centre above the group's Q3 + ``far_iqr`` IQR, Tukey's "far out", the IQR floored
   so that identical users stay in their group; at most ``max_far_share`` of users, the
   farthest first: ``personae.cluster.levels.edge``) or when their group holds under
   ``edge_share`` of users. Edge users keep label ``-1`` (``NOISE``) at every level;
   ``nearest`` still says which persona each resembles. They are kept and flagged, never a
   persona.
2. **Persona level.** K-means (k-means++, ``n_init`` starts) for K in 2..8 on all users.
   A K is *actionable* when no persona holds over ``max_share`` of users and at least
   ``min_big`` personas hold ``big_share`` or more, or when its groups are distinct
   (silhouette >= ``distinct_silhouette``) with none over ``max_share``: two clear groups
   are two personas, and cutting one of them to reach three would invent a persona. K=2 is
   only ever chosen that way. Among actionable K the choice is the
   best silhouette (on a stated sample of non-edge users) among the stable ones (bootstrap
   ARI >= ``stable_ari``); with none stable, the best silhouette, flagged. With no
   actionable K at all the data has no structure worth splitting: one persona, said so.
3. **Broad level.** Ward's merge cost on the persona centres weighted by size, cut at 2 or
   3 groups (3 only with 4+ personas, when its silhouette is at least that of 2).
4. **Detailed level.** Each persona split by K-means into a share of ``detailed_target``
   groups proportional to its size (8-12 in all); kept only when every detailed group
   holds at least ``detailed_min_share`` of users.
5. **Scale.** Above ``fit_rows`` users the K choice and its stability are measured on a
   seeded sample of that many; the chosen K's centres then start one K-means run on
   everyone, and the detailed split of each persona is learnt on a sample of it.
6. **Separation.** Silhouette of the persona level on the sample: >= 0.5 (the course's
   "aim for > 0.5") reads "distinct groups", below it "regions of a continuum". When the
   base fit is a density method (it has noise, ``-1``) its DBCV is reported beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from personae._share import share_text
from personae.cluster._base import NOISE, each_in_threads, nearest_centre, order_by_size
from personae.cluster.levels._learn import SilhouetteSample, kmeans, sample
from personae.cluster.levels.broad import broad_groups
from personae.cluster.levels.detailed import detailed_level
from personae.cluster.levels.edge import distances, far_users
from personae.cluster.levels.rules import DEFAULT_RULES, LevelRules
from personae.cluster.validate import dbcv

log = logging.getLogger(__name__)

Verdict = Literal["distinct groups", "regions of a continuum", "no structure worth splitting"]


def separation_rule(rules: LevelRules) -> str:
    return (f"silhouette >= {rules.distinct_silhouette} on the sample reads 'distinct "
            "groups', below it 'regions of a continuum'")


@dataclass(frozen=True)
class Separation:
    """How separated the persona level is, and the rule that turned it into words."""

    silhouette: float
    sample_size: int
    dbcv: float | None
    verdict: Verdict
    rule: str = separation_rule(DEFAULT_RULES)

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


def _fit_k(X: np.ndarray, k: int, seed: int, scored: SilhouetteSample, rules: LevelRules,
           init: np.ndarray | None = None) -> _Fit:
    model = kmeans(X, k, seed, rules.n_init, init=init)
    raw = model.labels_
    dist = distances(X, model.cluster_centers_, raw)
    far, limits = far_users(dist, raw, k, rules)
    counts = np.bincount(raw, minlength=k)
    tiny = counts < rules.edge_share * len(X)
    keep_groups = np.flatnonzero(~tiny)
    remap = np.full(k, NOISE)
    remap[keep_groups] = np.arange(len(keep_groups))
    edge = far | tiny[raw]
    centers = model.cluster_centers_[keep_groups]
    closest = remap[raw]
    if tiny.any():  # members of tiny groups resemble the nearest kept persona
        moved = tiny[raw]
        closest[moved] = nearest_centre(X[moved], centers)[0]
    labels = np.where(edge, NOISE, remap[raw])
    shares = np.bincount(labels[labels != NOISE], minlength=len(keep_groups)) / len(X)
    max_share = float(shares.max()) if len(shares) else 1.0
    n_big = int((shares >= rules.big_share).sum())
    score = scored.score(labels)
    sized = n_big >= rules.min_big and k >= rules.k_range[0]
    distinct = bool(score >= rules.distinct_silhouette) and \
        len(keep_groups) >= rules.distinct_k_min
    return _Fit(k, labels, closest, edge, centers, limits[keep_groups],
                model.cluster_centers_[tiny], score, max_share,
                n_big, max_share <= rules.max_share and (sized or distinct), model)


def _stability(X: np.ndarray, fit: _Fit, seed: int, rules: LevelRules) -> float:
    rng = np.random.default_rng(seed + 1)
    n = len(X)
    core = np.flatnonzero(~fit.edge)
    picks = [rng.choice(n, int(rules.boot_fraction * n), replace=False)
             for _ in range(rules.bootstraps)]

    def agreement(b: int) -> float:
        other = kmeans(X[picks[b]], fit.k, seed + 100 + b, rules.n_init)
        return float(adjusted_rand_score(fit.model.labels_[core], other.predict(X[core])))

    return float(np.mean(each_in_threads(agreement, [(b,) for b in range(rules.bootstraps)])))


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
    rank = order_by_size(np.bincount(fit.nearest, minlength=k))
    order = np.argsort(rank)
    labels = np.where(fit.labels == NOISE, NOISE, rank[np.maximum(fit.labels, 0)])
    return _Fit(fit.k, labels, rank[fit.nearest], fit.edge, fit.centers[order],
                fit.far_distance[order], fit.edge_centers, fit.silhouette, fit.max_share,
                fit.n_big, fit.actionable, fit.model)


@dataclass(frozen=True)
class LevelSearch:
    """The K choice of the persona level on a sample of the users (rules 2 and 5): what
    depends on ``X`` alone, so it can run beside the base fit. ``one_group``: why the users
    are one persona instead (then no K was chosen)."""

    idx: np.ndarray          # the silhouette sample of X
    fitted_on_all: bool      # the sample was everyone (n <= fit_rows): its fit is final
    scored: SilhouetteSample | None
    fits: list[_Fit]
    table: list[dict[str, Any]]
    actionable: list[int]
    chosen: int
    aris: dict[int, float]
    one_group: str | None = None


def level_search(X: np.ndarray, *, k: int | None = None, random_state: int = 0,
                 checks: bool = True, rules: LevelRules = DEFAULT_RULES) -> LevelSearch:
    """K-means for each K on a seeded sample of ``rules.fit_rows`` users, and the chosen K
    (``persona_levels``' rule 2): X is only read, never centred in place."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"persona_levels: X must be users x features; got {X.shape}")
    if k is not None and not 1 <= k <= len(X):
        raise ValueError(f"persona_levels: k must be in [1, {len(X)}]; got {k}")
    n = len(X)
    idx = sample(n, rules.sample, random_state)
    distinct_rows = len(np.unique(X[idx], axis=0))
    if n < rules.min_users or distinct_rows < rules.k_range[0]:
        return LevelSearch(idx, True, None, [], [], [], 0, {},
                           one_group=f"only {n:,} users with {distinct_rows} distinct rows: "
                                     "too few to split into personas")
    low, high = rules.distinct_k_min, rules.k_range[1]
    candidates = [k] if k is not None else list(range(low, min(high, distinct_rows) + 1))
    # K and its stability are decided on a sample of fit_rows users (stated in why); the
    # chosen K's centres then start one K-means run on everyone
    rows = sample(n, rules.fit_rows, random_state)
    Xs = X[rows] if len(rows) < n else X
    scored_s = SilhouetteSample(Xs, idx if Xs is X else
                                sample(len(Xs), rules.sample, random_state))
    scored_s.prepare()  # once, before the fits share it
    fits = each_in_threads(_fit_k, [(Xs, kk, random_state, scored_s, rules)
                                    for kk in candidates])
    table = [{"k": f.k, "personas": len(f.centers), "silhouette": _num(f.silhouette),
              "max_share": round(f.max_share, 4), "personas_over_5pct": f.n_big,
              "edge_users": int(f.edge.sum()), "actionable": f.actionable,
              "stability_ari": None} for f in fits]
    actionable = [i for i, f in enumerate(fits) if f.actionable]
    if k is None and not actionable:
        return LevelSearch(idx, Xs is X, scored_s, fits, table, actionable, 0, {},
                           one_group=(
            f"no K in {low}..{high} gives personas a team can act on (each K left one group "
            f"over {rules.max_share:.0%} of users, or fewer than {rules.min_big} groups of "
            f"{rules.big_share:.0%}+ that are not distinct): the data has no structure worth "
            "splitting, so it is one persona"))
    pool = actionable or [0]
    ranked = sorted(pool, key=lambda i: -np.nan_to_num(fits[i].silhouette, nan=-1.0))
    aris: dict[int, float] = {}
    chosen = ranked[0]
    for i in ranked if checks else ():  # best silhouette first, until one is stable
        aris[i] = _stability(Xs, fits[i], random_state, rules)
        table[i]["stability_ari"] = round(aris[i], 4)
        if aris[i] >= rules.stable_ari:
            chosen = i
            break
    return LevelSearch(idx, Xs is X, scored_s, fits, table, actionable, chosen, aris)


def persona_levels(X: np.ndarray, base_labels: np.ndarray, *, k: int | None = None,
                   random_state: int = 0, checks: bool = True,
                   rules: LevelRules = DEFAULT_RULES, search: LevelSearch | None = None,
                   placed: PersonaLevels | None = None) -> PersonaLevels:
    """Broad, persona and detailed levels over ``X`` (users x scaled features).

    ``base_labels`` are the base fit's labels (any algorithm; ``-1`` = noise); they are
    mapped onto the personas (``base_to_persona``), and give DBCV when they have noise.
    ``k`` fixes the number of K-means groups (edge groups then still drop out).
    ``rules`` are the thresholds (``SegmentSettings.levels``). ``checks=False`` skips the
    level's own bootstrap and the detailed level (``stability_ari`` is then NaN): for the
    refits of a stability check, which only place users. ``search`` (``level_search``) and
    ``placed`` (``place_personas``) of the same ``X``, ``k``, seed, checks and rules, when
    they already ran: neither reads the base fit, so both can run beside it.
    """
    X = np.asarray(X, dtype=np.float32)
    base = np.asarray(base_labels)
    if X.ndim != 2 or len(X) != len(base):
        raise ValueError(f"persona_levels: X must be users x features with one base label a "
                         f"user; got X {X.shape} and {base.shape} labels")
    if placed is None:
        placed = place_personas(X, k=k, random_state=random_state, checks=checks, rules=rules,
                                search=search)
    return _with_base(placed, X, base, random_state, rules)


def place_personas(X: np.ndarray, *, k: int | None = None, random_state: int = 0,
                   checks: bool = True, rules: LevelRules = DEFAULT_RULES,
                   search: LevelSearch | None = None,
                   x_free: Callable[[], None] | None = None) -> PersonaLevels:
    """The levels of ``persona_levels`` before the base fit is mapped onto them
    (``base_to_persona`` empty): the chosen K fitted on everyone, edge users, the broad and
    detailed levels. With ``n > fit_rows`` users the K-means on everyone centres ``X`` in
    place and back: nothing else may read ``X`` meanwhile. ``x_free`` is called once
    ``X`` is back (the rest only reads it)."""
    X = np.asarray(X, dtype=np.float32)
    if search is None:
        search = level_search(X, k=k, random_state=random_state, checks=checks, rules=rules)
    n, idx = len(X), search.idx
    if search.one_group is not None:
        return _one_group(X, idx, rules, search.one_group, search.table or None)
    low, high = rules.distinct_k_min, rules.k_range[1]
    fits, table, actionable, chosen, aris = \
        search.fits, search.table, search.actionable, search.chosen, search.aris
    why: list[str] = []
    scored = search.scored if search.fitted_on_all and search.scored is not None else \
        SilhouetteSample(X, idx)
    ari = aris.get(chosen, float("nan"))
    fit = fits[chosen] if search.fitted_on_all else \
        _fit_k(X, fits[chosen].k, random_state, scored, rules,
               init=fits[chosen].model.cluster_centers_)
    if x_free is not None:
        x_free()
    fit = _order_by_size(fit)
    if k is None:
        why.append(f"K-means for K {low}..{high}: {len(actionable)} of {len(fits)} K gave "
                   f"actionable personas (none over {rules.max_share:.0%}, and "
                   f"{rules.min_big}+ of {rules.big_share:.0%} or more or distinct groups); "
                   f"K={fit.k} has the best silhouette "
                   + ("among the stable ones" if ari >= rules.stable_ari else
                      "(no actionable K was stable)"))
    else:
        why.append(f"K={k} as asked")
        if not fit.actionable:
            why.append(f"K={k} breaks the size rule (largest persona {fit.max_share:.0%}, "
                       f"{fit.n_big} of {rules.big_share:.0%}+)")
    if not search.fitted_on_all:
        why.append(f"K chosen on a seeded sample of {min(rules.fit_rows, n):,} of {n:,} users; "
                   "its centres started one K-means run on everyone")
    stable = ari >= rules.stable_ari
    why.append(f"stability: bootstrap ARI {ari:.2f} ({rules.bootstraps} resamples of "
               f"{rules.boot_fraction:.0%}); " +
               ("stable" if stable else f"below {rules.stable_ari}: treat the borders as soft"))
    edge_n = int(fit.edge.sum())
    if edge_n:
        why.append(f"{edge_n:,} edge users ({share_text(edge_n / n)}): far from their group or "
                   f"in a group under {rules.edge_share:.1%} of users; kept and flagged, not a "
                   "persona")
    sil = fit.silhouette
    verdict: Verdict = "distinct groups" if sil >= rules.distinct_silhouette else \
        "regions of a continuum"
    why.append(f"silhouette {sil:.2f} on {min(len(idx), n):,} sampled users: {verdict}" +
               ("" if verdict == "distinct groups" else
                " (users shade into each other; the borders are drawn, not found)"))
    to_broad = broad_groups(X, fit.labels, fit.centers,
                            np.bincount(fit.nearest, minlength=len(fit.centers)), idx,
                            scored=scored)
    broad = np.where(fit.labels == NOISE, NOISE,
                     np.array([to_broad[p] for p in range(len(fit.centers))])[
                         np.maximum(fit.labels, 0)])
    why.append(f"broad level: {len(set(to_broad.values()))} groups, Ward's merge of the persona "
               "centres weighted by size")
    detailed, parent, detailed_centers = \
        detailed_level(X, fit.labels, fit.centers, random_state, rules) if checks else \
        (None, {}, None)
    why.append(f"detailed level: {len(parent)} groups nested in the personas" if detailed
               is not None else "detailed level: not supported (too few users per group)")
    log.info("persona levels: %d personas, %d broad, %s detailed, %d edge users",
             len(fit.centers), len(set(to_broad.values())), len(parent) or "no", edge_n)
    return PersonaLevels(
        persona=fit.labels, broad=broad, detailed=detailed, edge=fit.edge, nearest=fit.nearest,
        centers=fit.centers, far_distance=fit.far_distance, persona_to_broad=to_broad,
        detailed_to_persona=parent, base_to_persona={},
        separation=Separation(sil, int(min(len(idx), n)), None, verdict,
                              separation_rule(rules)),
        stability_ari=ari, stable=stable, k_table=table, actionable=fit.actionable, why=why,
        edge_centers=fit.edge_centers, detailed_centers=detailed_centers)


def _one_group(X: np.ndarray, idx: np.ndarray, rules: LevelRules, reason: str,
               table: list[dict[str, Any]] | None = None) -> PersonaLevels:
    n = len(X)
    zeros = np.zeros(n, dtype=int)
    center = np.median(X, axis=0, keepdims=True)
    dist = distances(X, center, zeros)
    far, limits = far_users(dist, zeros, 1, rules)
    labels = np.where(far, NOISE, 0)
    return PersonaLevels(
        persona=labels, broad=labels.copy(), detailed=None, edge=far, nearest=zeros,
        centers=center, far_distance=limits, persona_to_broad={0: 0}, detailed_to_persona={},
        base_to_persona={},
        separation=Separation(float("nan"), int(len(idx)), None,
                              "no structure worth splitting", separation_rule(rules)),
        stability_ari=None, stable=False, k_table=table or [], actionable=False,
        why=[reason])




def _with_base(placed: PersonaLevels, X: np.ndarray, base: np.ndarray, random_state: int,
               rules: LevelRules) -> PersonaLevels:
    """``placed`` with the base fit mapped onto its personas, and the base's DBCV when the
    base fit has noise (a density method), measured on the levels' own sample."""
    base_dbcv = None
    why = list(placed.why)
    one_group = placed.separation.verdict == "no structure worth splitting"
    if (base == NOISE).any() and len(np.unique(base[base != NOISE])) >= 2:
        rows = sample(len(X), rules.sample, random_state)[:rules.dbcv_sample]
        base_dbcv = float(dbcv(X[rows], base[rows]))
        if not one_group:
            why.append(f"the base density fit scores DBCV {base_dbcv:.2f} on {len(rows):,} "
                       "sampled users")
    if not one_group:
        base_k = len(np.unique(base[base != NOISE]))
        why.append(f"base fit had {base_k} segments; each maps to the persona most of "
                   "its users fall in (base_to_persona)")
    return replace(placed, base_to_persona=_base_map(base, placed.persona),
                   separation=replace(placed.separation, dbcv=base_dbcv), why=why)
