"""The uplift result, and its folder: uplift.csv, uplift.json and uplift.html (a forest plot
in inline SVG, the targeting table, the checks), written all or nothing."""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.data.writers import staged_folder, to_json
from personae.errors import DataError

MARKER = "uplift.json"
COLUMNS = ["level", "segment", "arm", "outcome", "n_treated", "n_control", "treated",
           "control", "effect", "relative_effect", "ci_low", "ci_high", "p_value", "q_value",
           "significant"]  # uplift.csv, in this order


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
        return save(self, Path(out))


def save(result: UpliftResult, out: Path) -> Path:
    """Write the three files; an earlier uplift folder at ``out`` is replaced."""
    aside: Path | None = None
    if out.exists() and (out / MARKER).is_file() and not (out / "run.json").exists():
        aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(aside / out.name)
    elif out.exists() and out.is_dir() and any(out.iterdir()):
        raise DataError("exists and is not an earlier uplift folder; choose another --out "
                        "or remove it", source=str(out))
    try:
        with staged_folder(out) as staging:
            result.cells[COLUMNS].to_csv(staging / "uplift.csv", index=False)
            info = {**result.info, "cells": _records(result.cells)}
            (staging / MARKER).write_text(to_json(info, indent=1, nan_as_null=True),
                                          encoding="utf-8")
            (staging / "uplift.html").write_text(render(result), encoding="utf-8")
    except BaseException:
        if aside is not None and not out.exists():
            (aside / out.name).rename(out)
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    return out


def _records(cells: pd.DataFrame) -> list[dict[str, Any]]:
    rows = cells.to_dict("records")
    for row in rows:
        if row["significant"] == "too few users":
            row["note"] = "too few users in an arm: not tested"
    return rows


def _forest(cells: pd.DataFrame, arm: str, outcome: str, names: dict[str, str]
            ) -> dict[str, Any]:
    rows = cells[(cells["arm"] == arm) & (cells["outcome"] == outcome)
                 & cells["level"].isin(["all", "segment"])]
    width, left, right, step = 760, 230, 30, 22
    finite = rows[np.isfinite(rows["effect"])]
    low = float(min(finite["ci_low"].min(), 0.0)) if len(finite) else -1.0
    high = float(max(finite["ci_high"].max(), 0.0)) if len(finite) else 1.0
    span = (high - low) or 1.0

    def px(v: float) -> float:
        return round(left + (v - low) / span * (width - left - right), 1)

    marks = []
    for j, row in enumerate(rows.itertuples()):
        name = names.get(str(row.segment), "")
        label = ("everyone" if row.level == "all" else
                 f"{row.segment}: {name}" if name and name != f"segment {row.segment}"
                 else f"segment {row.segment}")
        y = 20 + j * step
        mark: dict[str, Any] = {"y": y, "label": f"{label} ({row.n_treated + row.n_control:,})"}
        if math.isfinite(row.effect):
            mark.update(x=px(row.effect), x0=px(row.ci_low), x1=px(row.ci_high),
                        sig=row.significant is True,
                        title=f"{row.effect:+.4g} [{row.ci_low:+.4g}, {row.ci_high:+.4g}], "
                              f"q={row.q_value:.3g}")
        marks.append(mark)
    return {"arm": arm, "outcome": outcome, "width": width, "height": 40 + len(rows) * step,
            "zero": px(0.0), "marks": marks, "low": f"{low:+.3g}", "high": f"{high:+.3g}",
            "left": left, "right": width - right}


def _curve(curve: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """One uplift-by-segment curve as SVG coordinates (x: share targeted, y: gain/user)."""
    width, height, pad = 420, 220, 40
    ys = [0.0, *curve["incremental_per_user"]]
    low, high = min(ys), max(ys)
    span = (high - low) or 1.0

    def point(x: float, y: float) -> str:
        return (f"{pad + x * (width - 2 * pad):.1f},"
                f"{height - pad - (y - low) / span * (height - 2 * pad):.1f}")

    xs, gains = curve["share_targeted"], curve["incremental_per_user"]
    return {"arm": curve["arm"], "outcome": curve["outcome"], "width": width,
            "height": height, "pad": pad,
            "line": " ".join(point(x, y) for x, y in zip(xs, gains, strict=True)),
            "random": f"{point(0.0, 0.0)} {point(1.0, gains[-1])}",
            "dots": [{"at": point(x, y).split(","), "label": names.get(seg, seg)}
                     for x, y, seg in zip(xs[1:], gains[1:], curve["segments"][1:],
                                          strict=True)],
            "low": f"{low:+.3g}", "high": f"{high:+.3g}",
            "qini": f"{curve['qini_coefficient']:.3g}"}


def render(result: UpliftResult) -> str:
    info = result.info
    names = info.get("segment_names", {})
    forests = [_forest(result.cells, arm, outcome, names) for outcome in
               info["columns"]["outcomes"] for arm in info["treated_arms"]]
    # imported here: personae.report loads the run report's stack (plotly, the pipeline),
    # which only a page being written needs
    from personae.report.render import render_page

    shown = result.cells.drop(columns=["se"]).copy()
    return render_page("uplift.html.j2", info=info, forests=forests,
                       cells=shown.to_dict("records"),
                       curves=[_curve(c, names) for c in info["curves"]["curves"]],
                       fmt=_fmt, names=names)


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.{digits}g}"
    return "" if value is None else str(value)
