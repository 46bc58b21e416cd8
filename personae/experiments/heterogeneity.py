"""Does the effect differ between segments, which arm suits which segment, and what is
targeting worth? All from the per-cell counts, means and variances.

- Heterogeneity: Cochran's Q on the per-segment effects (inverse-variance weights,
  chi-square on k - 1 df) with I-squared, per level x arm x outcome; BH over these tests.
- Best arm per segment (control included): the arm with the highest mean, the probability
  that it is best and its lead over the runner-up with a normal CI; from a parametric
  bootstrap that draws each segment x arm mean from N(mean, variance / n), seeded.
- Value of targeting: mean outcome per user when each segment gets its own best arm, minus
  when everyone gets the single best arm; the same draws give a percentile interval. The
  plug-in value is optimistic (the same data choose and score the arms) and never negative,
  so a lower bound at 0 means no evidence that targeting pays.
- Uplift-by-segment curve (a Qini curve at segment resolution): segments ranked by effect,
  x = cumulative share of users, y = incremental outcome per user of the population when
  only those segments are treated; the random-targeting line runs to the overall effect;
  the coefficient is the area between them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from personae.experiments.stats import benjamini_hochberg, cochran_q, z_value


def analyse(cells: pd.DataFrame, sums: pd.DataFrame, halves: pd.DataFrame,
            kinds: dict[str, str],
            levels: Sequence[str], control: str, treated_arms: Sequence[str], alpha: float,
            bootstrap: int, random_state: int, min_users: int = 30) -> dict[str, Any]:
    outcomes = list(kinds)
    rng = np.random.default_rng(random_state)
    return {
        "heterogeneity": _heterogeneity(cells, levels, treated_arms, outcomes),
        "best_arm": _best_arms(sums, outcomes, control, treated_arms, alpha, bootstrap, rng,
                               min_users),
        "targeting": _targeting(sums, halves, outcomes, control, treated_arms, alpha,
                                bootstrap, rng, min_users),
        "curves": _curves(cells, treated_arms, outcomes),
    }


def _heterogeneity(cells: pd.DataFrame, levels: Sequence[str], arms: Sequence[str],
                   outcomes: Sequence[str]) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    for level in levels:
        for arm in arms:
            for outcome in outcomes:
                rows = cells[(cells["level"] == level) & (cells["arm"] == arm)
                             & (cells["outcome"] == outcome)]
                usable = rows[np.isfinite(rows["se"]) & (rows["se"] > 0)]
                result = cochran_q(usable["effect"].to_numpy(), usable["se"].to_numpy())
                left_out = sorted(set(rows["segment"]) - set(usable["segment"]), key=str)
                tests.append({
                    "level": level, "arm": arm, "outcome": outcome,
                    "segments": len(usable), "left_out": left_out,
                    "q": None if result is None else result.q,
                    "df": None if result is None else result.df,
                    "p_value": None if result is None else result.p_value,
                    "i_squared": None if result is None else result.i_squared,
                    "pooled_effect": None if result is None else result.pooled_effect,
                })
    p = np.array([t["p_value"] if t["p_value"] is not None else np.nan for t in tests])
    q = benjamini_hochberg(p)
    for test, value in zip(tests, q, strict=True):
        test["q_value"] = None if np.isnan(value) else float(value)
    seg = [t["q_value"] for t in tests if t["level"] == "segment" and t["q_value"] is not None]
    return {"method": "Cochran's Q: sum of w (effect - pooled effect)^2 over the segments, "
                      "w = 1 / se^2, chi-square on segments - 1 df; I^2 = (Q - df) / Q; "
                      "segments whose effect has no standard error (too few users, or no "
                      "variation) are left out; q_value: BH over all these tests",
            "p_value": min(seg) if seg else None,
            "p_value_means": "the smallest BH q of the segment-level tests: evidence that "
                             "the effect differs between segments for some arm and outcome",
            "tests": tests}


def _arm_table(sums: pd.DataFrame, i: int, arms: Sequence[str], min_users: int
               ) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray, Any]:
    """Segments x arms arrays of means, standard errors, users; and a 'usable' mask."""
    seg = sums[sums["level"] == "segment"]
    segments = list(dict.fromkeys(seg["segment"]))
    shape = (len(segments), len(arms))
    mean, se, n = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    index = {(r.segment, r.arm): r for r in seg.itertuples()}
    for s, name in enumerate(segments):
        for a, arm in enumerate(arms):
            row = index.get((name, arm))
            if row is None or not getattr(row, f"n_{i}"):
                continue
            k = float(getattr(row, f"n_{i}"))
            raw = getattr(row, f"v_{i}")
            var = 0.0 if raw is None or (isinstance(raw, float) and math.isnan(raw)) else raw
            mean[s, a], se[s, a], n[s, a] = getattr(row, f"m_{i}"), math.sqrt(var / k), k
    usable = (n >= min_users).all(axis=1)
    return segments, mean, se, n, usable


def _draws(mean: np.ndarray, se: np.ndarray, bootstrap: int, rng: np.random.Generator
           ) -> np.ndarray:
    return mean[None] + se[None] * rng.standard_normal((bootstrap, *mean.shape))


def _best_arms(sums: pd.DataFrame, outcomes: Sequence[str], control: str,
               treated: Sequence[str], alpha: float, bootstrap: int,
               rng: np.random.Generator, min_users: int) -> dict[str, Any]:
    arms = [control, *treated]
    z = z_value(alpha)
    rows: list[dict[str, Any]] = []
    for i, outcome in enumerate(outcomes):
        segments, mean, se, n, usable = _arm_table(sums, i, arms, min_users)
        draws = _draws(mean, se, bootstrap, rng)
        winners = draws.argmax(axis=2)
        for s, name in enumerate(segments):
            if not usable[s]:
                rows.append({"segment": name, "outcome": outcome, "best_arm": None,
                             "note": f"too few users: an arm has fewer than {min_users}"})
                continue
            order = np.argsort(-mean[s], kind="stable")
            best, second = int(order[0]), int(order[1])
            lead = float(mean[s, best] - mean[s, second])
            lead_se = math.sqrt(se[s, best] ** 2 + se[s, second] ** 2)
            low, high = lead - z * lead_se, lead + z * lead_se
            rows.append({"segment": name, "outcome": outcome, "best_arm": arms[best],
                         "mean": float(mean[s, best]), "runner_up": arms[second],
                         "lead": lead, "lead_ci_low": low, "lead_ci_high": high,
                         "probability_best": float(np.mean(winners[:, s] == best)),
                         "clear": bool(low > 0)})
    return {"method": "arm with the highest mean in the segment (the control included); "
                      "lead over the runner-up with a normal CI, se = sqrt(se_best^2 + "
                      "se_second^2); probability_best: share of parametric bootstrap draws "
                      f"(each mean ~ N(mean, var / n), {bootstrap} draws, seeded) in which "
                      "it is the highest; clear when the lead's CI excludes 0",
            "segments": rows}


def _targeting(sums: pd.DataFrame, halves: pd.DataFrame, outcomes: Sequence[str], control: str,
               treated: Sequence[str], alpha: float, bootstrap: int,
               rng: np.random.Generator, min_users: int) -> dict[str, Any]:
    arms = [control, *treated]
    rows: list[dict[str, Any]] = []
    for i, outcome in enumerate(outcomes):
        segments, mean, se, n, usable = _arm_table(sums, i, arms, min_users)
        weights = n.sum(axis=1) / n.sum()

        def values(m: np.ndarray, usable: np.ndarray = usable,
                   weights: np.ndarray = weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            single = np.einsum("s,...sa->...a", weights, m)
            best_single = single.argmax(axis=-1)
            pick = np.where(usable, m.argmax(axis=-1), best_single[..., None])
            chosen = np.take_along_axis(m, pick[..., None], axis=-1)[..., 0]
            return (chosen * weights).sum(axis=-1), single.max(axis=-1), single[..., 0]

        target, single, none = values(mean)
        d_target, d_single, _ = values(_draws(mean, se, bootstrap, rng))
        gain = d_target - d_single
        lo, hi = np.quantile(gain, [alpha / 2, 1 - alpha / 2])
        single_arm = arms[int(np.einsum("s,sa->a", weights, mean).argmax())]
        policy = {str(seg): (arms[int(mean[s].argmax())] if usable[s] else single_arm)
                  for s, seg in enumerate(segments)}
        honest = _cross_fitted(halves, i, arms, segments, weights, alpha, min_users)
        rows.append({"outcome": outcome, "targeted": float(target),
                     "single_best_arm": single_arm, "single_best": float(single),
                     "everyone_control": float(none), "gain": float(target - single),
                     "gain_ci_low": float(lo), "gain_ci_high": float(hi),
                     "relative_gain": float((target - single) / single) if single else None,
                     **honest,
                     "policy": policy,
                     "segments_on_single_arm": [str(s) for s, ok in zip(segments, usable,
                                                                       strict=True) if not ok]})
    return {"method": "mean outcome per user if each segment gets the arm with its highest "
                      "mean (targeted) vs everyone the single arm with the highest mean "
                      "(single_best), segments weighted by their users; gain CI: percentile "
                      f"interval of {bootstrap} parametric bootstrap draws (seeded) that "
                      "re-choose the arms in each draw. Optimistic: the same data choose and "
                      "score the arms, and the gain is never negative, so a lower bound near "
                      "0 is no evidence that targeting pays. Segments with too few users in "
                      "an arm get the single best arm. cross_fitted_gain is the honest "
                      "figure: the arms are chosen on one half of the users (by a hash of "
                      "the user id) and scored on the other half, both ways, averaged; its "
                      "CI is normal, from the scoring halves' standard errors",
            "outcomes": rows}


def _cross_fitted(halves: pd.DataFrame, i: int, arms: Sequence[str], segments: list[Any],
                  weights: np.ndarray, alpha: float, min_users: int) -> dict[str, Any]:
    """Choose the policy on one half, score it against the single best arm on the other."""
    tables = []
    for fold in (0, 1):
        part = halves[halves["fold"] == fold]
        names, mean, std, n, _ = _arm_table(part, i, arms, 1)
        index = {name: k for k, name in enumerate(names)}
        pick = np.array([index.get(s, -1) for s in segments])
        known = pick[:, None] >= 0
        tables.append(tuple(np.where(known, a[np.maximum(pick, 0)], 0.0)
                            for a in (mean, std, n)))
    gains, variances = [], []
    for choose, score in ((0, 1), (1, 0)):
        m_c, _, n_c = tables[choose]
        m_s, se_s, n_s = tables[score]
        usable = (n_c >= max(min_users // 2, 2)).all(axis=1) & (n_s >= 2).all(axis=1)
        single = int((weights @ m_c).argmax())
        policy = np.where(usable, m_c.argmax(axis=1), single)
        at = np.arange(len(segments))
        diff = m_s[at, policy] - m_s[at, single]
        var = np.where(policy != single, se_s[at, policy] ** 2 + se_s[at, single] ** 2, 0.0)
        gains.append(float(weights @ diff))
        variances.append(float((weights ** 2) @ var))
    gain = (gains[0] + gains[1]) / 2.0
    se = math.sqrt(variances[0] + variances[1]) / 2.0
    z = z_value(alpha)
    return {"cross_fitted_gain": gain, "cross_fitted_ci_low": gain - z * se,
            "cross_fitted_ci_high": gain + z * se, "cross_fitted_halves": gains}


def _curves(cells: pd.DataFrame, arms: Sequence[str], outcomes: Sequence[str]
            ) -> dict[str, Any]:
    curves: list[dict[str, Any]] = []
    for arm in arms:
        for outcome in outcomes:
            rows = cells[(cells["level"] == "segment") & (cells["arm"] == arm)
                         & (cells["outcome"] == outcome) & np.isfinite(cells["effect"])]
            if rows.empty:
                continue
            rows = rows.sort_values("effect", ascending=False, kind="stable")
            users = (rows["n_treated"] + rows["n_control"]).to_numpy(dtype=float)
            share = users / users.sum()
            x = np.concatenate([[0.0], np.cumsum(share)])
            y = np.concatenate([[0.0], np.cumsum(share * rows["effect"].to_numpy())])
            area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0) - y[-1] / 2.0)
            curves.append({"arm": arm, "outcome": outcome,
                           "segments": ["start", *map(str, rows["segment"])],
                           "share_targeted": x.round(6).tolist(),
                           "incremental_per_user": y.tolist(), "overall_effect": float(y[-1]),
                           "qini_coefficient": area})
    return {"method": "segments ranked by effect (highest first); share_targeted: cumulative "
                      "share of the experiment's users; incremental_per_user: sum of share x "
                      "effect of the segments treated so far (outcome gained per user of the "
                      "whole population); random targeting is the straight line to the "
                      "overall effect; qini_coefficient: area between the curve and that line",
            "curves": curves}
