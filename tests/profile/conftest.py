"""Hand-made profiles for the persona and opportunity tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest


def profile_rows(effects: dict[int, dict[str, float]], kind: str = "number",
                 sizes: dict[int, int] | None = None) -> pd.DataFrame:
    """Hand-made profiles: segment -> feature -> effect size (all significant)."""
    sizes = sizes or {s: 100 for s in effects}
    total = sum(sizes.values())
    rows = []
    for seg, features in effects.items():
        for feature, effect in features.items():
            rows.append({"segment": seg, "size": sizes[seg], "share": sizes[seg] / total,
                         "feature": feature, "kind": kind, "mean": 10.0 + effect,
                         "median": 10.0, "std": 1.0, "overall_mean": 10.0, "overall_std": 1.0,
                         "z_score": effect / 2, "rest_mean": 10.0 - effect / 3,
                         "effect_size": effect, "lift": np.nan, "test": "Welch t",
                         "p_value": 1e-6, "p_adjusted": 1e-5, "significant": True,
                         "distinguishing": abs(effect) >= 0.2})
    return pd.DataFrame(rows)


@pytest.fixture
def make_profiles() -> Callable[..., pd.DataFrame]:
    return profile_rows
