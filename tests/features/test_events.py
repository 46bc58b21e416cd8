"""Event log -> per-user features: hand-computed answers on small logs, and bad input."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import personae.features.events as event_features
from personae.errors import ConfigError, DataError
from personae.features import from_events, write_features
from personae.features.semantics import BUILTIN

REF = pd.Timestamp("2024-01-04 00:00:00")


def _log(rows: list[tuple], columns: tuple[str, ...] = ("user_id", "timestamp")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def _row(features, user) -> pd.Series:
    frame = features.frame
    return frame.loc[frame["user_id"] == user].iloc[0]


# --- sessions ------------------------------------------------------------------------------

@pytest.fixture()
def session_log() -> pd.DataFrame:
    return _log([
        ("a", "2024-01-01 10:00:00"),
        ("a", "2024-01-01 10:29:59"),   # 29:59 later: same session
        ("a", "2024-01-01 10:59:59"),   # exactly 30:00 later: a new session
        ("a", "2024-01-01 11:00:30"),
        ("b", "2024-01-03 12:00:00"),   # a user with one event
    ])


def test_sessions_split_exactly_at_the_gap(session_log):
    f = from_events(session_log)
    a = _row(f, "a")
    assert a["session_count"] == 2
    # sessions of 29:59 and 0:31 -> median 15.25 minutes
    assert a["session_minutes_median"] == pytest.approx((29 + 59 / 60 + 31 / 60) / 2)
    assert a["events_per_session"] == pytest.approx(2.0)
    assert f.report.sessions_from == "gap"


def test_a_longer_gap_keeps_one_session(session_log):
    a = _row(from_events(session_log, session_gap_minutes=31), "a")
    assert a["session_count"] == 1
    assert a["session_minutes_median"] == pytest.approx(60.5)


def test_user_with_one_event(session_log):
    f = from_events(session_log)
    assert f.report.reference_date == REF  # the day after the last event
    b = _row(f, "b")
    assert b["recency_days"] == pytest.approx(0.5)
    assert b["tenure_days"] == pytest.approx(0.5)
    assert b["frequency"] == 1
    assert b["session_count"] == 1
    assert b["session_minutes_median"] == 0.0
    assert b["events_per_session"] == 1.0
    # undefined with one active day; no user here came twice, so the column is left out
    assert "days_between_visits" not in f.frame.columns
    assert not f.frame.isna().any().any()


def test_session_id_column_is_used_when_given():
    log = _log([("a", "2024-01-01 10:00", "s1"), ("a", "2024-01-01 10:10", "s2"),
                ("a", "2024-01-01 13:00", "s2")], ("user_id", "timestamp", "session_id"))
    f = from_events(log)
    a = _row(f, "a")
    assert f.report.sessions_from == "column"
    assert a["session_count"] == 2
    assert a["session_minutes_median"] == pytest.approx((0 + 170) / 2)


# --- RFM, returns, breadth -----------------------------------------------------------------

@pytest.fixture()
def retail_log() -> pd.DataFrame:
    return pd.DataFrame({
        "Invoice": ["O1", "O1", "O2", "C3", "O4"],
        "StockCode": ["x", "y", "x", "y", "z"],
        "Quantity": [2, 1, 3, -1, 1],
        "InvoiceDate": pd.to_datetime(["2024-01-01 08:00", "2024-01-01 08:00",
                                       "2024-01-02 09:00", "2024-01-03 12:00",
                                       "2024-01-03 18:00"]),
        "Price": [5.0, 10.0, 2.0, 10.0, 4.0],
        "Customer ID": [1, 1, 1, 1, 2],
    })


def test_rfm_with_orders_and_returns(retail_log):
    f = from_events(retail_log)
    assert f.report.mapping == {"user": "Customer ID", "time": "InvoiceDate",
                                "quantity": "Quantity", "price": "Price",
                                "item": "StockCode", "order": "Invoice"}
    c = _row(f, 1)
    assert c["frequency"] == 2                        # O1, O2; C3 is a cancellation
    assert c["monetary_total"] == pytest.approx(16.0)  # 10 + 10 + 6 - 10
    assert c["monetary_mean"] == pytest.approx(8.0)
    assert c["items_per_order"] == pytest.approx(3.0)  # (2 + 1 + 3) / 2
    assert c["return_share"] == pytest.approx(0.25)
    assert c["recency_days"] == pytest.approx(1 + 15 / 24)  # since O2, not the return
    assert c["tenure_days"] == pytest.approx(2 + 16 / 24)
    assert c["active_days"] == 3
    assert c["days_between_visits"] == pytest.approx(1.0)
    assert c["distinct_items"] == 2
    assert _row(f, 2)["return_share"] == 0.0
    assert f.frame["user_id"].tolist() == [1, 2]


def test_exact_duplicates_are_counted_and_dropped(retail_log):
    doubled = pd.concat([retail_log, retail_log.iloc[[2]]], ignore_index=True)
    f = from_events(doubled)
    assert f.report.duplicates_removed == 1
    assert f.report.rows_used == len(retail_log)
    pd.testing.assert_frame_equal(f.frame, from_events(retail_log).frame)


def test_value_column_wins_over_quantity_times_price():
    log = pd.DataFrame({"customer_id": ["u", "u"], "date": [19970101, 19970105],
                        "number_of_cds": [1, 2], "dollar_value": [11.77, 20.0]})
    f = from_events(log)
    u = _row(f, "u")
    assert f.report.date_only
    assert "session_count" not in f.frame.columns and "peak_hour" not in f.frame.columns
    assert u["monetary_total"] == pytest.approx(31.77)
    assert u["frequency"] == 2
    assert u["recency_days"] == pytest.approx(1.0)   # reference 1997-01-06
    assert u["days_between_visits"] == pytest.approx(4.0)


def test_time_patterns_and_trend():
    times = ["2024-03-02 03:00", "2024-03-02 07:00", "2024-03-04 13:00",  # Sat, Sat, Mon
             "2024-03-04 13:30", "2024-03-04 20:00", "2024-01-15 10:00"]
    f = from_events(_log([("u", t) for t in times]), reference_date="2024-03-10")
    u = _row(f, "u")
    assert (u["share_night"], u["share_morning"]) == (pytest.approx(1 / 6), pytest.approx(2 / 6))
    assert (u["share_afternoon"], u["share_evening"]) == (pytest.approx(2 / 6),
                                                          pytest.approx(1 / 6))
    assert u["share_weekend"] == pytest.approx(2 / 6)
    assert u["peak_hour"] == 13
    assert (u["events_last_30d"], u["events_prev_30d"]) == (5, 1)
    assert u["trend_30d"] == pytest.approx(4 / 6)


def test_event_type_shares_and_category_entropy():
    log = _log([("u", "2024-01-01 10:00", "view", "a"), ("u", "2024-01-01 10:01", "view", "a"),
                ("u", "2024-01-01 10:02", "Add to cart", "b"),
                ("u", "2024-01-01 10:03", "purchase", "b"),
                ("v", "2024-01-01 11:00", "view", "a"), ("v", "2024-01-01 11:05", "view", "a"),
                ("v", "2024-01-01 11:06", "view", None)],
               ("user_id", "timestamp", "event_type", "category"))
    f = from_events(log, top_event_types=2)
    u, v = _row(f, "u"), _row(f, "v")
    assert u["share_event_view"] == pytest.approx(0.5)
    assert u["share_event_add_to_cart"] == pytest.approx(0.25)  # tie with purchase: by name
    assert u["share_event_other"] == pytest.approx(0.25)
    assert u["category_entropy"] == pytest.approx(1.0)
    assert v["category_entropy"] == 0.0 and v["distinct_categories"] == 1
    assert u["frequency"] == 1  # only purchase events are purchases
    assert v["recency_days"] == pytest.approx(v["tenure_days"])  # never purchased
    assert f.meanings["share_event_add_to_cart"].label == "Share of 'Add to cart' events"
    assert f.semantics().describe("share_event_view").unit == "share"


def test_every_fixed_feature_has_a_builtin_meaning(retail_log, session_log):
    log = _log([("u", "2024-01-01 10:00", "view", "a")],
               ("user_id", "timestamp", "event_type", "category"))
    names = set()
    for frame in (retail_log, session_log, log):
        names |= set(from_events(frame).feature_names)
    dynamic = {n for n in names if n.startswith("share_event_") and n != "share_event_other"}
    assert not (names - dynamic) - set(BUILTIN)


def test_reference_date_before_some_events_keeps_recency_non_negative(session_log):
    f = from_events(session_log, reference_date="2024-01-02")
    assert f.report.after_reference == 1
    assert list(f.frame["user_id"]) == ["a"]
    assert (f.frame["recency_days"] >= 0).all()


# --- sources -------------------------------------------------------------------------------

def test_csv_folder_glob_and_duckdb_give_the_same_features(tmp_path, retail_log):
    expected = from_events(retail_log).frame
    folder = tmp_path / "parts"
    folder.mkdir()
    retail_log.iloc[:3].to_parquet(folder / "a.parquet")
    retail_log.iloc[3:].to_parquet(folder / "b.parquet")
    pd.testing.assert_frame_equal(from_events(folder).frame, expected)
    pd.testing.assert_frame_equal(from_events(str(folder / "*.parquet")).frame, expected)
    db = tmp_path / "events.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("df", retail_log)
        con.execute("CREATE TABLE sales AS SELECT * FROM df")
        con.execute("CREATE TABLE other AS SELECT 1 AS x")
    pd.testing.assert_frame_equal(from_events(db, table="sales").frame, expected)
    with pytest.raises(ConfigError, match="tables are: other, sales"):
        from_events(db)
    csv = tmp_path / "log.csv"
    retail_log.to_csv(csv, index=False)
    from_csv = from_events(csv).frame
    assert from_csv["user_id"].tolist() == ["1", "2"]  # ids from text stay text
    pd.testing.assert_frame_equal(from_csv.drop(columns="user_id"),
                                  expected.drop(columns="user_id"))


def test_whitespace_separated_txt(tmp_path):
    path = tmp_path / "CDNOW_master.txt"
    path.write_bytes(b" customer_id  date number_of_cds  dollar_value\r\n"
                     b" 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n"
                     b" 00002 19970112  5   77.00\r\n")
    f = from_events(path)
    assert f.frame["user_id"].tolist() == ["00001", "00002"]
    assert _row(f, "00002")["monetary_total"] == pytest.approx(89.0)
    assert _row(f, "00002")["items_per_order"] == pytest.approx(6.0)


def test_write_features_is_atomic(tmp_path, retail_log):
    f = from_events(retail_log)
    out = write_features(f, tmp_path / "users.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(out), f.frame)
    with pytest.raises(ConfigError, match=r"must end in \.parquet or \.csv"):
        write_features(f, tmp_path / "users.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.parquet"]


# --- bad input -----------------------------------------------------------------------------

def _csv(tmp_path: Path, text: str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_timestamps_are_refused_with_the_rows(tmp_path):
    path = _csv(tmp_path, "user_id,timestamp\nu,2024-01-01 10:00\nu,not a time\n"
                          "v,2024-01-02 10:00\nv,2024-13-45\n")
    with pytest.raises(DataError, match=r"column 'timestamp', row 2: 2 rows have a time that "
                                        r"does not parse.*row 2: 'not a time', row 4: "
                                        r"'2024-13-45'.*--on-bad-rows skip"):
        from_events(path)


def test_bad_timestamps_can_be_skipped_and_are_counted(tmp_path):
    path = _csv(tmp_path, "user_id,timestamp\nu,2024-01-01 10:00\nu,not a time\n"
                          "v,2024-01-02 10:00\n")
    f = from_events(path, on_bad_rows="skip")
    assert (f.report.bad_time, f.report.bad_rows_skipped, f.report.rows_used) == (1, 1, 2)
    assert any("skipped 1 bad rows" in note for note in f.report.notes)


def test_a_value_that_is_not_a_number_is_refused(tmp_path):
    path = _csv(tmp_path, "user_id,timestamp,amount\nu,2024-01-01 10:00,3.5\n"
                          "u,2024-01-01 11:00,lots\n")
    with pytest.raises(DataError, match=r"column 'amount', row 2: 1 rows have a value that is "
                                        r"not a number"):
        from_events(path)


def test_missing_user_ids_are_dropped_and_counted(tmp_path):
    path = _csv(tmp_path, "user_id,timestamp\nu,2024-01-01 10:00\n,2024-01-01 11:00\n"
                          " ,2024-01-01 12:00\n")
    f = from_events(path)
    assert (f.report.rows_read, f.report.missing_user, f.report.users) == (3, 2, 1)


def test_mixed_time_zones_are_normalised_to_utc(tmp_path):
    path = _csv(tmp_path, "user_id,timestamp\nu,2024-01-01T10:00:00+02:00\n"
                          "u,2024-01-01T08:30:00Z\nu,2024-01-01 09:00:00\n")
    f = from_events(path, session_gap_minutes=45)
    u = _row(f, "u")
    assert u["session_minutes_median"] == pytest.approx(60.0)  # 08:00 .. 09:00 UTC
    assert u["peak_hour"] == 8
    assert f.report.time_offsets == ("+02:00", "Z")
    assert f.report.times_without_offset == 1
    assert any("converted to UTC" in note for note in f.report.notes)


def test_a_time_format_reads_day_first_text_times(tmp_path):
    path = _csv(tmp_path, "user_id,timestamp\nu,02/01/2024 08:00\nu,02/01/2024 09:30\n"
                          "v,13/01/2024 23:15\n")
    f = from_events(path, time_format="%d/%m/%Y %H:%M", session_gap_minutes=120)
    assert _row(f, "u")["session_minutes_median"] == pytest.approx(90.0)
    # the reference date is the midnight after the last event (14 Jan 00:00)
    assert _row(f, "v")["recency_days"] == pytest.approx(45 / 1440)
    assert _row(f, "u")["recency_days"] == pytest.approx(11 + 14.5 / 24)
    assert f.report.time_offsets == ()


@pytest.mark.parametrize("text", ["", "user_id,timestamp\n"])
def test_an_empty_log_is_refused(tmp_path, text):
    with pytest.raises(DataError, match="empty"):
        from_events(_csv(tmp_path, text))


def test_a_mapped_column_that_does_not_exist_names_the_columns(tmp_path):
    path = _csv(tmp_path, "user_id,ts\nu,2024-01-01 10:00\n")
    with pytest.raises(DataError, match=r"column 'when'.*columns are: 'user_id', 'ts'"):
        from_events(path, time="when")


def test_no_user_column_found_says_how_to_map_it():
    with pytest.raises(DataError, match=r"no user column found by name; map it with --user"):
        from_events(_log([("u", "2024-01-01")], ("who", "timestamp")))


def test_missing_file_and_unknown_type(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        from_events(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="unknown file type '.xlsx'"):
        from_events(_csv(tmp_path, "x", name="log.xlsx"))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"on_bad_rows": "ignore"}, r"'on_bad_rows' parameter must be one of \['error', 'skip'\]"),
    ({"session_gap_minutes": 0}, r"'session_gap_minutes' parameter must be a number > 0"),
    ({"memory_limit": "lots"}, r"'memory_limit' parameter must be a size"),
    ({"threads": 0}, r"'threads' parameter must be an int >= 1"),
    ({"reference_date": "someday"}, r"'reference_date' parameter must be an ISO date"),
])
def test_bad_parameters(session_log, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        from_events(session_log, **kwargs)


def test_progress_callback_reports_stages(session_log):
    seen: list[str] = []
    from_events(session_log, progress=seen.append, memory_limit="1GB", threads=1)
    assert seen[0] == "reading the event log" and seen[-1].startswith("done: 2 users")


def test_time_zone_aware_times_are_converted_to_utc():
    log = pd.DataFrame({"user_id": ["u", "u"],
                        "timestamp": pd.to_datetime(["2024-06-01 10:00", "2024-06-01 10:20"])
                        .tz_localize("Europe/Paris")})
    u = _row(from_events(log), "u")
    assert u["peak_hour"] == 8  # 10:00 in Paris in summer is 08:00 UTC
    assert u["session_minutes_median"] == pytest.approx(20.0)


def test_all_events_after_the_reference_date_is_refused(session_log):
    with pytest.raises(DataError, match=r"no events on or before the reference date "
                                        r"2023-12-31 00:00:00"):
        from_events(session_log, reference_date="2023-12-31")


def test_keep_duplicates_keeps_identical_rows(retail_log):
    doubled = pd.concat([retail_log, retail_log.iloc[[2]]], ignore_index=True)
    f = from_events(doubled, keep_duplicates=True)
    assert f.report.duplicates_removed == 0 and f.report.rows_used == len(doubled)
    assert _row(f, 1)["monetary_total"] == pytest.approx(22.0)  # O2 (6.0) counted twice
    assert any("keep_duplicates" in note for note in f.report.notes)


def test_a_log_too_big_for_memory_goes_to_a_compressed_file(retail_log, monkeypatch):
    doubled = pd.concat([retail_log, retail_log.iloc[[2]]], ignore_index=True)
    expected = from_events(doubled)
    where = []
    drop = event_features._drop_duplicates

    def spy(con, plan, **options):
        where.append(con.execute("SELECT database_name FROM duckdb_tables() "
                                 "WHERE table_name = 'ev'").fetchone()[0])
        drop(con, plan, **options)

    monkeypatch.setattr(event_features, "_drop_duplicates", spy)
    monkeypatch.setattr(event_features, "_size_bytes", lambda size: 0)  # nothing fits
    got = from_events(doubled)
    assert len(where) == 1 and where[0].startswith("work_")
    assert got.report.duplicates_removed == expected.report.duplicates_removed == 1
    pd.testing.assert_frame_equal(got.frame, expected.frame)


def test_calls_sharing_one_database_answer_as_alone_and_leave_it_clean(retail_log,
                                                                      monkeypatch):
    """The service's path: many small logs, side by side, in cursors of one database."""
    alone = from_events(retail_log).frame
    shared = duckdb.connect(":memory:", config={"threads": 1})
    with ThreadPoolExecutor(4) as pool:
        frames = list(pool.map(lambda _: from_events(retail_log, connection=shared).frame,
                               range(8)))
    for frame in frames:
        pd.testing.assert_frame_equal(frame, alone)
    monkeypatch.setattr(event_features, "_size_bytes", lambda size: 0)  # the file store too
    pd.testing.assert_frame_equal(from_events(retail_log, connection=shared).frame, alone)
    databases = {name for (name,) in shared.execute(
        "SELECT database_name FROM duckdb_databases()").fetchall()}
    assert databases == {"memory", "system", "temp"}
    assert shared.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0] == 0


# --- the rows the features were computed from ------------------------------------------------

def test_keep_rows_returns_the_kept_events_in_file_order(tmp_path):
    """What journeys, sequences and early windows read instead of the log a second time:
    the mapped columns under the log's names, ids and times typed, ties in time in the
    file's order, and without the rows the features left out."""
    log = _log([
        ("b", "2024-01-02 09:00:00", "view", 1.0),
        ("a", "2024-01-01 10:00:00", "cart", 2.0),
        ("a", "2024-01-01 10:00:00", "view", 3.0),    # tied in time: file order kept
        (None, "2024-01-01 11:00:00", "view", 4.0),   # no user id: left out
        ("a", "2024-01-01 10:00:00", "cart", 2.0),    # exact duplicate: left out
        ("b", "2024-02-01 09:00:00", "view", 5.0),    # after the reference date
        ("a", "2024-01-03 08:00:00", "purchase", 6.0),
    ], ("visitor", "at", "what", "amount"))
    log.to_csv(tmp_path / "log.csv", index=False)
    kept = from_events(tmp_path / "log.csv", user="visitor", time="at", event="what",
                       value="amount", reference_date="2024-01-10", keep_rows=True)
    rows = kept.rows
    assert set(rows.columns) == {"visitor", "at", "what", "amount"}
    assert rows[["visitor", "what", "amount"]].values.tolist() == [
        ["b", "view", 1.0], ["a", "cart", 2.0], ["a", "view", 3.0], ["a", "purchase", 6.0]]
    assert pd.api.types.is_datetime64_any_dtype(rows["at"])
    assert kept.report.rows_used == len(rows)
    assert from_events(tmp_path / "log.csv", user="visitor", time="at").rows is None


def test_a_run_reads_its_event_log_once(tmp_path, monkeypatch):
    """Features, journeys and early windows of one run come from one read of the log."""
    import personae.features.events_io as events_io
    from personae import segment
    from personae.config import RunConfig, build
    from personae.features.planted import planted_order_log

    events, _ = planted_order_log(users_per_group=30)
    events.to_parquet(tmp_path / "log.parquet")
    reads = []
    resolve = events_io.resolve_source
    monkeypatch.setattr(events_io, "resolve_source",
                        lambda con, source, table=None: reads.append(source) or
                        resolve(con, source, table))
    monkeypatch.setattr(event_features, "resolve_source", events_io.resolve_source)
    config = build(RunConfig, {"input": {"events": {"early_days": [7]}}}, "test")
    result = segment(tmp_path / "log.parquet", config=config, algorithm="kmeans", k=2)
    files = [str(source) for source in reads if not isinstance(source, pd.DataFrame)]
    assert files == [str(tmp_path / "log.parquet")]  # the early windows are cut in memory
    assert result.journeys is not None and "early" in result.extra


def test_the_report_says_what_makes_a_log_a_purchase_log():
    visits = _log([("a", "2024-01-01 10:00:00", "view"), ("a", "2024-01-02 10:00:00", "like")],
                  ("user_id", "timestamp", "event"))
    assert from_events(visits).report.purchases == ""
    assert "purchases: none" in "\n".join(from_events(visits).report.lines())
    bought = visits.assign(event=["view", "purchase"])
    assert from_events(bought).report.purchases == "event types 'purchase'"
    priced = visits.assign(amount=[1.0, 2.0])
    assert from_events(priced, value="amount").report.purchases == "column 'amount'"
