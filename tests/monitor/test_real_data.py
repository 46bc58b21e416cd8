"""Online Retail II (UCI, real): one shop, two periods; monitor the later on the earlier's
model and compare two runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import personae
from personae.features import from_events
from personae.monitor import compare, monitor

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
RETAIL = DATA / "online_retail_ii" / "online_retail_ii_2009_2010.parquet"


@pytest.fixture(scope="module")
def periods(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame,
                                                                 pd.DataFrame]:
    if not RETAIL.exists():
        pytest.skip(f"real data not found at {RETAIL} (expects ../shared beside the repo)")
    log = pd.read_parquet(RETAIL)
    # December 2009 vs January 2010 (small enough for the suite; the demo in the README
    # uses the two halves of the year)
    first = from_events(log[log["InvoiceDate"] < "2010-01-01"]).frame
    later = from_events(log[(log["InvoiceDate"] >= "2010-01-01")
                            & (log["InvoiceDate"] < "2010-02-01")]).frame
    folder = tmp_path_factory.mktemp("retail")
    personae.segment(first, k=4, algorithm="kmeans").save(folder / "run_a")
    personae.segment(later, k=4, algorithm="kmeans").save(folder / "run_b")
    return folder / "run_a", folder / "run_b", first, later


@pytest.mark.slow
def test_monitor_the_later_period_on_the_earlier_model(periods):
    run_a, _, first, later = periods
    same = monitor(run_a, first)
    assert (same.drift["verdict"] == "stable").all() and same.shift.psi == 0

    result = monitor(run_a, later)
    drift = result.drift
    assert set(drift["verdict"]) <= {"stable", "moderate", "significant"}
    assert (drift["psi"] >= 0).all() and len(drift) == len(first.columns) - 1 - sum(
        first[c].nunique() <= 1 for c in first.columns)
    returning = len(set(first["user_id"]) & set(later["user_id"]))
    assert result.transitions["users"].sum() == returning > 0
    assert result.summary["new_users"] == len(later)


@pytest.mark.slow
def test_compare_two_runs_of_the_same_shop(periods, tmp_path):
    run_a, run_b, first, later = periods
    result = compare(run_a, run_b)
    fates = result.matching.fates
    assert set(fates["fate"]) <= {"survives", "splits into", "absorbed into", "disappears",
                                  "emerges"}
    assert (fates["fate"] != "emerges").sum() == 4  # one row per old segment
    assert sorted(result.matching.ids) == [0, 1, 2, 3]
    assert len(set(result.matching.ids.values())) == 4  # stable ids are unique
    out = result.save(tmp_path / "cmp")
    assert (out / "monitor.html").stat().st_size > 5_000


CDNOW = DATA / "cdnow" / "cdnow_master.parquet"


@pytest.fixture(scope="module")
def cdnow_quarters(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame,
                                                                        pd.DataFrame]:
    if not CDNOW.exists():
        pytest.skip(f"real data not found at {CDNOW} (expects ../shared beside the repo)")
    log = pd.read_parquet(CDNOW)
    log = log[log["customer_id"] <= 3000]  # a slice: the first 3,000 customers' purchases
    mapping = {"user": "customer_id", "time": "date", "value": "dollar_value",
               "quantity": "number_of_cds"}
    q1 = from_events(log[log["date"] < "1997-04-01"], **mapping).frame
    q2 = from_events(log[(log["date"] >= "1997-04-01") & (log["date"] < "1997-07-01")],
                     **mapping).frame
    folder = tmp_path_factory.mktemp("cdnow") / "run_q1"
    personae.segment(q1, k=4, algorithm="kmeans", stability=False).save(folder)
    return folder, q1, q2


@pytest.mark.slow
def test_cdnow_second_quarter_on_the_first_quarters_model(cdnow_quarters, tmp_path):
    run, q1, q2 = cdnow_quarters
    # a closed cohort: every customer bought first in Q1, so Q2's buyers all return
    assert set(q2["user_id"]) <= set(q1["user_id"]) and len(q2) < len(q1)
    result = monitor(run, q2, refit=True)
    assert result.summary["users_in_both"] == len(q2)
    assert result.transitions["users"].sum() == len(q2)
    assert set(result.drift["verdict"]) <= {"stable", "moderate", "significant"}
    fates = result.matching.fates
    assert (fates["fate"] != "emerges").sum() == 4  # one row per Q1 segment
    assert set(fates["fate"]) <= {"survives", "splits into", "absorbed into", "disappears",
                                  "emerges"}
    ids = result.matching.ids
    assert len(set(ids.values())) == len(ids) and min(ids.values()) >= 0
    out = result.save(tmp_path / "q2")
    assert (out / "segment_matching.csv").is_file() and (out / "refit" / "run.json").is_file()
