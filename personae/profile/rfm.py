"""The classic RFM baseline: R, F and M scored 1-5 by quintile, and the named R x F map.

Scores follow the stored cut points (the 20/40/60/80% quantiles of the training users), so
a new user is scored by the same cuts. Ties stay together: the score is a function of the
value alone (users with the same number of orders always get the same F score), so a
heavily tied column can use fewer than five scores. For frequency and monetary value a
higher value scores higher, ``1 + #(cuts < value)``; for recency (days since the last
purchase) a more recent user scores higher, ``5 - #(cuts < value)``.

The named map reads R then F (Fader's grid, as marketing tools print it); see ``RFM_MAP``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personae.errors import DataError

QUANTILES = (0.2, 0.4, 0.6, 0.8)
RECENCY, FREQUENCY, MONETARY = "recency_days", "frequency", "monetary_total"

# (name, R scores, F scores): every (R, F) cell of the 5 x 5 grid is in exactly one row.
RFM_MAP: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("Champions", (5,), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential loyalists", (4, 5), (2, 3)),
    ("New", (5,), (1,)),
    ("Promising", (4,), (1,)),
    ("Need attention", (3,), (3,)),
    ("About to sleep", (3,), (1, 2)),
    ("At risk", (1, 2), (3, 4)),
    ("Can't lose", (1, 2), (5,)),
    ("Hibernating", (1, 2), (1, 2)),
)
RFM_RULE = "; ".join(
    f"{name}: R {'/'.join(map(str, r))}, F {'/'.join(map(str, f))}" for name, r, f in RFM_MAP)

__all__ = ["RFMCuts", "RFM_MAP", "RFM_RULE", "fit_rfm", "rfm_crosstab", "rfm_name",
           "score_rfm"]


def rfm_name(r: int, f: int) -> str:
    """The classic segment name of one (R, F) score pair."""
    for name, rs, fs in RFM_MAP:
        if r in rs and f in fs:
            return name
    raise ValueError(f"rfm_name: R and F must be scores 1-5; got R={r}, F={f}")


@dataclass(frozen=True)
class RFMCuts:
    """The cut points of each score (four ascending values each) and their columns."""

    recency: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...] | None
    columns: tuple[str, str, str | None] = (RECENCY, FREQUENCY, MONETARY)

    def to_dict(self) -> dict[str, Any]:
        return {"quantiles": list(QUANTILES), "columns": list(self.columns),
                "recency": list(self.recency), "frequency": list(self.frequency),
                "monetary": None if self.monetary is None else list(self.monetary),
                "rule": RFM_RULE}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RFMCuts:
        try:
            cols = tuple(data["columns"])
            cuts = [None if data[k] is None else tuple(float(v) for v in data[k])
                    for k in ("recency", "frequency", "monetary")]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not RFM cut points ({exc.__class__.__name__}: {exc})",
                            source="rfm cut points") from None
        if cuts[0] is None or cuts[1] is None or len(cols) != 3 or \
                any(c is not None and len(c) != len(QUANTILES) for c in cuts):
            raise DataError("RFM cut points need four values for recency, frequency "
                            "(and monetary, or null) and three column names",
                            source="rfm cut points")
        return cls(cuts[0], cuts[1], cuts[2], (cols[0], cols[1], cols[2]))


def _column(features: pd.DataFrame, name: str, source: str) -> np.ndarray:
    if name not in features.columns:
        raise DataError(f"RFM needs column {name!r}; columns are {list(features.columns)[:12]}",
                        source=source, column=name)
    values = pd.to_numeric(features[name], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise DataError(f"{len(bad):,} missing or non-numeric values; RFM needs a number for "
                        "every user", source=source, column=name, row=int(bad[0]))
    return values


def fit_rfm(features: pd.DataFrame, *, recency: str = RECENCY, frequency: str = FREQUENCY,
            monetary: str | None = MONETARY, source: str = "features") -> RFMCuts:
    """Cut points from the training users (one row a user). ``monetary=None`` skips M;
    a monetary column that is absent is skipped too (a log without values)."""
    if len(features) == 0:
        raise DataError("no users to score", source=source)
    if monetary is not None and monetary not in features.columns:
        monetary = None

    def cuts(name: str) -> tuple[float, ...]:
        return tuple(float(v) for v in np.quantile(_column(features, name, source), QUANTILES))

    return RFMCuts(cuts(recency), cuts(frequency), cuts(monetary) if monetary else None,
                   (recency, frequency, monetary))


def _higher(values: np.ndarray, cuts: tuple[float, ...]) -> np.ndarray:
    return 1 + np.searchsorted(np.asarray(cuts), values, side="left")


def score_rfm(features: pd.DataFrame, cuts: RFMCuts, source: str = "features"
              ) -> pd.DataFrame:
    """Per user (same order): ``r_score``, ``f_score``, ``m_score`` (when M was fitted),
    ``rfm_score`` (the digits, e.g. "545") and ``rfm_segment`` (the classic name)."""
    rec, freq, mon = cuts.columns
    r = 6 - _higher(_column(features, rec, source), cuts.recency)
    f = _higher(_column(features, freq, source), cuts.frequency)
    out = pd.DataFrame({"r_score": r.astype(np.int8), "f_score": f.astype(np.int8)},
                       index=features.index)
    digits = out["r_score"].astype(str) + out["f_score"].astype(str)
    if cuts.monetary is not None and mon is not None:
        out["m_score"] = _higher(_column(features, mon, source), cuts.monetary).astype(np.int8)
        digits = digits + out["m_score"].astype(str)
    out["rfm_score"] = digits
    grid = {(rr, ff): rfm_name(rr, ff) for rr in range(1, 6) for ff in range(1, 6)}
    out["rfm_segment"] = [grid[(int(a), int(b))] for a, b in zip(r, f, strict=True)]
    return out


def rfm_crosstab(persona: pd.Series | np.ndarray, rfm_segment: pd.Series | np.ndarray,
                 names: dict[int, str] | None = None, users: np.ndarray | None = None
                 ) -> pd.DataFrame:
    """Users per persona (rows) and RFM segment (columns, in map order), with a share
    column per row: how marketing's familiar segments fall across the personas.
    ``users``: how many users each (persona, RFM segment) row stands for (default one)."""
    persona = pd.Series(np.asarray(persona), name="persona")
    rfm = pd.Categorical(np.asarray(rfm_segment), categories=[n for n, _, _ in RFM_MAP])
    weights = np.ones(len(persona), dtype=np.int64) if users is None else np.asarray(users)
    table = pd.crosstab(persona, pd.Series(rfm, name="rfm_segment"), values=weights,
                        aggfunc="sum", dropna=False).fillna(0).astype(np.int64)
    table = table.reindex(columns=[n for n, _, _ in RFM_MAP], fill_value=0)
    if names:
        table.index = [names.get(int(p), f"segment {p}") for p in table.index]
        table.index.name = "persona"
    table["users"] = table.sum(axis=1)
    return table
