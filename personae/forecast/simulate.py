"""Users drawn from the BG/NBD story (or MBG/NBD's, by the parameters' variant) with planted
parameters: the known answer the fit is tested and benchmarked against."""

from __future__ import annotations

import numpy as np
import pandas as pd

from personae.forecast.bgnbd import BGNBDParams

__all__ = ["simulate_bgnbd"]


def simulate_bgnbd(params: BGNBDParams, n: int, observed: tuple[float, float], *,
                   random_state: int = 0) -> pd.DataFrame:
    """``n`` users' ``SUMMARY_COLUMNS`` (days; no spend), each observed for a time drawn
    uniformly from ``observed`` (in the parameters' unit) after a first event at 0."""
    rng = np.random.default_rng(random_state)
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    leave = rng.beta(params.a, params.b, n)
    T = rng.uniform(*observed, n)
    # repeat events made before leaving, the last included; MBG/NBD: the user may also
    # leave right after the first event, before any repeat
    lives = rng.geometric(leave) - (params.variant == "MBG/NBD")
    x = np.zeros(n)
    t_x = np.zeros(n)
    clock = np.zeros(n)
    active = np.arange(n)
    while len(active):
        clock[active] += rng.exponential(1.0 / np.maximum(rate[active], 1e-12))
        made = (clock[active] <= T[active]) & (x[active] < lives[active])
        active = active[made]
        x[active] += 1
        t_x[active] = clock[active]
    unit = params.unit_days
    return pd.DataFrame({"repeat_events": x, "first_to_last_days": t_x * unit,
                         "observed_days": T * unit, "mean_repeat_spend": np.nan})
