"""Uplift per segment: join an experiment to a run's segments, one cell per
level x segment x arm x outcome, tested against the control.

All statistics come from per level x segment x arm counts, means and variances computed
in DuckDB (one GROUPING SETS scan), so the experiment table never has to fit in memory.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from personae.config import UpliftSettings, build
from personae.errors import ConfigError, DataError
from personae.experiments import checks, heterogeneity, io
from personae.experiments.io import (
    ARM,
    USER,
    open_experiment,
    quote_ident,
    quote_literal,
    read_run,
    segment_name,
    value_expr,
)
from personae.experiments.stats import (
    benjamini_hochberg,
    newcombe_interval,
    proportion_se,
    two_proportion_p,
    welch,
)

log = logging.getLogger(__name__)
DEFAULTS = UpliftSettings()  # the tests' settings when a caller names none

COLUMNS = ["level", "segment", "arm", "outcome", "n_treated", "n_control", "treated",
           "control", "effect", "relative_effect", "ci_low", "ci_high", "p_value", "q_value",
           "significant"]
TOO_FEW = "too few users"
METHOD = {
    "binary": "difference of proportions; 95% (1 - alpha) CI: Newcombe (1998) hybrid score "
              "interval from the two Wilson score intervals; p-value: pooled two-proportion "
              "z-test",
    "numeric": "difference of means; CI and p-value: Welch's unequal-variance t with "
               "Welch-Satterthwaite degrees of freedom",
    "relative_effect": "effect / control rate or mean (empty when the control is 0)",
    "q_value": "Benjamini-Hochberg over every tested cell of every level, arm and outcome",
    "significant": "q_value < alpha; 'too few users' when an arm of the cell has fewer "
                   "than min_users users with the outcome",
    "sums": "per level x segment x arm count, mean and sample variance of each outcome, "
            "computed in DuckDB (GROUPING SETS, one scan); also per segment x arm x half "
            "of the users (hash of the user id), for the cross-fitted targeting value",
}


@dataclass(frozen=True)
class UpliftResult:
    """Cells (the rows of uplift.csv) and everything else uplift.json holds."""

    cells: pd.DataFrame = field(repr=False)
    info: dict[str, Any] = field(repr=False)

    def overall(self, outcome: str, arm: str) -> pd.Series:
        rows = self.cells[(self.cells["level"] == "all") & (self.cells["outcome"] == outcome)
                          & (self.cells["arm"] == arm)]
        return rows.iloc[0]

    def save(self, out: str | Path) -> Path:
        """Write uplift.csv, uplift.json and uplift.html into ``out`` (all or nothing)."""
        from personae.experiments.output import save

        return save(self, Path(out))


def uplift(run_dir: str | Path, experiment: Any, *, arm: str, control: str,
           outcomes: Sequence[str], user: str | None = None, assign: bool = False,
           expected_split: Mapping[str, float] | None = None, table: str | None = None,
           alpha: float = DEFAULTS.alpha, srm_alpha: float = DEFAULTS.srm_alpha,
           min_users: int = DEFAULTS.min_users, bootstrap: int = DEFAULTS.bootstrap,
           random_state: int = 0, memory_limit: str | None = None) -> UpliftResult:
    """Measure the effect of each treatment arm against ``control`` in every segment.

    ``experiment``: CSV/Parquet path, DuckDB file (with ``table``) or DataFrame holding one
    row per user: the user id (``user``, default the run's id column), the ``arm`` and the
    ``outcomes`` (0/1 outcomes are proportions, others means). ``alpha``, ``srm_alpha``,
    ``min_users``, ``bootstrap``: the tests' settings (:class:`personae.config.UpliftSettings`).
    """
    build(UpliftSettings, {"alpha": alpha, "srm_alpha": srm_alpha, "min_users": min_users,
                           "bootstrap": bootstrap}, "uplift()")
    if not outcomes:
        raise ConfigError("name at least one outcome column")
    spill = tempfile.TemporaryDirectory(prefix="personae-uplift-")
    con = duckdb.connect()
    try:
        con.execute(f"SET temp_directory = {quote_literal(spill.name)}")
        if memory_limit:
            try:
                con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
            except duckdb.Error:
                raise ConfigError(f"memory_limit must look like 4GB or 500MB; got "
                                  f"{memory_limit!r}") from None
        return _uplift(con, run_dir, experiment, arm=arm, control=str(control),
                       outcomes=list(dict.fromkeys(outcomes)), user=user, assign=assign,
                       expected_split=expected_split, table=table, alpha=alpha,
                       srm_alpha=srm_alpha, min_users=min_users, bootstrap=bootstrap,
                       random_state=random_state)
    finally:
        con.close()
        spill.cleanup()


def _uplift(con: duckdb.DuckDBPyConnection, run_dir: str | Path, experiment: Any, *,
            arm: str, control: str, outcomes: list[str], user: str | None, assign: bool,
            expected_split: Mapping[str, float] | None, table: str | None, alpha: float,
            srm_alpha: float, min_users: int, bootstrap: int, random_state: int
            ) -> UpliftResult:
    run = read_run(run_dir, con)
    src, columns = open_experiment(con, experiment, table)
    user = user or run.id_column
    for role, name in [("user", user), ("arm", arm), *(("outcome", o) for o in outcomes)]:
        if name not in columns:
            raise DataError(f"{role} column not found; columns are {list(columns)}",
                            source=src.label, column=name)
    if arm in outcomes or user in outcomes or arm == user:
        raise ConfigError("the user, arm and outcome columns must be different columns")
    log.info("checking the experiment table %s", src.label)
    sizes = checks.refuse_duplicates(con, src.relation, user, arm, src.label)
    exp_key = io.run_users(con, run, user, columns[user])
    missing = _materialise(con, src, "run_users", exp_key, arm, run, outcomes, columns)
    if missing:
        if not assign:
            io.refuse_outsiders(con, run, src, exp_key, user, missing)
        labels = io.assign_outsiders(con, run, src, exp_key, user, columns[user])
        _materialise(con, src, labels, exp_key, arm, run, outcomes, columns)
    con.execute("DELETE FROM joined WHERE __missing")
    levels = list(run.levels)
    kinds, missing_values = _outcome_kinds(con, outcomes, src, columns)
    log.info("summing outcomes per segment and arm in DuckDB")
    sums, halves = _sums(con, levels, outcomes)
    arms = sorted(sums["arm"].unique())
    checks.control_exists(arms, control, arm, src.label)
    if expected_split is not None:
        unknown = sorted(set(expected_split) ^ set(arms))
        if unknown:
            raise ConfigError(f"--expected-split must give a share for each arm "
                              f"{arms}; got {sorted(expected_split)}")
    treated_arms = [a for a in arms if a != control]
    cells = _cells(sums, kinds, outcomes, control, treated_arms, alpha, min_users)
    srm = checks.srm_checks(_arm_counts(sums, outcomes[0]), expected_split, srm_alpha)
    bal = checks.balance(con, "joined", run.features,
                         {f: run.columns[f] for f in run.features}, control, treated_arms)
    het = heterogeneity.analyse(cells, sums, halves, kinds, levels, control, treated_arms, alpha,
                                bootstrap, random_state, min_users)
    segment_names = {str(s): segment_name(run.names, s)
                     for s in cells.loc[cells["level"] == "segment", "segment"].unique()}
    info = {
        "format": "personae.uplift", "format_version": 1,
        "run": str(run.path), "experiment": src.label,
        "columns": {"user": user, "arm": arm, "outcomes": outcomes},
        "control": control, "treated_arms": treated_arms, "alpha": alpha,
        "min_users": min_users, "experiment_rows": sizes["rows"],
        "joined_users": int(sums.loc[sums["level"] == "all", "n_all"].sum()),
        "levels": {lv: run.levels[lv] for lv in levels}, "segment_names": segment_names,
        "outcome_kinds": kinds, "missing_outcome_values": missing_values, "method": METHOD,
        "checks": {"one_row_per_user": "checked: no user is duplicated or in two arms",
                   "sample_ratio": srm, "balance": bal},
        **het,
    }
    warn = []
    if srm["mismatch"]:
        warn.append("sample ratio mismatch: the arms' sizes differ from the expected split "
                    "more than chance allows; the effects may be biased")
    if bal["imbalanced"]:
        warn.append(f"{len(bal['imbalanced'])} feature shares or means differ between arms "
                    f"by more than {checks.BALANCE_LIMIT} standard deviations")
    warn += [f"{n:,} users have no {name!r} value: left out of that outcome's cells"
             for name, n in missing_values.items() if n]
    info["warnings"] = warn
    for line in warn:
        log.warning(line)
    return UpliftResult(cells, info)


def _materialise(con: duckdb.DuckDBPyConnection, src: io.Source, labels: str, exp_key: str,
                 arm: str, run: io.RunFolder, outcomes: list[str], columns: dict[str, str]
                 ) -> int:
    """Temp table ``joined``: one row per experiment user with arm, levels, features and
    outcomes (one join; later scans read this columnar table, spilled to disk if large).
    Returns how many experiment rows have no user in ``labels``."""
    picks = [f"CAST(e.{quote_ident(arm)} AS VARCHAR) AS {ARM}"]
    picks += [f"CAST(l.{quote_ident('lvl_' + lv)} AS VARCHAR) AS {quote_ident('lvl_' + lv)}"
              for lv in run.levels]
    picks += [f"l.{quote_ident('f_' + f)}" for f in run.features]
    for i, o in enumerate(outcomes):
        value = value_expr(o, columns[o], "e")
        picks += [f"{value} AS o_{i}", f"(e.{quote_ident(o)} IS NOT NULL AND {value} IS NULL) "
                  f"AS bad_{i}"]
    picks += [f"hash(CAST(l.{USER} AS VARCHAR)) % 2 AS fold", f"l.{USER} IS NULL AS __missing"]
    con.execute(f"CREATE OR REPLACE TEMP TABLE joined AS SELECT {', '.join(picks)} FROM "
                f"{src.relation} e LEFT JOIN {labels} l ON {exp_key} = l.{USER}")
    row = con.execute("SELECT count(*) FILTER (__missing) FROM joined").fetchone()
    return int(row[0]) if row else 0


def _outcome_kinds(con: duckdb.DuckDBPyConnection, outcomes: list[str], src: io.Source,
                   columns: dict[str, str]) -> tuple[dict[str, str], dict[str, int]]:
    """binary (every value 0 or 1) or numeric per outcome; and how many users lack it."""
    label = src.label
    kinds: dict[str, str] = {}
    missing: dict[str, int] = {}
    for i, name in enumerate(outcomes):
        bad, binary, count, rows = con.execute(
            f"SELECT count(*) FILTER (bad_{i}), bool_and(o_{i} IN (0, 1)), count(o_{i}), "
            "count(*) FROM joined").fetchone()  # type: ignore[misc]
        if bad:
            example = con.execute(f"SELECT {quote_ident(name)} FROM {src.relation} WHERE "
                                  f"{quote_ident(name)} IS NOT NULL AND "
                                  f"{value_expr(name, columns[name])} IS NULL LIMIT 1"
                                  ).fetchone()
            raise DataError(f"{bad:,} values are not numbers (e.g. "
                            f"{example[0] if example else '?'!r})", source=label, column=name)
        if not count:
            raise DataError("no values for the experiment's users in the run", source=label,
                            column=name)
        kinds[name] = "binary" if binary else "numeric"
        missing[name] = int(rows - count)
    return kinds, missing


def _sums(con: duckdb.DuckDBPyConnection, levels: list[str], outcomes: list[str]
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per (level, segment, arm): n of each outcome, its mean and variance; and the
    same per segment x arm x fold (two halves of the users by a hash of their id)."""
    cols = [quote_ident("lvl_" + lv) for lv in levels]
    sets = ", ".join([f"({c}, {ARM})" for c in cols] + [f"({ARM})",
                                                        f'("lvl_segment", {ARM}, fold)'])
    aggs = ["count(*) AS n_all"]
    for i in range(len(outcomes)):
        aggs += [f"count(o_{i}) AS n_{i}", f"avg(o_{i}) AS m_{i}", f"var_samp(o_{i}) AS v_{i}"]
    grouping = [f"GROUPING({c}) AS g_{j}" for j, c in enumerate(cols)]
    frame = con.execute(f"SELECT {', '.join(grouping + cols)}, {ARM}, fold, GROUPING(fold) "
                        f"AS g_fold, {', '.join(aggs)} FROM joined GROUP BY GROUPING SETS "
                        f"({sets})").df()
    folds = frame["g_fold"].to_numpy() == 0
    level = np.full(len(frame), "all", dtype=object)
    segment = np.full(len(frame), "all", dtype=object)
    for j, lv in enumerate(levels):
        mine = frame[f"g_{j}"].to_numpy() == 0
        level[mine] = lv
        segment[mine] = frame.loc[mine, f"lvl_{lv}"].to_numpy()
    out = pd.DataFrame({"level": level, "segment": segment, "arm": frame[ARM].astype(str),
                        "fold": frame["fold"]})
    out = pd.concat([out, frame[[c for c in frame.columns if c[:2] in ("n_", "m_", "v_")]]],
                    axis=1)
    keep = out["segment"].notna().to_numpy()  # users with an unknown level
    order = ["level", "segment", "arm"]
    whole = out[keep & ~folds].drop(columns="fold").sort_values(order, key=_natural)
    halves = out[keep & folds].sort_values([*order, "fold"], key=_natural)
    return whole.reset_index(drop=True), halves.reset_index(drop=True)


def _natural(col: pd.Series) -> pd.Series:
    as_number = pd.to_numeric(col, errors="coerce")
    return as_number.fillna(np.inf) if as_number.notna().any() else col


def _arm_counts(sums: pd.DataFrame, first: str) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for row in sums[sums["level"].isin(["all", "segment"])].itertuples():
        counts.setdefault(str(row.segment), {})[row.arm] = int(row.n_all)
    return counts


def _cells(sums: pd.DataFrame, kinds: dict[str, str], outcomes: list[str], control: str,
           treated_arms: list[str], alpha: float, min_users: int) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for (level, seg), group in sums.groupby(["level", "segment"], sort=False):
        by_arm = {r["arm"]: r for r in group.to_dict("records")}
        for i, outcome in enumerate(outcomes):
            for arm in treated_arms:
                rows.append(_cell(level, seg, arm, outcome, i, by_arm.get(arm),
                                  by_arm.get(control), kinds[outcome], alpha, min_users))
    cells = pd.DataFrame(rows)
    tested = cells["p_value"].to_numpy(dtype=float)
    cells["q_value"] = benjamini_hochberg(tested)
    cells["significant"] = pd.Series(
        [TOO_FEW if np.isnan(p) else bool(q < alpha) for p, q in
         zip(tested, cells["q_value"], strict=True)], dtype=object)
    return cells


def _cell(level: str, seg: str, arm: str, outcome: str, i: int, t: dict[str, Any] | None,
          c: dict[str, Any] | None, kind: str, alpha: float, min_users: int) -> dict[str, Any]:
    n1 = int(t[f"n_{i}"]) if t else 0
    n0 = int(c[f"n_{i}"]) if c else 0
    m1 = float(t[f"m_{i}"]) if t and n1 else math.nan
    m0 = float(c[f"m_{i}"]) if c and n0 else math.nan
    row: dict[str, Any] = {"level": level, "segment": seg, "arm": arm, "outcome": outcome,
                           "n_treated": n1, "n_control": n0, "treated": m1, "control": m0,
                           "effect": math.nan, "relative_effect": math.nan,
                           "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan,
                           "se": math.nan}
    if n1 < min_users or n0 < min_users:
        return row
    if kind == "binary":
        x1, x0 = round(m1 * n1), round(m0 * n0)
        low, high = newcombe_interval(x1, n1, x0, n0, alpha)
        p = two_proportion_p(x1, n1, x0, n0)
        se = proportion_se(x1 / n1, n1, x0 / n0, n0)
    else:
        v1 = float(t[f"v_{i}"]) if t and n1 > 1 else 0.0  # type: ignore[index]
        v0 = float(c[f"v_{i}"]) if c and n0 > 1 else 0.0  # type: ignore[index]
        w = welch(m1, v1, n1, m0, v0, n0, alpha)
        low, high, p, se = w.ci_low, w.ci_high, w.p_value, w.se
    effect = m1 - m0
    row.update(effect=effect, relative_effect=effect / m0 if m0 else math.nan, ci_low=low,
               ci_high=high, p_value=p, se=se)
    return row
