"""Event logs with a planted truth, and CDNOW's summaries, for the forecast tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CDNOW = Path(__file__).resolve().parents[3] / "shared" / "data" / "cdnow"
CALIBRATION_END = pd.Timestamp("1997-09-30")


def planted_log(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, dict[int, str]]:
    """A year of purchases: 'regular' users buy about weekly all year; 'gone' users bought
    about weekly for the first half, then never again; 'once' users bought once. Each
    purchase is a 'purchase' event and a 'view' before it; one user in ten returns
    something (negative value)."""
    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-31")
    rows, truth = [], {}
    for u in range(n):
        kind = ("regular", "gone", "once")[u % 3]
        truth[u] = kind
        t = start + pd.Timedelta(days=float(rng.uniform(0, 20)))
        stop = end if kind == "regular" else start + pd.Timedelta(days=180)
        while t < stop:
            rows.append({"user_id": u, "time": t - pd.Timedelta(minutes=5), "event": "view",
                         "value": 0.0})
            rows.append({"user_id": u, "time": t, "event": "purchase",
                         "value": float(rng.gamma(4, 10))})
            if kind == "once":
                break
            t += pd.Timedelta(days=float(rng.exponential(7)) + 0.5)
        if u % 10 == 0:
            rows.append({"user_id": u, "time": t - pd.Timedelta(days=1), "event": "return",
                         "value": -15.0})
    log = pd.DataFrame(rows)
    return log[log["time"] <= end + pd.Timedelta(hours=23)], truth


def cdnow_summaries(log: pd.DataFrame) -> pd.DataFrame:
    """CDNOW's per-customer summaries of the paper's calibration period (39 weeks)."""
    from personae.forecast.summaries import event_days, summarise

    days = event_days(log, {"user": "customer_id", "time": "date", "value": "dollar_value"},
                      log["customer_id"], purchases=True)
    return summarise(days.until(CALIBRATION_END), CALIBRATION_END)
