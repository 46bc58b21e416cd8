"""The four real data sets of ``bench_usefulness.py``: features of one period, outcome of the next.

Each loader returns a :class:`Case`: a user table (``user_id`` first; never the outcome),
the outcome columns (0/1 per user, same order) and, for transaction logs, the RFM columns
and each user's forecast from the features' period (``personae.forecast``, the run's
defaults: the repeat-event model chosen by likelihood, P(still active), at risk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")


@dataclass(frozen=True)
class Case:
    name: str
    table: pd.DataFrame              # user_id + features (the clusterer sees only these)
    outcomes: dict[str, np.ndarray]  # name -> 0/1 per user
    transactions: bool               # has recency_days / frequency / monetary_total
    notes: list[str] = field(default_factory=list)
    forecast: pd.DataFrame | None = None  # p_alive, at_risk... per user (transaction logs)


def forecasts(rows: pd.DataFrame, mapping: dict[str, str], users: pd.Series,
              reference_date: str) -> tuple[pd.DataFrame, str]:
    """Each user's forecast from ``rows`` (the features' period), as a run makes it (the
    forecast settings' defaults), in ``users``' order; and the model it chose."""
    from personae.config import ForecastConfig
    from personae.forecast import event_days, fit_forecaster, summarise
    from personae.forecast.stage import observed_until

    settings = ForecastConfig()
    keys = rows[mapping["user"]].astype(str).to_numpy()
    days = event_days(rows, mapping, keys, purchases=True, drop_duplicates=True)
    summaries = summarise(days, observed_until(rows, mapping, reference_date),
                          pd.Index(users.astype(str)))
    fitted = fit_forecaster(summaries, days=settings.days, at_risk_below=settings.at_risk_below,
                            purchases=True, spend=False, model=settings.model)
    return fitted.predict(summaries).reset_index(drop=True), fitted.events.variant


def _next_period(lines: pd.DataFrame, users: pd.Series, user: str, value: str) -> dict:
    spend = lines.groupby(user)[value].sum()
    spend = users.map(spend).fillna(0.0).to_numpy()
    bought = (spend > 0).astype(int)
    cut = np.median(spend[spend > 0]) if (spend > 0).any() else 0.0
    top = (spend > cut).astype(int)
    return {"bought_again": bought, "spend_over_buyers_median": top}


def online_retail(limit_users: int | None = None) -> Case:
    from personae.features import from_events

    path = DATA / "online_retail_ii" / "online_retail_ii_2009_2010.parquet"
    raw = pd.read_parquet(path)
    raw = raw[raw["Customer ID"].notna()]
    if limit_users:
        keep = raw["Customer ID"].drop_duplicates().sample(limit_users, random_state=0)
        raw = raw[raw["Customer ID"].isin(keep)]
    cut = pd.Timestamp("2010-09-01")
    before = raw[raw["InvoiceDate"] < cut]
    feats = from_events(before, user="Customer ID", time="InvoiceDate", quantity="Quantity",
                        price="Price", item="StockCode", order="Invoice",
                        reference_date="2010-09-01").frame
    after = raw[(raw["InvoiceDate"] >= cut) & (raw["Quantity"] > 0) & (raw["Price"] > 0)
                & ~raw["Invoice"].astype(str).str.startswith("C")]
    after = after.assign(value=after["Quantity"] * after["Price"])
    outcomes = _next_period(after, feats["user_id"].astype(after["Customer ID"].dtype),
                            "Customer ID", "value")
    forecast, model = forecasts(before.assign(**{"Customer ID": before["Customer ID"].astype(
        "int64")}), {"user": "Customer ID", "time": "InvoiceDate", "quantity": "Quantity",
                     "price": "Price"}, feats["user_id"].astype("int64"), "2010-09-01")
    return Case("Online Retail II", feats, outcomes, True,
                ["features: events before 2010-09-01; outcome: purchases 2010-09-01..12-09",
                 f"forecast: {model}"], forecast)


def cdnow() -> Case:
    from personae.features import from_events

    raw = pd.read_parquet(DATA / "cdnow" / "cdnow_master.parquet")
    raw["date"] = pd.to_datetime(raw["date"])
    cut = pd.Timestamp("1998-01-01")
    before = raw[raw["date"] < cut]
    feats = from_events(before, user="customer_id", time="date", value="dollar_value",
                        quantity="number_of_cds", reference_date="1998-01-01",
                        keep_duplicates=True).frame
    after = raw[raw["date"] >= cut]
    outcomes = _next_period(after, feats["user_id"].astype(after["customer_id"].dtype),
                            "customer_id", "dollar_value")
    forecast, model = forecasts(before, {"user": "customer_id", "time": "date",
                                         "value": "dollar_value"},
                                feats["user_id"].astype(after["customer_id"].dtype),
                                "1998-01-01")
    return Case("CDNOW", feats, outcomes, True,
                ["features: 1997 (12 months); outcome: 1998-01..06", f"forecast: {model}"],
                forecast)


def online_shoppers() -> Case:
    raw = pd.read_csv(DATA / "online_shoppers_intention" / "online_shoppers_intention.csv")
    outcome = raw.pop("Revenue").astype(bool).astype(int).to_numpy()
    table = raw.copy()
    table.insert(0, "user_id", np.arange(len(table)))
    return Case("Online Shoppers", table, {"revenue": outcome}, False,
                ["one session a user; Revenue never given to the clusterer"])


def hillstrom() -> Case:
    raw = pd.read_parquet(DATA / "hillstrom" / "hillstrom.parquet")
    outcomes = {"visit": raw["visit"].astype(int).to_numpy(),
                "conversion": raw["conversion"].astype(int).to_numpy()}
    table = raw[["recency", "history_segment", "history", "mens", "womens", "zip_code",
                 "newbie", "channel"]].copy()
    table.insert(0, "user_id", np.arange(len(table)))
    return Case("Hillstrom", table, outcomes, False,
                ["customer features only (no arm, no outcome); outcome: the 2 weeks after"])


LOADERS = {"online_retail": online_retail, "cdnow": cdnow, "online_shoppers": online_shoppers,
           "hillstrom": hillstrom}
