"""Merge / split / sunset / retrain suggestions, each in plain words with its reason.

Thresholds (stated, not tuned):

- merge two segments when their centroids differ by less than ``MERGE_MAX_EFFECT`` (0.2)
  training standard deviations on every feature (below Cohen's "small" effect);
- split a segment that became bimodal (Sarle's bimodality coefficient of its users along
  their first principal axis above 5/9, the value of a uniform distribution, when it was
  not at training) or grew to ``SPLIT_GROWTH`` (1.5) times its training share and by at
  least 5 points;
- sunset a segment under the size floor (``SUNSET_SHARE`` 1% of the users or
  ``SUNSET_USERS`` 5 users);
- retrain when a feature drifted significantly (PSI >= 0.25), when ``RETRAIN_MODERATE`` (3)
  or more drifted moderately, when the segment distribution shifted (PSI >= 0.1), when
  more than ``RETRAIN_NOVEL`` (5%) of the users are novel (farther from every segment than
  almost all training users), or when fewer than ``RETRAIN_STAYED`` (70%) of the users in
  both stayed in their segment; a merge, split or sunset suggestion is also a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from personae.monitor.stats import BIMODAL

MERGE_MAX_EFFECT = 0.2
SPLIT_GROWTH = 1.5
SPLIT_MIN_POINTS = 0.05
SUNSET_SHARE = 0.01
SUNSET_USERS = 5
RETRAIN_SIGNIFICANT_PSI = 0.25
RETRAIN_MODERATE = 3
RETRAIN_SEGMENT_PSI = 0.1
RETRAIN_NOVEL = 0.05
RETRAIN_STAYED = 0.7


@dataclass(frozen=True)
class SegmentState:
    """The segments as the new data shows them (centroids in the model's space)."""

    segments: list[int]
    names: dict[int, str]
    sizes: np.ndarray
    reference_shares: np.ndarray  # NaN where the segment did not exist before
    centroids: np.ndarray
    space_sd: np.ndarray
    space_features: list[str]
    bimodality: np.ndarray
    reference_bimodality: np.ndarray


@dataclass(frozen=True)
class Governance:
    suggestions: list[dict[str, Any]]
    retrain: bool
    retrain_reasons: list[str]
    thresholds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"retrain": self.retrain, "retrain_reasons": self.retrain_reasons,
                "suggestions": self.suggestions, "thresholds": self.thresholds}


def _name(state: SegmentState, s: int) -> str:
    return state.names.get(s, f"segment {s}")


def segment_suggestions(state: SegmentState) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    total = max(float(state.sizes.sum()), 1.0)
    shares = state.sizes / total
    present = state.sizes > 0
    for a in range(len(state.segments)):
        for b in range(a + 1, len(state.segments)):
            if not (present[a] and present[b]):
                continue
            diff = np.abs((state.centroids[a] - state.centroids[b]) / state.space_sd)
            largest = int(np.argmax(diff))
            if diff[largest] < MERGE_MAX_EFFECT:
                sa, sb = state.segments[a], state.segments[b]
                out.append({
                    "action": "merge", "segments": [sa, sb],
                    "reason": f"{_name(state, sa)} and {_name(state, sb)} no longer differ: "
                              f"their centroids are within {diff[largest]:.2f} training SDs "
                              f"on every feature (largest: {state.space_features[largest]}; "
                              f"threshold {MERGE_MAX_EFFECT})",
                    "largest_difference_sd": float(diff[largest])})
    for i, s in enumerate(state.segments):
        ref_share = state.reference_shares[i]
        bc, ref_bc = state.bimodality[i], state.reference_bimodality[i]
        if present[i] and bc > BIMODAL and not ref_bc > BIMODAL:
            out.append({"action": "split", "segments": [s],
                        "reason": f"{_name(state, s)} became bimodal: bimodality coefficient "
                                  f"{bc:.2f} (> {BIMODAL:.3f}; {ref_bc:.2f} at training)",
                        "bimodality": float(bc)})
        elif np.isfinite(ref_share) and shares[i] >= SPLIT_GROWTH * ref_share and \
                shares[i] - ref_share >= SPLIT_MIN_POINTS:
            out.append({"action": "split", "segments": [s],
                        "reason": f"{_name(state, s)} grew from {ref_share:.1%} to "
                                  f"{shares[i]:.1%} of users (>= {SPLIT_GROWTH}x and 5 "
                                  "points): it may now hold more than one group",
                        "share": float(shares[i])})
        if shares[i] < SUNSET_SHARE or state.sizes[i] < SUNSET_USERS:
            out.append({"action": "sunset", "segments": [s],
                        "reason": f"{_name(state, s)} holds {int(state.sizes[i]):,} users "
                                  f"({shares[i]:.2%}), under the size floor ({SUNSET_SHARE:.0%} "
                                  f"or {SUNSET_USERS} users)",
                        "share": float(shares[i])})
    return out


def govern(state: SegmentState, drift: pd.DataFrame | None, segment_psi: float | None,
           novel_share: float | None, stayed: float | None) -> Governance:
    suggestions = segment_suggestions(state)
    reasons: list[str] = []
    if drift is not None and len(drift):
        significant = drift.loc[drift["psi"] >= RETRAIN_SIGNIFICANT_PSI, "feature"].tolist()
        moderate = drift.loc[(drift["psi"] >= 0.1) & (drift["psi"] < 0.25), "feature"].tolist()
        if significant:
            reasons.append(f"{len(significant)} feature(s) drifted significantly (PSI >= "
                           f"{RETRAIN_SIGNIFICANT_PSI}): {', '.join(significant)}")
        if len(moderate) >= RETRAIN_MODERATE:
            reasons.append(f"{len(moderate)} features drifted moderately (0.1 <= PSI < 0.25; "
                           f"threshold {RETRAIN_MODERATE} features): {', '.join(moderate)}")
    if segment_psi is not None and segment_psi >= RETRAIN_SEGMENT_PSI:
        reasons.append(f"the segment distribution shifted: PSI {segment_psi:.3f} >= "
                       f"{RETRAIN_SEGMENT_PSI}")
    if novel_share is not None and novel_share > RETRAIN_NOVEL:
        reasons.append(f"{novel_share:.1%} of the users are novel (farther from every segment "
                       f"than almost all training users; threshold {RETRAIN_NOVEL:.0%})")
    if stayed is not None and np.isfinite(stayed) and stayed < RETRAIN_STAYED:
        reasons.append(f"only {stayed:.1%} of the users in both stayed in their segment "
                       f"(threshold {RETRAIN_STAYED:.0%})")
    for kind in ("merge", "split", "sunset"):
        found = [s for s in suggestions if s["action"] == kind]
        if found:
            reasons.append(f"{len(found)} {kind} suggestion(s)")
    return Governance(suggestions=suggestions, retrain=bool(reasons),
                      retrain_reasons=reasons or ["no threshold crossed"],
                      thresholds={
                          "merge_max_effect_sd": MERGE_MAX_EFFECT, "split_growth": SPLIT_GROWTH,
                          "split_min_points": SPLIT_MIN_POINTS, "bimodality": BIMODAL,
                          "sunset_share": SUNSET_SHARE, "sunset_users": SUNSET_USERS,
                          "retrain_significant_psi": RETRAIN_SIGNIFICANT_PSI,
                          "retrain_moderate_features": RETRAIN_MODERATE,
                          "retrain_segment_psi": RETRAIN_SEGMENT_PSI,
                          "retrain_novel_share": RETRAIN_NOVEL,
                          "retrain_stayed_share": RETRAIN_STAYED})
