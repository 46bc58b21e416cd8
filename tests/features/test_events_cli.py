"""`personae features` and `personae run --events` on small logs."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from personae.cli import app

runner = CliRunner()


def _log(tmp_path):
    path = tmp_path / "events.csv"
    rows = ["customer_id,event_time,event_type,amount"]
    for u in range(12):
        for j in range(1 + u % 4):
            kind = "purchase" if j % 2 else "view"
            amount = f"{5 + u * j}.5" if kind == "purchase" else ""
            rows.append(f"c{u},2024-01-{1 + j + u % 3:02d} {8 + u}:{10 * j:02d}:00,{kind},{amount}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_features_command_writes_the_table(tmp_path):
    out = tmp_path / "users.parquet"
    result = runner.invoke(app, ["features", str(_log(tmp_path)), "--out", str(out),
                                 "--threads", "1"])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert len(frame) == 12 and frame.columns[0] == "user_id"
    assert "share_event_purchase" in frame.columns
    assert "wrote 12 users" in result.output


def test_features_command_bad_column_is_one_line_exit_2(tmp_path):
    out = tmp_path / "users.parquet"
    result = runner.invoke(app, ["features", str(_log(tmp_path)), "--out", str(out),
                                 "--user", "who"])
    assert result.exit_code == 2
    assert "column 'who': mapped column for user does not exist; columns are: " \
           "'customer_id', 'event_time', 'event_type', 'amount'" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_features_command_bad_times_exit_2_then_skip(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("user_id,timestamp\nu,2024-01-01 10:00\nu,someday\nv,2024-01-02\n",
                    encoding="utf-8")
    out = tmp_path / "users.csv"
    refused = runner.invoke(app, ["features", str(path), "--out", str(out)])
    assert refused.exit_code == 2 and "row 2: 'someday'" in refused.output
    assert not out.exists()
    skipped = runner.invoke(app, ["features", str(path), "--out", str(out),
                                  "--on-bad-rows", "skip"])
    assert skipped.exit_code == 0, skipped.output
    assert "skipped 1 bad rows" in skipped.output
    assert len(pd.read_csv(out)) == 2


def test_run_events_chains_features_and_segments(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(_log(tmp_path)), "--events", "--out", str(out),
                                 "--k", "2", "--map", "user=customer_id,time=event_time"])
    assert result.exit_code == 0, result.output
    assert "events: rows read: 30" in result.output
    assert (out / "users_segmented.csv").exists()


def test_run_events_bad_map_exit_2(tmp_path):
    result = runner.invoke(app, ["run", str(_log(tmp_path)), "--events", "--out",
                                 str(tmp_path / "run"), "--map", "person=customer_id"])
    assert result.exit_code == 2
    assert "--map has unknown roles ['person']; roles are user, time" in result.output


def test_features_command_groups_labels_by_a_stated_rule(tmp_path):
    out = tmp_path / "users.parquet"
    result = runner.invoke(app, ["features", str(_log(tmp_path)), "--out", str(out),
                                 "--event-group", "^(p|v)"])
    assert result.exit_code == 0, result.output
    assert "event labels grouped: 2 labels into 2 kinds by --event-group '^(p|v)'" in \
        result.output
    assert {"share_event_p", "share_event_v"} <= set(pd.read_parquet(out).columns)
    bad = runner.invoke(app, ["features", str(_log(tmp_path)), "--out", str(out),
                              "--event-group", "(["])
    assert bad.exit_code == 2 and "--event-group" in bad.output
    assert "Traceback" not in bad.output
