"""``Forecaster``: the fitted repeat-event model (BG/NBD or MBG/NBD) and spend model
(Gamma-Gamma) of a log, its horizon and at-risk rule; what ``SegmentModel.forecast`` answers
with and what the model folder keeps (``forecast.json``, numbers only).

Which repeat-event model (``CHOICE_RULE``): both are fitted and the one of the higher
maximised log-likelihood is kept. They have the same four parameters, so this is also the
AIC's and BIC's choice; MBG/NBD wins where users who never came back look like users who
left (BG/NBD holds every one of them alive for certain).

Per user: ``p_alive`` (P(still active at the log's end)), ``expected_events`` (expected
repeat event days in the next ``days`` days: purchase days in a purchase log, active days
otherwise), ``expected_value`` (purchase logs with a spend model: expected_events x expected
spend per purchase day, undiscounted) and ``at_risk`` (p_alive below ``at_risk_below``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personae.errors import DataError, ModelFileError
from personae.forecast.bgnbd import (
    VARIANTS,
    BGNBDParams,
    conditional_expected,
    distinct,
    fit_bgnbd,
    log_likelihood,
    p_alive,
)
from personae.forecast.gamma_gamma import GammaGammaParams, expected_spend, fit_gamma_gamma
from personae.forecast.summaries import SUMMARY_COLUMNS

__all__ = ["FORECAST_COLUMNS", "Forecaster", "fit_forecaster"]

log = logging.getLogger(__name__)

FORECAST_COLUMNS = ("p_alive", "expected_events", "expected_value", "at_risk")
UNIT_DAYS = 7.0  # the models are fitted in weeks (the papers' unit; alpha is in weeks)
CHOICE_RULE = ("BG/NBD and MBG/NBD both fitted, the higher maximised log-likelihood kept "
               "(the same four parameters: also the AIC's choice)")


@dataclass(frozen=True)
class Forecaster:
    events: BGNBDParams
    spend: GammaGammaParams | None
    days: int
    at_risk_below: float
    purchases: bool
    #: why there is no spend model ("" when there is one, or the log has no purchases)
    no_spend: str = ""
    #: each repeat-event model's maximised log-likelihood, when both were fitted (None when
    #: the model was named, or in files from before the choice)
    log_likelihoods: dict[str, float] | None = None

    def reads(self, columns: Any) -> bool:
        """Whether a table with ``columns`` holds the summaries ``predict`` needs."""
        return set(SUMMARY_COLUMNS[:3]) <= {str(c) for c in columns}

    def predict(self, summaries: pd.DataFrame, days: int | None = None) -> pd.DataFrame:
        """``columns`` per row of ``summaries`` (``SUMMARY_COLUMNS``, in days); rows without a
        summary (no counted event) get empty values."""
        missing = [c for c in SUMMARY_COLUMNS[:3] if c not in summaries.columns]
        if missing:
            raise DataError(f"forecasts need the columns {missing} (repeat-event summaries "
                            "of an event log)", source="forecast")
        unit = self.events.unit_days
        x = summaries["repeat_events"].to_numpy(float)
        t_x = summaries["first_to_last_days"].to_numpy(float) / unit
        T = summaries["observed_days"].to_numpy(float) / unit
        known = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T)
        known &= (x >= 0) & (t_x >= 0) & (t_x <= T)
        horizon = (self.days if days is None else days) / unit
        alive = np.full(len(x), np.nan)
        events = np.full(len(x), np.nan)
        alive[known] = p_alive(self.events, x[known], t_x[known], T[known])
        events[known] = conditional_expected(self.events, horizon, x[known], t_x[known],
                                             T[known])
        out = pd.DataFrame({"p_alive": alive, "expected_events": events},
                           index=summaries.index)
        if self.spend is not None:
            spend = summaries.get("mean_repeat_spend")
            mean = np.full(len(x), np.nan) if spend is None else spend.to_numpy(float)
            value = np.full(len(x), np.nan)
            value[known] = events[known] * expected_spend(self.spend, x[known], mean[known])
            out["expected_value"] = value
        out["at_risk"] = pd.array(np.where(known, alive < self.at_risk_below, False),
                                  dtype="boolean")
        out.loc[~known, "at_risk"] = pd.NA
        return out

    def rule(self) -> str:
        unit = "purchase days" if self.purchases else "active days"
        variant = self.events.variant
        chosen = f" ({CHOICE_RULE})" if self.log_likelihoods else ""
        return (f"{variant}{chosen} on each user's {unit} (one a day at most): at risk = "
                f"P(still active) below {self.at_risk_below:g}; expected events over the "
                f"next {self.days} days" + (" and their value (x Gamma-Gamma spend per "
                                            "purchase day, undiscounted)"
                                            if self.spend is not None else "")
                + ("; users with no repeat event yet have P(still active) = 1 under BG/NBD"
                   if variant == "BG/NBD" else "; users can leave after any event, their "
                   "first included"))

    def document(self) -> dict[str, Any]:
        return {"model": self.events.variant, "parameters": self.events.as_dict(),
                "log_likelihoods": self.log_likelihoods or None,
                "spend_model": "Gamma-Gamma" if self.spend is not None else None,
                "spend_parameters": self.spend.as_dict() if self.spend is not None else None,
                "no_spend": self.no_spend, "days": self.days,
                "at_risk_below": self.at_risk_below, "purchases": self.purchases,
                "rule": self.rule()}

    @classmethod
    def from_document(cls, document: dict[str, Any], where: str) -> Forecaster:
        try:
            variant = str(document.get("model", "BG/NBD"))
            if variant not in VARIANTS:
                raise ValueError(f"model {variant!r} is none of {', '.join(VARIANTS)}")
            events = BGNBDParams(**{k: float(v) for k, v in document["parameters"].items()},
                                 variant=variant)
            given = document.get("spend_parameters")
            spend = GammaGammaParams(**{k: float(v) for k, v in given.items()}) \
                if given else None
            given_ll = document.get("log_likelihoods") or {}
            return cls(events, spend, int(document["days"]),
                       float(document["at_risk_below"]), bool(document["purchases"]),
                       str(document.get("no_spend", "")),
                       {str(k): float(v) for k, v in given_ll.items()} or None)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(f"{where}: incomplete forecast parameters "
                                 f"({exc.__class__.__name__}: {exc})") from None


def fit_forecaster(summaries: pd.DataFrame, *, days: int, at_risk_below: float,
                   purchases: bool, spend: bool = True, source: str = "events",
                   model: str = "auto") -> Forecaster:
    """Fit the repeat-event model on the summaries (``model``: "auto" = ``CHOICE_RULE``, or
    one of ``VARIANTS``; ``DataError`` with one line when they cannot teach it) and, for a
    purchase log with money, Gamma-Gamma (left out, with the reason, when it cannot be
    fitted: a forecast of events stays useful without one of value; ``spend`` False: not
    asked for)."""
    known = summaries.dropna(subset=list(SUMMARY_COLUMNS[:3]))
    x = known["repeat_events"].to_numpy(float)
    t_x = known["first_to_last_days"].to_numpy(float) / UNIT_DAYS
    T = known["observed_days"].to_numpy(float) / UNIT_DAYS
    # users with the same summary share one likelihood term: a weight each
    codes, first = distinct(x, t_x, T)
    weights = np.bincount(codes, minlength=len(first))
    fits, likelihoods = {}, {}
    for variant in VARIANTS if model == "auto" else (model,):
        fitted = fits[variant] = fit_bgnbd(x[first], t_x[first], T[first],
                                           unit_days=UNIT_DAYS, weights=weights,
                                           source=source, variant=variant)
        likelihoods[variant] = round(float(np.dot(weights, log_likelihood(
            np.array([fitted.r, fitted.alpha, fitted.a, fitted.b]), x[first], t_x[first],
            T[first], variant))), 3)
    events = fits[max(likelihoods, key=lambda v: (likelihoods[v], -VARIANTS.index(v)))]
    spend_model, why = None, ""
    if purchases and spend:
        mean = known["mean_repeat_spend"].to_numpy(float)
        if np.isfinite(mean).any():
            try:
                spend_model = fit_gamma_gamma(x, mean, source=source)
            except DataError as exc:
                why = str(exc).removeprefix(f"{source}: ")
        else:
            why = ("no repeat purchase has a positive amount of money (a value, or quantity "
                   "x price)")
        if why:
            log.info("no spend model: %s", why)
    return Forecaster(events, spend_model, int(days), float(at_risk_below), purchases, why,
                      likelihoods if model == "auto" else None)
