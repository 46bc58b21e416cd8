"""How well the forecasts would have done: fit on the log up to a cutoff, forecast each
user's counted days after it, compare with what they did.

The rule inside a run (``holdout_cutoff``): the last third of the log's span is held out,
when that third is at least ``MIN_HOLDOUT_DAYS`` (so the log spans 12 weeks or more);
shorter histories are not validated, and the run says so. Users first seen after the
cutoff are new in the held-out period and are left out (the forecasts are of users known
at the cutoff).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from personae.errors import DataError
from personae.forecast.forecaster import fit_forecaster
from personae.forecast.summaries import EventDays, counted_between, summarise

__all__ = ["HOLDOUT_SHARE", "MIN_HOLDOUT_DAYS", "Holdout", "holdout_cutoff", "validate"]

HOLDOUT_SHARE = 1 / 3
MIN_HOLDOUT_DAYS = 28
TOP_FREQUENCY = 7  # the calibration/holdout table groups 7 repeat events and more


@dataclass(frozen=True)
class Holdout:
    """The held-out check: its rule, and the figures when it could be run."""

    rule: str
    validated: bool
    why: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "validated": self.validated}
        if self.why:
            out["why"] = self.why
        return {**out, **self.figures}


def holdout_cutoff(days: EventDays) -> tuple[pd.Timestamp | None, str]:
    """The last calibration day under the run's rule, or None with why not."""
    span = int((days.last_day - days.first_day).days)
    held = int(round(span * HOLDOUT_SHARE))
    if held < MIN_HOLDOUT_DAYS:
        return None, (f"the history is too short to check the forecasts: the log spans "
                      f"{span} days; holding out its last third needs at least "
                      f"{3 * MIN_HOLDOUT_DAYS} days")
    return days.last_day - pd.Timedelta(days=held), ""


def run_rule() -> str:
    return ("the last third of the log's span held out (at least "
            f"{MIN_HOLDOUT_DAYS} days): fitted on the rest, each user known by then forecast "
            "over the held-out days and compared with their counted days there")


def validate(days: EventDays, cutoff: pd.Timestamp | None = None, *,
             at_risk_below: float = 0.5, source: str = "events", model: str = "auto"
             ) -> Holdout:
    """Fit up to ``cutoff`` (default: the run's rule), forecast to the log's last day;
    ``model`` as ``fit_forecaster`` takes it (auto: chosen on the calibration part)."""
    why = ""
    if cutoff is None:
        cutoff, why = holdout_cutoff(days)
    rule = run_rule()
    if cutoff is None:
        return Holdout(rule, False, why)
    end = days.last_day
    held = int((end - cutoff).days)
    calibration = summarise(days.until(cutoff), cutoff)
    try:
        fitted = fit_forecaster(calibration, days=held, at_risk_below=at_risk_below,
                                purchases=days.purchases, spend=False, source=source,
                                model=model)
    except DataError as exc:
        return Holdout(rule, False, "the calibration part cannot be fitted: "
                       + str(exc).removeprefix(f"{source}: "))
    forecast = fitted.predict(calibration)
    predicted = forecast["expected_events"].to_numpy(float)
    actual = counted_between(days, cutoff, end, calibration.index)
    x = calibration["repeat_events"].to_numpy(float)
    correlation = float(np.corrcoef(predicted, actual)[0, 1]) \
        if predicted.std() > 0 and actual.std() > 0 else None
    total_actual, total_predicted = float(actual.sum()), float(predicted.sum())
    return Holdout(rule, True, figures={
        "calibration_end": str(cutoff.date()), "holdout_days": held,
        "model": fitted.events.variant,
        "users": int(len(actual)),
        "correlation": None if correlation is None else round(correlation, 4),
        "actual_total": total_actual, "predicted_total": round(total_predicted, 2),
        "aggregate_error": round((total_predicted - total_actual) / total_actual, 4)
        if total_actual > 0 else None,
        "mean_absolute_error": round(float(np.mean(np.abs(predicted - actual))), 4),
        "by_frequency": by_frequency(x, predicted, actual),
        "at_risk": at_risk_check(forecast["at_risk"].fillna(False).to_numpy(bool), actual)})


def at_risk_check(flagged: np.ndarray, actual: np.ndarray) -> dict[str, Any]:
    """Whether the at-risk flag at the cutoff meant anything: the share of flagged users,
    and of the others, with a counted day in the held-out period."""
    def came_back(mine: np.ndarray) -> float | None:
        return round(float(np.mean(actual[mine] > 0)), 4) if mine.any() else None

    return {"users": int(flagged.sum()), "came_back_share": came_back(flagged),
            "others_came_back_share": came_back(~flagged)}


def by_frequency(x: np.ndarray, predicted: np.ndarray, actual: np.ndarray
                 ) -> list[dict[str, Any]]:
    """The calibration/holdout table: per repeat count in the calibration part (7+ pooled),
    the users and their mean actual and predicted held-out events."""
    group = np.minimum(x, TOP_FREQUENCY).astype(int)
    rows = []
    for g in np.unique(group):
        mine = group == g
        rows.append({"repeat_events": f"{g}+" if g == TOP_FREQUENCY else str(g),
                     "users": int(mine.sum()),
                     "actual": round(float(actual[mine].mean()), 4),
                     "predicted": round(float(predicted[mine].mean()), 4)})
    return rows
