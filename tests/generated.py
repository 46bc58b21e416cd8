"""Generated users with a known answer, for tests and benchmarks alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs


def blob_users(n: int = 3000, k: int = 5, n_features: int = 6, seed: int = 0,
               spread: float = 1.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Users in ``k`` well-separated groups; returns the table and the true group of each."""
    X, truth = make_blobs(n_samples=n, centers=k, n_features=n_features,
                          cluster_std=spread, center_box=(-12, 12), random_state=seed)
    frame = pd.DataFrame(X, columns=[f"metric_{i}" for i in range(n_features)])
    frame.insert(0, "user_id", [f"u{i:05d}" for i in range(n)])
    return frame, truth
