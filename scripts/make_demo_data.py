"""Derive the bundled demo user table from UCI Online Retail II (CC BY 4.0).

    .venv/bin/python scripts/make_demo_data.py \
        ../shared/data/online_retail_ii/online_retail_ii_2009_2010.parquet

One row per customer with RFM-style features; written to
personae/datasets/online_retail_customers.csv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "personae" / "datasets" / "online_retail_customers.csv"


def customers(lines: pd.DataFrame) -> pd.DataFrame:
    lines = lines.dropna(subset=["Customer ID"]).drop_duplicates()
    lines = lines.assign(
        customer_id=lines["Customer ID"].astype("int64"),
        amount=lines["Quantity"] * lines["Price"],
        returned=lines["Invoice"].astype(str).str.startswith("C") | (lines["Quantity"] < 0),
    )
    reference = lines["InvoiceDate"].max().normalize() + pd.Timedelta(days=1)
    sales = lines[~lines["returned"]]
    orders = sales.groupby(["customer_id", "Invoice"]).agg(
        value=("amount", "sum"), items=("Quantity", "sum"), when=("InvoiceDate", "min"))
    per_customer = orders.groupby("customer_id").agg(
        frequency=("value", "size"), monetary_total=("value", "sum"),
        monetary_mean=("value", "mean"), items_per_order=("items", "mean"),
        first=("when", "min"), last=("when", "max"))
    table = pd.DataFrame({
        "recency_days": (reference - per_customer["last"]).dt.days,
        "frequency": per_customer["frequency"],
        "monetary_total": per_customer["monetary_total"].round(2),
        "monetary_mean": per_customer["monetary_mean"].round(2),
        "items_per_order": per_customer["items_per_order"].round(1),
        "tenure_days": (reference - per_customer["first"]).dt.days,
        "distinct_items": sales.groupby("customer_id")["StockCode"].nunique(),
        "return_share": lines.groupby("customer_id")["returned"].mean().round(4),
        "country": lines.groupby("customer_id")["Country"].agg(lambda c: c.mode().iloc[0]),
    })
    table = table.dropna(subset=["frequency"])
    counts = ["recency_days", "frequency", "tenure_days", "distinct_items"]
    return table.astype({c: "int64" for c in counts}).reset_index()


if __name__ == "__main__":
    frame = customers(pd.read_parquet(sys.argv[1]))
    frame.to_csv(OUT, index=False)
    print(f"{len(frame)} customers -> {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")
