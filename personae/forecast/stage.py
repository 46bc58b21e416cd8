"""The forecast stage of an event-log run: each user's forecast, each persona's, the
held-out check, and what run.json says about them.

    rows (the run's kept events) -> event days -> summaries to the log's end
        -> Forecaster (BG/NBD or MBG/NBD, Gamma-Gamma) -> p_alive, expected_events, expected_value,
           at_risk per user -> per persona: users likely active, at risk, expected totals
    and, when the history is long enough, the held-out check (``validate``).

A log the models cannot learn from (nobody came back, a single day) gives no forecast
columns and a run.json block that says why; the run goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from personae.config import ForecastConfig
from personae.errors import DataError
from personae.forecast.forecaster import Forecaster, fit_forecaster
from personae.forecast.summaries import event_days, summarise
from personae.forecast.validate import Holdout, run_rule, validate

__all__ = ["ForecastStage", "forecast_stage", "observed_until", "persona_forecasts",
           "summary_line", "with_persona_forecasts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForecastStage:
    """A run's forecasts: the fitted forecaster (None, with ``why``, when the log cannot
    teach one), the per-user columns in the run's user order, the held-out check."""

    forecaster: Forecaster | None
    users: pd.DataFrame | None = field(repr=False)
    holdout: Holdout
    observed_until: str
    why: str = ""

    def summary(self) -> dict[str, Any]:
        """run.json's ``forecast`` block."""
        out: dict[str, Any] = {"fitted": self.forecaster is not None,
                               "observed_until": self.observed_until}
        if self.forecaster is None:
            return {**out, "why": self.why, "holdout": self.holdout.as_dict()}
        users = self.users
        assert users is not None
        known = users["p_alive"].notna()
        out.update(self.forecaster.document())
        out.update({"users": int(known.sum()),
                    "users_at_risk": int(users["at_risk"].fillna(False).sum()),
                    "expected_events": round(float(users["expected_events"].sum()), 2)})
        if "expected_value" in users:
            out["expected_value"] = round(float(users["expected_value"].sum()), 2)
        out["holdout"] = self.holdout.as_dict()
        return out


def observed_until(rows: pd.DataFrame, mapping: dict[str, str],
                   reference_date: str | None) -> pd.Timestamp:
    """The last day the log observed: the day before ``reference_date`` (midnight, what
    recency counts to), else the day of the last event."""
    if reference_date is not None:
        reference = pd.Timestamp(reference_date)
        reference = reference.tz_convert(None) if reference.tzinfo else reference
        return (reference - pd.Timedelta(microseconds=1)).floor("D")
    times = pd.to_datetime(rows[mapping["time"]], errors="coerce", utc=True)
    return times.max().tz_convert(None).floor("D")


def forecast_stage(rows: pd.DataFrame, provenance: dict[str, Any], ids: pd.Series,
                   config: ForecastConfig, reference_date: str | None = None
                   ) -> ForecastStage:
    """The forecasts of the run's users (``ids``, in the run's order) from its kept rows."""
    mapping = dict(provenance["mapping"])
    source = str(provenance.get("source", "events"))
    purchases = bool(provenance.get("purchases"))
    end = observed_until(rows, mapping, reference_date)
    # the rows' user column is typed as the run's ids are (the same read): no text keys
    days = event_days(rows, mapping, rows[mapping["user"]].to_numpy(), purchases=purchases,
                      source=source)
    if days.empty:
        return ForecastStage(None, None, Holdout(run_rule(), False, "no counted events"),
                             str(end.date()), "no purchase days to forecast from" if purchases
                             else "no events to forecast from")
    summaries = summarise(days, end, pd.Index(ids.to_numpy()))
    holdout = validate(days, at_risk_below=config.at_risk_below, source=source,
                       model=config.model)
    try:
        forecaster = fit_forecaster(summaries, days=config.days,
                                    at_risk_below=config.at_risk_below, purchases=purchases,
                                    source=source, model=config.model)
    except DataError as exc:
        why = str(exc).removeprefix(f"{source}: ")
        log.info("no forecasts: %s", why)
        return ForecastStage(None, None, holdout, str(end.date()), why)
    users = forecaster.predict(summaries).reset_index(drop=True)
    return ForecastStage(forecaster, users, holdout, str(end.date()))


def persona_forecasts(stage: ForecastStage, labels: np.ndarray) -> dict[int, dict[str, Any]]:
    """Per segment: users forecast, share likely still active (P(still active) at or above
    the threshold), users at risk (count and share), expected events and value over the
    horizon (totals and per user)."""
    if stage.forecaster is None or stage.users is None:
        return {}
    users = stage.users.assign(segment=np.asarray(labels))
    users = users[users["p_alive"].notna()]
    out = {}
    for segment, mine in users.groupby("segment", sort=True):
        n = len(mine)
        at_risk = int(mine["at_risk"].astype(bool).sum())
        block: dict[str, Any] = {
            "users": n, "likely_active_share": round(1 - at_risk / n, 4),
            "mean_p_alive": round(float(mine["p_alive"].mean()), 4),
            "users_at_risk": at_risk, "at_risk_share": round(at_risk / n, 4),
            "days": stage.forecaster.days,
            "expected_events": round(float(mine["expected_events"].sum()), 2),
            "expected_events_per_user": round(float(mine["expected_events"].mean()), 4)}
        if "expected_value" in mine:
            block["expected_value"] = round(float(mine["expected_value"].sum()), 2)
            block["expected_value_per_user"] = round(float(mine["expected_value"].mean()), 4)
        out[int(segment)] = block  # type: ignore[call-overload]
    return out


def with_persona_forecasts(personas: dict[str, Any], stage: ForecastStage,
                           labels: np.ndarray) -> dict[str, Any]:
    """personas.json with each persona's ``forecast`` block (none when nothing was fitted)."""
    blocks = persona_forecasts(stage, labels)
    if not blocks:
        return personas
    return {**personas, "personas": [
        {**p, "forecast": blocks[int(p["segment"])]} if int(p["segment"]) in blocks else p
        for p in personas.get("personas", [])]}


def summary_line(block: dict[str, Any]) -> str:
    """run.json's ``forecast`` block in one line (what the CLI prints)."""
    if not block.get("fitted"):
        return f"none: {block.get('why')}"
    unit = "purchase days" if block["purchases"] else "active days"
    value = f" worth {block['expected_value']:,.0f}" if "expected_value" in block else ""
    check = block["holdout"]
    checked = (f"checked on the last {check['holdout_days']} days: per-user correlation "
               f"{check['correlation']}, total {check['aggregate_error']:+.1%}"
               if check.get("validated") and check.get("aggregate_error") is not None
               else f"not checked: {check.get('why')}")
    return (f"{block.get('model', 'BG/NBD')}: {block['users_at_risk']:,} of "
            f"{block['users']:,} users at risk (P(still active) "
            f"below {block['at_risk_below']:g}); next {block['days']} days: "
            f"{block['expected_events']:,.0f} {unit}{value} expected; {checked}")
