"""Derive the bundled demo event log from UCI Online Retail II (CC BY 4.0).

    .venv/bin/python scripts/make_demo_events.py \
        ../shared/data/online_retail_ii/online_retail_ii_2009_2010.parquet [--customers 1000]

Every transaction line (sales, cancellations and returns as they are) of a random sample of
customers (seed 0, customers with an id), written to
personae/datasets/online_retail_events.parquet, sorted by time. Same input, same file.
The credit is in personae/datasets/online_retail_events.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "personae" / "datasets" / \
    "online_retail_events.parquet"
COLUMNS = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
           "Customer ID", "Country"]


def sample_events(lines: pd.DataFrame, customers: int, seed: int = 0) -> pd.DataFrame:
    lines = lines.dropna(subset=["Customer ID"])
    ids = np.sort(lines["Customer ID"].unique())
    if customers > len(ids):
        raise SystemExit(f"asked for {customers} customers; the log has {len(ids)}")
    chosen = np.random.default_rng(seed).choice(ids, customers, replace=False)
    out = lines[lines["Customer ID"].isin(chosen)][COLUMNS]
    out = out.sort_values(["InvoiceDate", "Invoice", "StockCode"], kind="stable")
    return out.reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    frame = sample_events(pd.read_parquet(args.source), args.customers)
    frame.to_parquet(args.out, index=False, compression="zstd")
    print(f"{frame['Customer ID'].nunique()} customers, {len(frame):,} lines -> {args.out} "
          f"({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
