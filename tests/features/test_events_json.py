"""Event exports as analytics tools write them: JSON lines (gzipped too) read out of core,
nested fields reached by a mapping, and the Segment/RudderStack track-call shape recognised
without one."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personae.errors import DataError
from personae.features.events import from_events

ROLES = {"quantity": "Quantity", "price": "Price", "order": "Invoice", "item": "StockCode"}


@pytest.fixture(scope="module")
def retail() -> pd.DataFrame:
    """The bundled Online Retail II log (1,000 customers), its first 20,000 lines."""
    path = resources.files("personae") / "datasets" / "online_retail_events.parquet"
    with resources.as_file(path) as file:
        return pd.read_parquet(file).head(20_000)


def _nested_records(log: pd.DataFrame) -> list[dict]:
    """The log as an analytics export holds it: one record a line, named as Segment names
    them, the purchase's figures nested in its properties."""
    return [{"userId": None if pd.isna(row["Customer ID"])
             else str(int(row["Customer ID"])),
             "timestamp": row["InvoiceDate"].isoformat(),
             "properties": {"quantity": int(row["Quantity"]), "price": float(row["Price"]),
                            "order": row["Invoice"], "product": {"sku": row["StockCode"]}}}
            for row in log.to_dict("records")]


@pytest.mark.parametrize("name", ["export.jsonl", "export.ndjson.gz", "export.json"])
def test_a_real_log_as_json_gives_the_features_of_its_parquet(retail: pd.DataFrame,
                                                               tmp_path: Path,
                                                               name: str) -> None:
    original = tmp_path / "retail.parquet"
    retail.to_parquet(original)
    calls = _nested_records(retail)
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(calls))
    else:
        text = "".join(json.dumps(call) + "\n" for call in calls)
        with (gzip.open(path, "wt") if name.endswith(".gz") else path.open("w")) as handle:
            handle.write(text)
    expected = from_events(original, user="Customer ID", time="InvoiceDate", **ROLES)
    got = from_events(path, quantity="properties.quantity", price="properties.price",
                      order="properties.order", item="properties.product.sku")
    assert got.report.mapping["user"] == "userId" and got.report.mapping["time"] == "timestamp"
    assert got.report.rows_read == expected.report.rows_read == len(retail)
    assert got.report.rows_used == expected.report.rows_used
    left = expected.frame.assign(user_id=expected.frame["user_id"].astype(str))
    pd.testing.assert_frame_equal(got.frame.sort_values("user_id").reset_index(drop=True),
                                  left.sort_values("user_id").reset_index(drop=True),
                                  check_dtype=False)


def test_the_track_call_shape_needs_no_mapping(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    calls = []
    for u in range(30):
        known = u % 3 != 0  # a third never logged in: their anonymousId is their id
        for day in range(int(rng.integers(2, 6))):
            calls.append({"type": "track", "event": "Order Completed" if day % 2 else
                          "Product Viewed", "userId": f"user-{u}" if known else None,
                          "anonymousId": f"anon-{u}",
                          "timestamp": f"2024-03-{day + 1:02d}T10:00:00Z",
                          "properties": {"revenue": 10.0 * (u + 1) if day % 2 else None}})
    path = tmp_path / "segment.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in calls))
    result = from_events(path, value="properties.revenue")
    assert dict(result.report.mapping) == {"user": "userId", "time": "timestamp",
                                           "event": "event", "value": "properties.revenue"}
    ids = set(result.frame["user_id"])
    assert ids == {f"user-{u}" if u % 3 else f"anon-{u}" for u in range(30)}
    spend = result.frame.set_index("user_id")["monetary_total"]
    for u in (1, 2, 3):  # the revenue of each order, from the nested field
        orders = sum(1 for c in calls if c["anonymousId"] == f"anon-{u}"
                     and c["event"] == "Order Completed")
        name = f"user-{u}" if u % 3 else f"anon-{u}"
        assert spend[name] == pytest.approx(10.0 * (u + 1) * orders)


def test_a_mapping_to_a_field_the_export_lacks_names_the_nested_ones(tmp_path: Path) -> None:
    path = tmp_path / "segment.jsonl"
    path.write_text(json.dumps({"userId": "u1", "timestamp": "2024-03-01T10:00:00Z",
                                "properties": {"revenue": 3.0}}) + "\n")
    with pytest.raises(DataError, match=r"column 'properties.amount': mapped column for value "
                                        r"does not exist; columns are: 'userId', "
                                        r"'timestamp', 'properties.revenue'"):
        from_events(path, value="properties.amount")
