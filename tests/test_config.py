"""RunConfig: one document of settings, validated once, that reproduces a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import BaseModel
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


def _run_json(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


def test_every_segmentation_flag_reaches_the_run(tmp_path: Path) -> None:
    data = tmp_path / "users.csv"
    _users().to_csv(data, index=False)
    out = tmp_path / "run"
    result = runner.invoke(app, [
        "run", str(data), "--out", str(out), "--k", "3", "--k-range", "2..5", "--seed", "4",
        "--impute", "knn", "--scaler", "robust", "--no-log", "--no-stability",
        "--algorithm", "kmeans", "--features", "spend,visits", "--id-column", "user_id",
        "--natural", "--report-map", "none"])
    assert result.exit_code == 0, result.output
    info = _run_json(out)
    assert {key: info["config"]["segmentation"][key] for key in (
        "k", "k_range", "random_state", "impute", "scaler", "log_transform", "stability",
        "algorithm", "features", "id_column", "persona_levels")} == {
        "k": 3, "k_range": [2, 5], "random_state": 4, "impute": "knn", "scaler": "robust",
        "log_transform": False, "stability": False, "algorithm": "kmeans",
        "features": ["spend", "visits"], "id_column": "user_id", "persona_levels": False}
    assert info["config"]["report"]["map"] == "none"
    assert info["config"]["engine"]["kind"] == "embedded"
    assert info["stability"] is None  # --no-stability: no bootstrap refits were run
    assert not (out / "user_map.parquet").exists()


@pytest.mark.parametrize("stability", [True, False])
def test_stability_in_a_config_file_reaches_the_run(tmp_path: Path, stability: bool) -> None:
    data = tmp_path / "users.csv"
    _users().to_csv(data, index=False)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "input": {"path": str(data)}, "report": {"map": "none"},
        "segmentation": {"k": 3, "algorithm": "kmeans", "stability": stability}}))
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    info = _run_json(out)
    assert info["config"]["segmentation"]["stability"] is stability
    assert (info["stability"] is not None) is stability
    assert ("stability: mean ARI" in result.stdout) is stability


def test_a_bad_flag_is_named_and_a_bad_setting_is_named_in_its_file(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"segmentation": {"impute": "mean"}}))
    result = runner.invoke(app, ["run", "users.csv", "--config", str(config), "--out",
                                 str(tmp_path / "o"), "--k", "1"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: --k must be at least 2 (one segment is everyone); got 1; {config}: "
        "segmentation.impute: must be one of median, knn; got 'mean'")
    # --param is typed by the algorithm the config file names
    config.write_text(yaml.safe_dump({"segmentation": {"algorithm": "dbscan"}}))
    result = runner.invoke(app, ["run", "users.csv", "--config", str(config), "--out",
                                 str(tmp_path / "o"), "--param", "radius=1"])
    assert result.exit_code == 2 and "dbscan has no parameter 'radius'" in result.stderr


def test_every_run_flag_sets_a_setting() -> None:
    """The flag table of `personae run` covers every option but the run's own plumbing."""
    import typer

    from personae.cli._settings import FLAGS

    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    options = {param.opts[0] if param.opts[0].startswith("--") else "INPUT"
               for param in command.params}
    assert options - set(FLAGS.values()) == {"--out", "--config", "--track", "--tracking-uri"}
    assert set(FLAGS.values()) - options == set()
    for path in FLAGS:  # each names a setting the config knows
        model: Any = RunConfig
        for part in path.split("."):
            field = model.model_fields[part]
            model = next((a for a in (field.annotation, *get_args(field.annotation))
                          if isinstance(a, type) and issubclass(a, BaseModel)), None)


def test_the_command_line_and_the_config_import_nothing_heavy_at_load() -> None:
    """`personae run --help` needs typer, rich, pydantic and yaml only from cli/ and
    config.py: scikit-learn, pandas, DuckDB and Spark are imported inside the commands.
    (The package's own __init__ imports the model eagerly; this does not cover it.)"""
    import ast
    import sys

    root = Path(__file__).resolve().parents[1] / "personae"
    allowed = {"typer", "rich", "pydantic", "yaml", "__future__", "personae"}
    # the rules of the persona levels and of auto are pydantic models only
    light = ("personae.cli", "personae.config", "personae.errors", "personae._share",
             "personae.cluster.auto_rules", "personae.cluster.levels.rules")
    for path in [root / "config.py", *sorted((root / "cli").glob("*.py"))]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in allowed, (path.name, name)
                assert top != "personae" or name.startswith(light), (path.name, name)
