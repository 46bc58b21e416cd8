"""The run folder: save -> load_run gives the run back; run.json lists every file; every
reader (monitor, report, the model) reads names and documents the one way."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from generated import blob_users
from personae import ModelFileError, SegmentModel, load_run, segment
from personae.cli import app


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, pd.DataFrame]:
    """A run of three planted groups, saved with its report."""
    from personae.report import write_report

    frame, _ = blob_users(n=900, k=3, seed=4)
    result = segment(frame, k=3, random_state=0)
    folder = tmp_path_factory.mktemp("runs") / "run"
    result.save(folder)
    write_report(result, folder, map_method="none")
    return result, folder, frame


def test_load_run_gives_back_the_labels_personas_and_config_of_the_run(saved) -> None:
    result, folder, _ = saved
    run = load_run(folder)
    np.testing.assert_array_equal(run.labels, result.labels)
    assert run.personas == json.loads(json.dumps(result.personas))
    assert run.config == result.config
    assert run.info["format"] == "personae.run" and run.info["format_version"] == 2
    pd.testing.assert_frame_equal(run.profiles, pd.read_csv(folder / "segment_profiles.csv",
                                                            dtype={"feature": "string"})
                                  .astype({"feature": object}))
    np.testing.assert_array_equal(run.model.predict(run.users), result.labels)
    assert repr(run) == f"Run({str(folder)!r}, {len(run.segments)} segments)"


def test_the_csv_holds_the_labels_and_the_parquet_also_the_input_columns(
        tmp_path: Path) -> None:
    # an input column named like a label stays the user's own, under input_<name>
    frame, _ = blob_users(n=600, k=3, seed=4)
    frame["segment"] = "gold"
    segment(frame, k=3, random_state=0, features=[f"metric_{i}" for i in range(6)]).save(
        tmp_path / "r")
    whole = pd.read_parquet(tmp_path / "r" / "users_segmented.parquet")
    joined = pd.read_csv(tmp_path / "r" / "users_segmented.csv")
    assert list(joined.columns) == [c for c in whole.columns
                                    if c not in {*frame.columns, "input_segment"}
                                    or c in ("user_id", "segment")]
    assert list(joined.columns[:3]) == ["user_id", "segment", "persona"]
    assert {"metric_0", "input_segment"} <= set(whole.columns)
    assert not {"metric_0", "input_segment"} & set(joined.columns)
    pd.testing.assert_frame_equal(joined, whole[joined.columns], check_dtype=False)
    assert (load_run(tmp_path / "r").users["input_segment"] == "gold").all()


def test_each_segment_has_its_persona_name_size_share_and_up_to_five_facts(saved) -> None:
    result, folder, _ = saved
    run = load_run(folder)
    personas = {p["segment"]: p for p in result.personas["personas"]}
    assert [s.segment for s in run.segments] == list(personas)
    for seg in run.segments:
        persona = personas[seg.segment]
        assert seg.persona == persona["name"]
        assert seg.size == int(np.sum(result.labels == seg.segment))
        assert seg.share == pytest.approx(seg.size / len(result.labels), abs=1e-6)
        assert seg.facts == tuple(f["text"] for f in persona["data_says"][:5])
    assert any(len(seg.facts) == 5 for seg in run.segments)


def test_run_json_lists_every_file_with_its_sha256_the_report_included(saved) -> None:
    _, folder, _ = saved
    listed = {f["path"]: f for f in json.loads((folder / "run.json").read_text())["files"]}
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert set(listed) == on_disk - {"run.json"}
    assert {"report.html", "personas.json", "model/segments.json"} <= set(listed)
    for name, entry in listed.items():
        data = (folder / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), name
        assert entry["bytes"] == len(data), name


def test_every_json_document_of_the_run_has_a_format_and_version(saved) -> None:
    _, folder, _ = saved
    documents = sorted(folder.rglob("*.json"))
    assert {p.name for p in documents} >= {"run.json", "personas.json", "model.json",
                                           "segments.json", "levels.json", "reference.json"}
    for path in documents:
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["format"].startswith("personae.") and \
            isinstance(document["format_version"], int), path


@pytest.mark.parametrize("name", ["levels.json", "rfm.json"])
def test_a_corrupt_levels_or_rfm_file_is_one_line_naming_it(saved, tmp_path: Path,
                                                            name: str) -> None:
    _, folder, frame = saved
    model_dir = tmp_path / "model"
    shutil.copytree(folder / "model", model_dir)
    (model_dir / name).write_text('{"n_personas": 3, "far', encoding="utf-8")
    with pytest.raises(ModelFileError, match=rf"model/{name}: not valid JSON \(Unterminated "
                                             r"string starting at: line 1, column 19\)$"):
        SegmentModel.load(model_dir)
    users = tmp_path / "users.csv"
    frame.to_csv(users, index=False)
    result = CliRunner().invoke(app, ["assign", str(model_dir), str(users), "--out",
                                      str(tmp_path / "assigned.csv")])
    assert result.exit_code == 2
    assert f"model/{name}: not valid JSON" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "assigned.csv").exists()


def test_levels_of_a_newer_personae_are_refused_and_older_ones_without_format_read(
        saved, tmp_path: Path) -> None:
    _, folder, _ = saved
    model_dir = tmp_path / "model"
    shutil.copytree(folder / "model", model_dir)
    levels = json.loads((model_dir / "levels.json").read_text())
    old = {k: v for k, v in levels.items() if k not in ("format", "format_version")}
    (model_dir / "levels.json").write_text(json.dumps(old))
    assert SegmentModel.load(model_dir).levels_ == SegmentModel.load(folder / "model").levels_
    (model_dir / "levels.json").write_text(json.dumps({**levels, "format_version": 9}))
    with pytest.raises(ModelFileError, match=r"levels\.json: levels format version 9 is not "
                                             r"supported .* upgrade to read it$"):
        SegmentModel.load(model_dir)


def test_the_monitor_names_segments_from_todays_segments_json(saved, tmp_path: Path) -> None:
    from personae.monitor._adapter import load_run as monitor_run

    result, folder, _ = saved
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    (copy / "personas.json").unlink()  # names only in model/segments.json
    names = monitor_run(copy).names
    expected = {p["segment"]: p["name"] for p in result.personas["personas"]}
    assert names == expected
    assert not any(name.startswith("segment ") for name in names.values())


def test_not_a_run_folder_is_one_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"not a personae run folder \(no run\.json\); "
                                             r"is this a folder written by 'personae run'\?$"):
        load_run(tmp_path)
    (tmp_path / "run.json").write_text('{"format": "personae.run", "format_version": 3}')
    with pytest.raises(ModelFileError, match=r"run\.json: run format version 3 is not "
                                             r"supported by personae"):
        load_run(tmp_path)
