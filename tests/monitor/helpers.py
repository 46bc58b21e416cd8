"""Generated users with planted truths for the monitor's tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

CENTERS = [[0.0, 0.0, 0.0, 0.0], [8.0, 0.0, 0.0, 0.0], [0.0, 8.0, 0.0, 0.0]]
FEATURES = [f"m{i}" for i in range(4)]


def planted_users(n: int = 2400, seed: int = 0, centers: list[list[float]] | None = None
                  ) -> tuple[pd.DataFrame, np.ndarray]:
    """Users in well-separated groups, a 'plan' category tied to group 0; the true group."""
    centers = centers or CENTERS
    rng = np.random.default_rng(seed)
    group = rng.integers(0, len(centers), n)
    X = np.asarray(centers)[group] + rng.normal(size=(n, len(centers[0])))
    frame = pd.DataFrame(X, columns=FEATURES[: X.shape[1]])
    frame.insert(0, "user_id", [f"u{i:05d}" for i in range(n)])
    frame["plan"] = np.where(group == 0, "gold", "basic")
    return frame, group
