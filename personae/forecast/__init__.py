"""Forecasts per user and per persona from an event log: who is still active (P(alive)),
how many events and how much spend to expect over the next N days, who is at risk.

    summaries.py    event rows -> repeat-event summaries per user (days)
    bgnbd.py        BG/NBD (Fader, Hardie & Lee 2005): P(alive), expected events
    gamma_gamma.py  Gamma-Gamma spend per purchase (Fader, Hardie & Lee 2005, RFM and CLV)
    forecaster.py   the fitted pair, its horizon and at-risk rule, saved with the model
    validate.py     the held-out check of a run (last third of the log)
    stage.py        the pipeline stage: users_segmented columns, personas, run.json
    simulate.py     users drawn from BG/NBD with planted parameters (known answers)
"""

from __future__ import annotations

from personae.forecast.bgnbd import BGNBDParams, fit_bgnbd
from personae.forecast.forecaster import FORECAST_COLUMNS, Forecaster, fit_forecaster
from personae.forecast.gamma_gamma import GammaGammaParams, fit_gamma_gamma
from personae.forecast.summaries import SUMMARY_COLUMNS, event_days, summarise

__all__ = ["FORECAST_COLUMNS", "SUMMARY_COLUMNS", "BGNBDParams", "Forecaster",
           "GammaGammaParams", "event_days", "fit_bgnbd", "fit_forecaster", "fit_gamma_gamma",
           "summarise"]
