"""Where users went: segment shares before and after, and user-by-user transitions."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from personae.monitor.stats import psi, psi_verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShiftSummary:
    psi: float
    verdict: str
    p_value: float
    reference_users: int
    new_users: int

    def as_dict(self) -> dict[str, object]:
        return {"psi": self.psi, "verdict": self.verdict, "p_value": self.p_value,
                "reference_users": self.reference_users, "new_users": self.new_users}


def segment_shift(reference_sizes: dict[int, int], new_labels: np.ndarray,
                  names: dict[int, str] | None = None) -> tuple[pd.DataFrame, ShiftSummary]:
    """Share per segment before and after with a two-proportion z-test p-value per segment
    and its PSI term; the summary holds the PSI of the whole segment distribution and a
    chi-square p-value (a side figure: large samples reject anything)."""
    from scipy.stats import chi2_contingency, norm

    labels = np.asarray(new_labels)
    edge = int(np.sum(labels < 0))
    counts = np.bincount(labels[labels >= 0] if edge else labels)
    new_sizes = {s: int(n) for s, n in enumerate(counts.tolist()) if n}
    if edge:
        new_sizes[-1] = edge
    segments = sorted(set(reference_sizes) | set(new_sizes))
    before = np.array([reference_sizes.get(s, 0) for s in segments], dtype=np.float64)
    after = np.array([new_sizes.get(s, 0) for s in segments], dtype=np.float64)
    n0, n1 = before.sum(), after.sum()
    p0, p1 = before / max(n0, 1), after / max(n1, 1)
    pooled = (before + after) / max(n0 + n1, 1)
    se = np.sqrt(pooled * (1 - pooled) * (1 / max(n0, 1) + 1 / max(n1, 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p1 - p0) / se, 0.0)
    e, a = np.maximum(p0, 1e-4), np.maximum(p1, 1e-4)
    names = names or {}
    table = pd.DataFrame({
        "segment": segments,
        "persona": [names.get(s, "edge users" if s < 0 else f"segment {s}") for s in segments],
        "reference_users": before.astype(np.int64), "reference_share": p0,
        "new_users": after.astype(np.int64), "new_share": p1, "share_change": p1 - p0,
        "psi_term": (a - e) * np.log(a / e), "p_value": 2 * norm.sf(np.abs(z)),
    })
    contingency = np.vstack([before, after])
    contingency = contingency[:, contingency.sum(axis=0) > 0]
    p = float(chi2_contingency(contingency, correction=False)[1]) \
        if contingency.shape[1] > 1 and n0 > 0 and n1 > 0 else float("nan")
    total = psi(p0, p1)
    return table, ShiftSummary(total, psi_verdict(total), p, int(n0), int(n1))


def transitions(old_ids: pd.Series, old_labels: np.ndarray, new_ids: pd.Series,
                new_labels: np.ndarray) -> pd.DataFrame:
    """``from_segment``, ``to_segment``, ``users`` for the users present in both (each
    counted once: a repeated id keeps its first row); the ``users`` sum is their number."""
    a, b = _key(old_ids), _key(new_ids)
    if a.dtype != b.dtype:  # one side numbers, the other text: compare as text
        a, b = a.astype(str), b.astype(str)
    old = pd.DataFrame({"id": a, "from_segment": np.asarray(old_labels)})
    new = pd.DataFrame({"id": b, "to_segment": np.asarray(new_labels)})
    old = old.drop_duplicates("id")
    new = new[new["id"].isin(old["id"])].drop_duplicates("id")  # big side: filter first
    both = old.merge(new, on="id", how="inner")
    table = (both.groupby(["from_segment", "to_segment"]).size().rename("users")
             .reset_index())
    log.info("transitions: %d users in both", len(both))
    return table.astype({"from_segment": np.int64, "to_segment": np.int64,
                         "users": np.int64})


def transition_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """Users from each old segment (rows) to each new one (columns)."""
    matrix = table.pivot_table(index="from_segment", columns="to_segment", values="users",
                               aggfunc="sum", fill_value=0)
    matrix.index.name, matrix.columns.name = "from_segment", None
    return matrix.rename(columns=lambda c: f"to_{c}").reset_index()


def stayed_share(table: pd.DataFrame) -> float:
    """Share of users in both whose segment did not change (NaN when none are in both)."""
    total = int(table["users"].sum())
    same = int(table.loc[table["from_segment"] == table["to_segment"], "users"].sum())
    return same / total if total else float("nan")


def _key(ids: pd.Series) -> pd.Series:
    """Ids comparable across files (12345, 12345.0 and '12345' are the same user)."""
    values = pd.Series(ids).reset_index(drop=True)
    if pd.api.types.is_integer_dtype(values) and not values.hasnans:
        return values.astype("int64")
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        whole = numbers.notna() & (numbers % 1 == 0)
        if whole.all():
            return numbers.astype("int64")
        return values.astype(str)
    text = values.astype(str).str.strip()
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().all() and (numeric % 1 == 0).all():
        return numeric.astype("int64")
    return text
