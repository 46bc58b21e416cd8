"""Spark event features equal the embedded (DuckDB) ones: hand-made logs with every edge
rule, and a slice of Online Retail II. Tolerance: 1e-9 relative (both compute in doubles;
only the order of additions differs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personae.errors import ConfigError, DataError
from personae.features.events import from_events as embedded

# pyspark 4 warns that it does not fully support pandas 3 yet (the suite makes warnings errors)
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning")

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
RETAIL = DATA / "online_retail_ii" / "online_retail_ii_2009_2010.parquet"


def spark_features(spark, source, **options):  # type: ignore[no-untyped-def]
    from personae.spark import from_events

    return from_events(source, spark=spark, **options)


def assert_same(spark, source, **options):  # type: ignore[no-untyped-def]
    want = embedded(source, **options)
    got = spark_features(spark, source, **options)
    assert list(got.frame.columns) == list(want.frame.columns)
    pd.testing.assert_frame_equal(got.frame, want.frame, check_exact=False, rtol=1e-9,
                                  atol=1e-12)
    for field in ("rows_read", "missing_user", "bad_time", "bad_numbers", "bad_rows_skipped",
                  "after_reference", "duplicates_removed", "rows_used", "users",
                  "reference_date", "first_event", "last_event", "date_only",
                  "sessions_from", "event_types", "mapping", "event_group", "purchases"):
        assert getattr(got.report, field) == getattr(want.report, field), field
    assert set(got.meanings) == set(want.meanings)
    return got


def shop_log() -> pd.DataFrame:
    """Sessions cut at exactly the gap, an exact duplicate, a return event, a refund, a
    negative quantity, events after the reference date, weekend and night events, a
    missing user, and event types with purchase and return names."""
    t = pd.Timestamp("2024-03-01 08:00:00")  # a Friday
    rows = [
        ("a", t, "view", None, "p1", "shoes"),
        ("a", t + pd.Timedelta(minutes=29), "add to cart", None, "p1", "shoes"),
        ("a", t + pd.Timedelta(minutes=59), "purchase", 40.0, "p1", "shoes"),  # 30 min: new
        ("a", t + pd.Timedelta(minutes=59), "purchase", 40.0, "p1", "shoes"),  # duplicate
        ("a", t + pd.Timedelta(days=1, hours=15), "view", None, "p2", "hats"),  # Saturday
        ("a", t + pd.Timedelta(days=3), "refund", -40.0, "p1", "shoes"),
        ("b", t + pd.Timedelta(hours=-7), "view", None, "p3", "hats"),  # 01:00 night
        ("b", t + pd.Timedelta(days=20), "purchase", 15.5, "p3", "hats"),
        ("b", t + pd.Timedelta(days=20, minutes=10), "return", -15.5, "p3", "hats"),
        ("b", t + pd.Timedelta(days=45), "purchase", 9.0, "p4", None),
        ("c", t + pd.Timedelta(days=2), "view", None, None, "socks"),
        ("c", t + pd.Timedelta(days=70), "view", None, "p5", "socks"),  # after reference
        (None, t, "view", None, "p1", "shoes"),
    ]
    return pd.DataFrame(rows, columns=["user_id", "timestamp", "event_type", "value",
                                       "item_id", "category"])


def test_hand_made_log_matches_embedded(spark) -> None:
    got = assert_same(spark, shop_log(), reference_date="2024-04-20")
    frame = got.frame.set_index("user_id")
    assert got.report.duplicates_removed == 1 and got.report.after_reference == 1
    assert frame.loc["a", "session_count"] == 4  # a gap of exactly 30 minutes cuts
    # the duplicate purchase counted once; a refund event is not a purchase line
    assert frame.loc["a", "monetary_total"] == 40.0
    assert frame.loc["b", "return_share"] == pytest.approx(1 / 4)


def test_orders_quantities_and_text_times_match_embedded(spark, tmp_path: Path) -> None:
    """CSV (all text), times with UTC offsets, C-invoices as cancellations, quantity x
    price, a session column, keep_duplicates, and the default reference date."""
    log = pd.DataFrame({
        "Customer ID": ["1", "1", "1", "2", "2", "2", "3", "3"],
        "InvoiceDate": ["2024-01-05 10:00:00+01:00", "2024-01-05T10:20:00Z",
                        "2024-01-09 23:30:00", "2024-01-06 12:00:00", "2024-01-06 12:00:00",
                        "2024-02-01 09:00:00-05:00", "20240110", "2024/01/11 08:00"],
        "Invoice": ["100", "100", "C101", "102", "102", "103", "104", "105"],
        "Quantity": ["2", "1", "-1", "5", "5", "1", "3", " 4 "],
        "Price": ["2.5", "10", "2.5", "1", "1", "99.9", "3", "3"],
        "SessionId": ["s1", "s1", "s2", "s3", "s3", "s4", "s5", "s6"],
    })
    path = tmp_path / "orders.csv"
    log.to_csv(path, index=False)
    got = assert_same(spark, str(path))
    assert got.report.duplicates_removed == 1 and got.report.sessions_from == "column"
    assert_same(spark, str(path), keep_duplicates=True)


def test_date_only_times_and_bad_rows_skipped_match_embedded(spark) -> None:
    log = pd.DataFrame({
        "user": [1, 1, 1, 2, 2, 3],
        "date": ["2024-05-01", "2024-05-03", "not a date", "2024-05-02", "2024-05-02",
                 "2024-05-04"],
        "amount": ["10", "x", "5", "7", "7", "1"],
    })
    got = assert_same(spark, log, on_bad_rows="skip")
    assert got.report.date_only and "session_count" not in got.frame


def test_bad_rows_refused_with_the_values(spark) -> None:
    log = pd.DataFrame({"user": [1, 2], "time": ["2024-05-01 10:00", "yesterday"]})
    with pytest.raises(DataError, match=r"column 'time': 1 rows have a time that does not "
                                        r"parse .*'yesterday'"):
        spark_features(spark, log)


def test_bad_sources_and_parameters(spark, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        spark_features(spark, str(tmp_path / "missing.parquet"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="file is empty"):
        spark_features(spark, str(tmp_path / "empty.csv"))
    with pytest.raises(DataError, match="no user column found"):
        spark_features(spark, pd.DataFrame({"x": [1], "timestamp": ["2024-01-01"]}))
    with pytest.raises(ConfigError, match="session_gap_minutes"):
        spark_features(spark, shop_log(), session_gap_minutes=0)
    with pytest.raises(ConfigError, match="DuckDB database is read by the embedded engine"):
        (tmp_path / "x.duckdb").write_bytes(b"x")
        spark_features(spark, str(tmp_path / "x.duckdb"))


@pytest.mark.slow
def test_online_retail_slice_matches_embedded(spark, tmp_path: Path) -> None:
    if not RETAIL.exists():
        pytest.skip(f"real data not found at {RETAIL} (expects ../shared beside the repo)")
    path = tmp_path / "retail.parquet"
    pd.read_parquet(RETAIL).iloc[:20_000].to_parquet(path)
    got = assert_same(spark, str(path))
    assert got.report.mapping["order"] == "Invoice" and got.report.duplicates_removed > 0
    gaps = got.frame["days_between_visits"]  # undefined for one-visit customers
    assert gaps.isna().equals(got.frame["active_days"] == 1)
    assert np.isfinite(got.frame.drop(columns=["user_id", "days_between_visits"])
                       .to_numpy(float)).all()


def test_written_file_is_the_frame(spark, tmp_path: Path) -> None:
    from personae.spark import write_events_features

    out = tmp_path / "features.parquet"
    report = write_events_features(shop_log(), out, spark=spark)
    written = pd.read_parquet(out)
    want = embedded(shop_log()).frame
    assert report.users == len(written) == len(want)
    pd.testing.assert_frame_equal(written, want, check_exact=False, rtol=1e-9)
    assert spark.sparkContext._jsc is not None  # the caller's session is left running
    with pytest.raises(ConfigError, match=r"must end in \.parquet or \.csv"):
        write_events_features(shop_log(), tmp_path / "features.json", spark=spark)


def test_cli_features_on_spark_reads_the_flags_settings(spark, tmp_path: Path) -> None:
    """`personae features --engine spark` hands Spark the EventsConfig its flags made (the
    reference date and session gap reach the features), on the active session."""
    from typer.testing import CliRunner

    from personae.cli import app

    log = tmp_path / "shop.csv"
    shop_log().to_csv(log, index=False)
    out = tmp_path / "features.parquet"
    result = CliRunner().invoke(app, ["features", str(log), "--out", str(out), "--engine",
                                      "spark", "--reference-date", "2024-06-30",
                                      "--session-gap", "240"])
    assert result.exit_code == 0, result.output
    want = embedded(log, reference_date="2024-06-30", session_gap_minutes=240).frame
    pd.testing.assert_frame_equal(pd.read_parquet(out), want, check_exact=False, rtol=1e-9)


def test_relative_paths_are_the_callers_after_a_change_of_directory(
        spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The JVM's working directory is fixed when it starts: a log and an output named
    relative to the directory the caller moved to since are still the caller's."""
    from personae.spark import write_events_features

    monkeypatch.chdir(tmp_path)
    shop_log().to_csv("shop.csv", index=False)
    report = write_events_features("shop.csv", "features.parquet", spark=spark)
    assert report.users == len(pd.read_parquet(tmp_path / "features.parquet"))


def test_a_lab_log_with_its_own_numbers_matches_embedded(spark, tmp_path: Path) -> None:
    """No purchases, the user column found by its noun, extra numeric columns totalled
    per user, a one-visit student without days between visits, a label "Other" beside
    the column of unnamed types, labels grouped by a rule (CSV: all text)."""
    log = pd.DataFrame({
        "student_id": ["s1", "s1", "s1", "s2", "s2", "s3"],
        "start_time": ["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-03 09:00",
                       "2024-01-02 08:00", "2024-01-04 08:00", "2024-01-02 12:00"],
        "activity": ["Deeds_Es_1_1", "Deeds_Es_1_2", "Aulaweb", "FSM_Es_2_1", "Aulaweb",
                     "Other"],
        "idle_time": ["10", "0", "5.5", "", "3", "7"],
        "keystroke": ["1", "2", "3", "4", "5", "6"],
        "note": ["a", "b", "c", "d", "e", "f"],
    })
    path = tmp_path / "lab.csv"
    log.to_csv(path, index=False)
    got = assert_same(spark, str(path))
    frame = got.frame.set_index("user_id")
    assert got.report.mapping["user"] == "student_id"
    assert frame.loc["s1", "idle_time_sum"] == pytest.approx(15.5)
    assert frame.loc["s2", "idle_time_mean"] == pytest.approx(3.0)  # the blank is no value
    assert np.isnan(frame.loc["s3", "days_between_visits"])
    assert "note_sum" not in frame.columns
    grouped = assert_same(spark, str(path), event_group="^([A-Za-z]+)_")
    assert grouped.frame.set_index("user_id").loc["s1", "share_event_deeds"] == \
        pytest.approx(2 / 3)
    assert grouped.report.event_group == "^([A-Za-z]+)_"
