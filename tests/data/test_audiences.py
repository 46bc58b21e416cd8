"""`personae export RUN --to DIR`: audiences for other tools, checked against the run's own
users table and the published shape of a Segment/RudderStack identify call."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from personae import RunConfig, segment
from personae.cli import app

KEY = "Customer ID"  # the log's own id column: users_segmented and the audiences keep it


def _log(path: Path, users: int = 90, seed: int = 3) -> Path:
    """Three kinds of buyers: frequent big spenders, steady ones, and one-off small ones."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        kind = u % 3
        visits = (int(rng.integers(12, 18)), int(rng.integers(4, 7)), 1)[kind]
        for _ in range(visits):
            rows.append((float(13000 + u), pd.Timestamp("2011-01-03") + pd.Timedelta(
                hours=int(rng.integers(0, 24 * 300))),
                float(rng.gamma(2.0, (80.0, 20.0, 5.0)[kind]))))
    pd.DataFrame(rows, columns=[KEY, "InvoiceDate", "Amount"]).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("audiences")
    config = RunConfig.model_validate({
        "input": {"path": str(_log(folder / "log.parquet")), "events": {}},
        "segmentation": {"algorithm": "kmeans", "persona_levels": True, "stability": False},
        "report": {"map": "none"}})
    return segment(config=config).save(folder / "run")


def test_export_writes_every_audience_of_the_run(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audiences"
    result = CliRunner().invoke(app, ["export", str(run_dir), "--to", str(out)])
    assert result.exit_code == 0, result.output
    users = pd.read_parquet(run_dir / "users_segmented.parquet")
    users[KEY] = users[KEY].astype(str)
    persona_of = users.set_index(KEY)["persona"]

    files = sorted((out / "personas").glob("*.csv"))
    assert len(files) == users["persona"].nunique()
    seen: list[str] = []
    for path in files:  # each file: the users of one persona, and all of them
        ids = pd.read_csv(path, dtype=str)[KEY].tolist()
        assert persona_of[ids].nunique() == 1, path.name
        assert len(ids) == int((users["persona"] == persona_of[ids[0]]).sum())
        seen += ids
    assert sorted(seen) == sorted(users[KEY])

    cells = sorted((out / "rfm").glob("*.csv"))
    assert users["rfm_segment"].notna().all() and len(cells) == users["rfm_segment"].nunique()
    assert sum(len(pd.read_csv(p)) for p in cells) == len(users)

    warehouse = pd.read_parquet(out / "audiences.parquet")
    assert list(warehouse.columns[:3]) == [KEY, "segment", "persona"]
    assert warehouse["persona"].tolist() == users["persona"].tolist()
    manifest = json.loads((out / "audiences.json").read_text())
    assert manifest["users"] == len(users) and sum(manifest["personas"].values()) == len(users)


def test_traits_are_identify_calls_in_the_published_shape(run_dir: Path,
                                                          tmp_path: Path) -> None:
    """Segment's (and RudderStack's) identify spec: type 'identify', userId a string, traits
    an object, timestamp an ISO-8601 date-time."""
    from personae.data.audiences import export_audiences

    done = export_audiences(run_dir, tmp_path / "audiences")
    users = pd.read_parquet(run_dir / "users_segmented.parquet").rename(columns={KEY: "key"})
    lines = (done.folder / "identify.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(users) == done.users
    created = json.loads((run_dir / "run.json").read_text())["created"]
    for line, user in zip(lines, users.itertuples(), strict=True):
        call = json.loads(line)
        assert set(call) == {"type", "userId", "traits", "timestamp"}
        assert call["type"] == "identify" and call["userId"] == str(int(user.key))
        assert call["traits"] == {"persona": user.persona, "segment": int(user.segment),
                                  "broad_segment": int(user.broad_segment),
                                  "rfm_segment": user.rfm_segment}
        assert datetime.fromisoformat(call["timestamp"]).tzinfo is not None
        assert call["timestamp"] == created


def test_export_replaces_its_own_folder_but_never_a_foreign_one(run_dir: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "audiences"
    runner = CliRunner()
    assert runner.invoke(app, ["export", str(run_dir), "--to", str(out)]).exit_code == 0
    assert runner.invoke(app, ["export", str(run_dir), "--to", str(out)]).exit_code == 0
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    result = runner.invoke(app, ["export", str(run_dir), "--to", str(foreign)])
    assert result.exit_code == 2
    assert "exists and is not an earlier personae export folder" in result.stderr
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    result = runner.invoke(app, ["export", str(tmp_path / "nothing"), "--to", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
