"""Randomisation checks before any claim: one row per user, sample ratio, covariate balance.

- Duplicated users and users in more than one arm are refused (a DataError naming one).
- Sample ratio mismatch (SRM): Pearson chi-square goodness of fit of the users per arm
  against the expected split, overall and within each segment (segments are made from
  pre-treatment features, so randomisation should hold inside each); flagged at
  p < 0.001, the usual SRM threshold (the test is run on every experiment, so it must
  rarely cry wolf).
- Covariate balance: standardised mean difference of each segment feature between every
  treated arm and the control, (m_t - m_c) / sqrt((s_t^2 + s_c^2) / 2) (Austin 2009), on
  the shares of each value of a categorical feature and of each segment; |d| > 0.1 flagged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
from scipy import stats

from personae.errors import DataError
from personae.experiments.io import ARM, NUMERIC, quote_ident
from personae.experiments.stats import benjamini_hochberg

BALANCE_LIMIT = 0.1
TOP_VALUES = 20


def refuse_duplicates(con: duckdb.DuckDBPyConnection, relation: str, user: str, arm: str,
                      label: str) -> dict[str, int]:
    """Refuse users without an id, duplicated users and users in more than one arm."""
    u, a = quote_ident(user), quote_ident(arm)
    rows, users, no_user, no_arm = con.execute(
        f"SELECT count(*), count(DISTINCT {u}), count(*) FILTER ({u} IS NULL), "
        f"count(*) FILTER ({a} IS NULL) FROM {relation}").fetchone()  # type: ignore[misc]
    if rows == 0:
        raise DataError("experiment table has no rows", source=label)
    if no_user:
        raise DataError(f"{no_user:,} rows have no user id", source=label, column=user)
    if no_arm:
        raise DataError(f"{no_arm:,} rows have no arm", source=label, column=arm)
    if rows > users:
        dup = con.execute(
            f"SELECT count(*), count(*) FILTER (arms > 1), arg_max(k, n), max(n), "
            f"arg_max(arm_list, n) FROM (SELECT {u} AS k, count(*) AS n, "
            f"count(DISTINCT {a}) AS arms, string_agg(DISTINCT CAST({a} AS VARCHAR), ' / ') "
            f"AS arm_list FROM {relation} GROUP BY {u} HAVING count(*) > 1)").fetchone()
        assert dup is not None
        raise DataError(
            f"{dup[0]:,} users appear in more than one row ({dup[1]:,} of them in more than "
            f"one arm; e.g. user {dup[2]!r}: {dup[3]} rows, arms {dup[4]}); an experiment "
            "needs one row per user, in one arm", source=label, column=user)
    return {"rows": int(rows), "users": int(users)}


def sample_ratio(counts: Mapping[str, int], expected: Mapping[str, float] | None,
                 alpha: float) -> dict[str, Any]:
    """Chi-square of the users per arm against the expected shares (equal when None); a
    mismatch below ``alpha``."""
    arms = sorted(counts)
    weights = np.array([1.0 if expected is None else float(expected[a]) for a in arms])
    observed = np.array([counts[a] for a in arms], dtype=float)
    shares = weights / weights.sum()
    exp = shares * observed.sum()
    chi2 = float(np.sum((observed - exp) ** 2 / exp))
    p = float(stats.chi2.sf(chi2, len(arms) - 1)) if len(arms) > 1 else 1.0
    return {"arms": arms, "users": observed.astype(int).tolist(),
            "expected_share": shares.round(6).tolist(),
            "observed_share": (observed / observed.sum()).round(6).tolist(),
            "chi2": chi2, "df": len(arms) - 1, "p_value": p, "mismatch": p < alpha}


def srm_checks(counts: Mapping[str, Mapping[str, int]], expected: Mapping[str, float] | None,
               alpha: float) -> dict[str, Any]:
    """Overall SRM (key 'all') and within each segment, with BH q over the segments;
    ``alpha``: the significance level (UpliftSettings.srm_alpha)."""
    overall = sample_ratio(counts["all"], expected, alpha)
    per = {seg: sample_ratio({a: c.get(a, 0) for a in counts["all"]}, expected, alpha)
           for seg, c in counts.items() if seg != "all"}
    q = benjamini_hochberg(np.array([r["p_value"] for r in per.values()]))
    for row, qv in zip(per.values(), q, strict=True):
        row["q_value"] = float(qv)
        row["mismatch"] = bool(qv < alpha)
    return {"method": "Pearson chi-square goodness of fit of users per arm against the "
                      f"expected split; mismatch when p < {alpha:g} (per segment: BH q < "
                      f"{alpha:g})",
            "expected": "equal split" if expected is None else dict(expected),
            "overall": overall, "per_segment": per,
            "mismatch": overall["mismatch"] or any(r["mismatch"] for r in per.values())}


def _smd(m1: float, v1: float, m0: float, v0: float) -> float:
    pooled = math.sqrt((v1 + v0) / 2.0)
    if pooled == 0.0:
        return 0.0 if m1 == m0 else math.inf
    return (m1 - m0) / pooled


def balance(con: duckdb.DuckDBPyConnection, joined: str, features: Sequence[str],
            types: Mapping[str, str], control: str, arms: Sequence[str]) -> dict[str, Any]:
    """Standardised differences treated vs control of each feature (and segment share)."""
    rows: list[dict[str, Any]] = []
    for name in ["segment", *features]:
        col = quote_ident("lvl_segment" if name == "segment" else "f_" + name)
        numeric = name != "segment" and types.get(name, "").startswith(("DECIMAL", *NUMERIC))
        if numeric:
            stats_by_arm = {str(r[0]): (float(r[1] or 0.0), float(r[2] or 0.0)) for r in
                            con.execute(f"SELECT {ARM}, avg(CAST({col} AS DOUBLE)), "
                                        f"var_samp(CAST({col} AS DOUBLE)) FROM {joined} "
                                        f"GROUP BY {ARM}").fetchall()}
            for arm in arms:
                (m1, v1), (m0, v0) = stats_by_arm[arm], stats_by_arm[control]
                rows.append({"feature": name, "value": None, "arm": arm, "treated": m1,
                             "control": m0, "std_difference": _smd(m1, v1, m0, v0)})
            continue
        shares = con.execute(
            f"SELECT {ARM}, CAST({col} AS VARCHAR) AS v, count(*) * 1.0 / sum(count(*)) "
            f"OVER (PARTITION BY {ARM}) FROM {joined} GROUP BY {ARM}, v").fetchall()
        table = {(str(a), str(v)): float(s) for a, v, s in shares}
        values = sorted({v for _, v in table}, key=lambda v: -table.get((control, v), 0.0))
        for value in values[:TOP_VALUES]:
            p0 = table.get((control, value), 0.0)
            for arm in arms:
                p1 = table.get((arm, value), 0.0)
                rows.append({"feature": name, "value": value, "arm": arm, "treated": p1,
                             "control": p0,
                             "std_difference": _smd(p1, p1 * (1 - p1), p0, p0 * (1 - p0))})
    worst = max((abs(r["std_difference"]) for r in rows), default=0.0)
    return {"method": "standardised mean difference treated vs control, (m_t - m_c) / "
                      "sqrt((s_t^2 + s_c^2) / 2); a categorical feature and the segment "
                      f"label as the share of each value (top {TOP_VALUES}); |d| > "
                      f"{BALANCE_LIMIT} flagged (Austin 2009)",
            "rows": rows, "max_abs_std_difference": worst,
            "imbalanced": [r for r in rows if abs(r["std_difference"]) > BALANCE_LIMIT]}


def control_exists(arms: Sequence[str], control: str, arm: str, label: str) -> None:
    if control not in arms:
        raise DataError(f"control arm {control!r} not found; arms are "
                        f"{', '.join(map(repr, arms))}", source=label, column=arm)
    if len(arms) < 2:
        raise DataError(f"only one arm ({control!r}): nothing to compare", source=label,
                        column=arm)

