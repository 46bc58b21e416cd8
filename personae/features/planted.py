"""A generated event log whose groups differ ONLY in the order of events (a known answer).

Every user has the same number of sessions, the same events in each session (two views,
a cart, a purchase and a search), the same gaps between events and between sessions, and
the same purchase value: counts, RFM and session features are identical in distribution
across groups. Each group has its own order of the events within a session; a share
``noise`` of sessions is shuffled at random instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

ORDERS: tuple[tuple[str, ...], ...] = (
    ("search", "view", "view", "cart", "purchase"),
    ("purchase", "search", "view", "view", "cart"),
    ("cart", "purchase", "view", "search", "view"),
    ("view", "cart", "search", "purchase", "view"),
    ("view", "search", "purchase", "view", "cart"),
    ("cart", "view", "view", "purchase", "search"),
)


def planted_order_log(users_per_group: int = 100, groups: int = 4, sessions: int = 3,
                      noise: float = 0.15, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """The event log (user_id, timestamp, event_type, value) and each user's group."""
    if not 2 <= groups <= len(ORDERS):
        raise ValueError(f"groups must be in 2..{len(ORDERS)}; got {groups}")
    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1)
    rows: list[tuple[int, datetime, str, float]] = []
    truth: dict[int, int] = {}
    user = 0
    for group in range(groups):
        for _ in range(users_per_group):
            user += 1
            truth[user] = group
            first = start + timedelta(days=int(rng.integers(0, 60)))
            for s in range(sessions):
                order = list(ORDERS[group])
                if rng.random() < noise:
                    rng.shuffle(order)
                t0 = first + timedelta(days=7 * s, minutes=int(rng.integers(0, 600)))
                for i, name in enumerate(order):
                    rows.append((user, t0 + timedelta(minutes=2 * i), name,
                                 20.0 if name == "purchase" else 0.0))
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "event_type", "value"])
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return frame, pd.Series(truth, name="group")
