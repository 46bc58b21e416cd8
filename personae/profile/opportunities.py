"""The innovation opportunity matrix: segments x themes, scored by size and unmet need."""

from __future__ import annotations

import numpy as np
import pandas as pd

from personae.features.semantics import Semantics
from personae.profile.segments import MIN_EFFECT

EFFECT_CAP = 2.0
RULE = (
    "score = share of users in the segment x unmet need, scaled so the best cell is 100. "
    "Unmet need of a segment in a theme = sum, over that theme's features whose difference "
    "from everyone else is distinguishing (BH-corrected q < 0.05 and |effect| >= 0.2) and "
    "points the way the feature's meaning marks as a pain (e.g. high return share, low "
    "frequency), of |Cohen's d| capped at 2 (categories: |share difference| x 4). "
    "0 = no pain signal in the data, not 'no need'."
)


def opportunity_matrix(profiles: pd.DataFrame, semantics: Semantics | None = None
                       ) -> pd.DataFrame:
    """Long table: segment, theme, share, need, score, features (the pain signals used)."""
    semantics = semantics or Semantics()
    rows = profiles
    if "distinguishing" in rows.columns:
        rows = rows[rows["distinguishing"].astype(bool)]
        effects = rows["effect_size"].to_numpy(dtype=float)
    else:
        rows = rows[rows["z_score"].abs() >= MIN_EFFECT]
        effects = rows["z_score"].to_numpy(dtype=float)
    weight = np.where(rows["kind"] == "category", 4.0, 1.0)
    strength = np.minimum(np.abs(effects) * weight, EFFECT_CAP)
    need: dict[tuple[int, str], float] = {}
    signals: dict[tuple[int, str], list[str]] = {}
    for (segment, feature), effect, value in zip(
            zip(rows["segment"], rows["feature"], strict=True), effects, strength,
            strict=True):
        meaning = semantics.describe(str(feature))
        direction = "high" if effect > 0 else "low"
        if meaning.pain_when is None or meaning.pain_when != direction:
            continue
        for theme in meaning.themes:
            key = (int(segment), theme)
            need[key] = need.get(key, 0.0) + float(value)
            signals.setdefault(key, []).append(str(feature))
    segments = sorted(int(s) for s in profiles["segment"].unique())
    shares = profiles.groupby("segment")["share"].first()
    themes = sorted({t for (_, t) in need}) or ["(none)"]
    table = pd.DataFrame([
        {"segment": s, "theme": t, "share": float(shares.loc[s]),
         "need": round(need.get((s, t), 0.0), 6),
         "features": ", ".join(signals.get((s, t), []))}
        for s in segments for t in themes
    ])
    raw = table["share"] * table["need"]
    top = raw.max()
    table["score"] = (100 * raw / top).round(1) if top > 0 else 0.0
    return table
