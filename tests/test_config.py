"""RunConfig: one document of settings, validated once, that reproduces a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from personae.cli import app
from personae.config import RunConfig, SegmentSettings, build, load_config
from personae.errors import ConfigError
from personae.pipeline import segment

runner = CliRunner()


def _users(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1, 2], n // 3)
    return pd.DataFrame({
        "user_id": [f"u{i}" for i in range(n)],
        "spend": rng.normal(np.array([10.0, 40.0, 90.0])[group], 3.0).round(2),
        "visits": rng.normal(np.array([2.0, 9.0, 4.0])[group], 0.8).round(2),
    })


@pytest.mark.parametrize(("values", "message"), [
    ({"segmentation": {"k": 1}}, r"segmentation.k: k must be at least 2"),
    ({"segmentation": {"algorithm": "kmeens"}}, r"segmentation.algorithm: algorithm must be "
                                                r"one of kmeans, .*, auto; got 'kmeens'"),
    ({"segmentation": {"scaler": "zscore"}}, r"segmentation.scaler: must be one of standard, "
                                          r"robust, minmax; got 'zscore'"),
    ({"engine": {"kind": "flink"}}, r"engine.kind: must be one of embedded, spark; got 'flink'"),
    ({"engine": {"sample_users": 50}}, r"engine.sample_users: sample_users must be a whole "
                                       r"number >= 100; got 50"),
    ({"segmentation": {"novelty": {"quantile": 1.5}}},
     r"segmentation.novelty.quantile: input should be less than 1; got 1.5"),
    ({"segmentation": {"seed": 3}}, r"segmentation.seed: is not a setting personae knows"),
    ({"input": {"events": {"mapping": {"usr": "a"}}}}, r"unknown roles \['usr'\]"),
    ({"segmentation": {"k": 4, "algorithm": "dbscan"}}, r"k=4 does not apply to dbscan"),
])
def test_bad_settings_are_one_line_naming_the_setting(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(RunConfig, values, "run.yaml")


def test_run_json_config_is_the_document_and_reproduces_the_run(tmp_path: Path) -> None:
    data = tmp_path / "users.csv"
    _users().to_csv(data, index=False)
    first = tmp_path / "first"
    result = runner.invoke(app, ["run", str(data), "--out", str(first), "--k", "3",
                                 "--algorithm", "kmeans", "--seed", "4",
                                 "--report-map", "none"])
    assert result.exit_code == 0, result.output
    info = json.loads((first / "run.json").read_text())
    assert info["format"] == "personae.run" and info["format_version"] == 2
    assert info["config"] == RunConfig.model_validate(info["config"]).document()
    assert info["config"]["segmentation"]["random_state"] == 4
    # the config block alone, as YAML, reproduces the same labels with no INPUT given
    config = tmp_path / "again.yaml"
    config.write_text(yaml.safe_dump(info["config"]), encoding="utf-8")
    again = tmp_path / "again"
    result = runner.invoke(app, ["run", "--config", str(config), "--out", str(again)])
    assert result.exit_code == 0, result.output
    before = pd.read_parquet(first / "users_segmented.parquet")["segment"]
    after = pd.read_parquet(again / "users_segmented.parquet")["segment"]
    assert before.tolist() == after.tolist()


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"segmentation": {"k": 3, "algorithm": "kmeans"}}))
    settings = load_config(config, {"segmentation": {"k": 4, "scaler": None}})
    assert settings.segmentation.k == 4 and settings.segmentation.scaler == "standard"


def test_a_config_that_is_not_yaml_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("segmentation: [k: 3\n")
    result = runner.invoke(app, ["run", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "run.yaml: not valid YAML" in result.output


def test_run_json_lists_every_file_with_its_sha256(tmp_path: Path) -> None:
    import hashlib

    folder = segment(_users(), k=3, algorithm="kmeans").save(tmp_path / "run")
    info = json.loads((folder / "run.json").read_text())
    listed = {f["path"]: f for f in info["files"]}
    assert "model/model.json" in listed and "users_segmented.parquet" in listed
    for path, entry in listed.items():
        content = (folder / path).read_bytes()
        assert entry["bytes"] == len(content)
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()


def test_the_model_folder_carries_persona_names(tmp_path: Path) -> None:
    from personae.model import SegmentModel

    result = segment(_users(), k=3, algorithm="kmeans")
    result.save(tmp_path / "run")
    model = SegmentModel.load(tmp_path / "run" / "model")
    names = {p["segment"]: p["name"] for p in result.personas["personas"]}
    assert {s["segment"]: s["persona"] for s in model.segments_} == names
    assert sum(s["size"] for s in model.segments_) == 240
    document = json.loads((tmp_path / "run" / "model" / "segments.json").read_text())
    assert set(document["feature_meanings"]) == {"spend", "visits"}


def test_settings_defaults_are_stated_once() -> None:
    assert SegmentSettings().algorithm == "auto" and SegmentSettings().k_range == (2, 10)
