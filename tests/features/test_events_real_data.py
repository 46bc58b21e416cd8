"""Event features on a slice of real data (UCI Online Retail II), checked against pandas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personae.features import from_events

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
RETAIL = DATA / "online_retail_ii" / "online_retail_ii_2009_2010.parquet"


@pytest.fixture(scope="module")
def retail_slice() -> pd.DataFrame:
    if not RETAIL.exists():
        pytest.skip(f"real data not found at {RETAIL} (expects ../shared beside the repo)")
    return pd.read_parquet(RETAIL).iloc[:20_000]


def test_online_retail_slice_matches_pandas(retail_slice):
    f = from_events(retail_slice)
    report = f.report
    assert report.mapping["user"] == "Customer ID" and report.mapping["order"] == "Invoice"
    assert report.rows_read == 20_000
    assert report.missing_user == int(retail_slice["Customer ID"].isna().sum())
    lines = retail_slice.dropna(subset=["Customer ID"])
    mapped = ["Customer ID", "InvoiceDate", "Quantity", "Price", "StockCode", "Invoice"]
    deduped = lines.drop_duplicates(subset=mapped)
    assert report.duplicates_removed == len(lines) - len(deduped)
    assert report.users == deduped["Customer ID"].nunique()

    value = deduped["Quantity"] * deduped["Price"]
    returns = (deduped["Quantity"] < 0) | deduped["Invoice"].str.startswith("C")
    by_user = deduped.assign(value=value, ret=returns).groupby("Customer ID")
    expected_total = by_user["value"].sum()
    expected_orders = deduped[~returns].groupby("Customer ID")["Invoice"].nunique()
    expected_returns = by_user["ret"].mean()
    got = f.frame.set_index("user_id")
    np.testing.assert_allclose(got["monetary_total"], expected_total.loc[got.index],
                               rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(
        got["frequency"], expected_orders.reindex(got.index, fill_value=0).to_numpy())
    np.testing.assert_allclose(got["return_share"], expected_returns.loc[got.index])
    # only the gap between visits is missing, for the customers of one active day
    assert got["days_between_visits"].isna().equals(got["active_days"] == 1)
    assert not f.frame.drop(columns="days_between_visits").isna().any().any()
    assert (f.frame["recency_days"] >= 0).all()
