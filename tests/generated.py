"""Generated users with a known answer, for tests and benchmarks alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs

from personae.cluster import algorithm_class, make_segmenter


def blob_users(n: int = 3000, k: int = 5, n_features: int = 6, seed: int = 0,
               spread: float = 1.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Users in ``k`` well-separated groups; returns the table and the true group of each."""
    X, truth = make_blobs(n_samples=n, centers=k, n_features=n_features,
                          cluster_std=spread, center_box=(-12, 12), random_state=seed)
    frame = pd.DataFrame(X, columns=[f"metric_{i}" for i in range(n_features)])
    frame.insert(0, "user_id", [f"u{i:05d}" for i in range(n)])
    return frame, truth


# Small known-answer sets of the clustering tests (float32, as the model clusters).


def blobs(n: int = 600, k: int = 3, d: int = 4, seed: int = 0,
          std: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=n, centers=k, n_features=d, cluster_std=std,
                      center_box=(-8, 8), random_state=seed)
    return X.astype(np.float32), y


def users(n: int = 900, k: int = 3, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = blobs(n=n, k=k, seed=seed)
    frame = pd.DataFrame(X, columns=[f"m{i}" for i in range(X.shape[1])])
    frame.insert(0, "user_id", [f"u{i}" for i in range(n)])
    return frame, y


def rings(n: int = 900, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A dense disc inside a ring: the ring's centre is the disc, not the ring."""
    rng = np.random.default_rng(seed)
    inner = rng.normal(0, 0.4, size=(n // 3, 2))
    angle = rng.uniform(0, 2 * np.pi, size=n - n // 3)
    radius = rng.normal(4.0, 0.25, size=angle.size)
    outer = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return np.vstack([inner, outer]), np.repeat([0, 1], [n // 3, n - n // 3])


def fit(name: str, X: np.ndarray, **params: object):  # type: ignore[no-untyped-def]
    if algorithm_class(name).uses_k:
        params.setdefault("k_range", (2, 5))
    return make_segmenter(name, **params).fit(X)


def telco_users(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Subscribers of a telco (columns named as in the public churn table): new fibre
    customers who pay a lot and leave, one-year DSL customers, two-year customers who pay
    little. ``MonthlyCharges`` is money (its name holds a timing word); ``signup_month`` is
    only timing; ``Country`` is the same for everyone."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    tenure = np.array([3, 30, 60])[group] + rng.integers(0, 6, n)
    monthly = np.array([90.0, 55.0, 25.0])[group] * rng.lognormal(0, 0.1, n)
    frame = pd.DataFrame({
        "customerID": [f"{i:04d}-TELCO" for i in range(n)],
        "gender": rng.choice(["Female", "Male"], n),
        "tenure": tenure,
        "MonthlyCharges": monthly.round(2),
        "TotalCharges": (monthly * tenure).round(2),
        "Contract": np.array(["Month-to-month", "One year", "Two year"])[group],
        "InternetService": np.where(group == 0, "Fiber optic", rng.choice(["DSL", "No"], n)),
        "Churn": np.where(group == 0, "Yes", "No"),
        "Country": "US",
        "signup_month": rng.integers(1, 13, n),
    })
    return frame, group
