"""A Spark run writes the embedded run folder: its model serves with the embedded engine and
gives the labels Spark assigned, and it agrees with the embedded run on planted blobs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from generated import blob_users
from personae import SegmentModel, segment
from personae.cli import app
from personae.errors import ConfigError, DataError

pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning")

N_USERS, SAMPLE = 3_000, 1_000


@pytest.fixture(scope="module")
def blobs_path(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    frame, _ = blob_users(N_USERS, k=4, seed=7)
    path = tmp_path_factory.mktemp("spark") / "users.parquet"
    frame.to_parquet(path)
    return path, frame


@pytest.fixture(scope="module")
def embedded_labels(blobs_path: tuple[Path, pd.DataFrame]) -> pd.Series:
    frame = blobs_path[1]
    result = segment(frame, algorithm="kmeans", random_state=0)
    return pd.Series(result.labels, index=frame["user_id"].to_numpy())


def _spark_run(spark, data, out: Path, **options):  # type: ignore[no-untyped-def]
    from personae.spark.run import run

    return run(data, out, spark=spark, **options)


@pytest.fixture(scope="module")
def kmeans_run(spark, blobs_path: tuple[Path, pd.DataFrame],
               tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("spark-run") / "run"
    return _spark_run(spark, str(blobs_path[0]), out, sample_users=SAMPLE, algorithm="kmeans")


def test_spark_run_is_the_embedded_run_folder(spark, blobs_path, embedded_labels,
                                               kmeans_run) -> None:
    path, frame = blobs_path
    result, out = kmeans_run, kmeans_run.out
    assert result.users == N_USERS and result.sample_users == SAMPLE
    assert result.refine["method"] == "kmeans||"  # pyspark.ml KMeans, K from the sample
    assert {"users_segmented.parquet", "users_segmented.csv", "segment_profiles.csv",
            "k_selection.csv", "model", "run.json"} <= {p.name for p in out.iterdir()}
    users = pd.read_parquet(out / "users_segmented.parquet")
    assert list(users.columns[:4]) == ["user_id", "segment", "persona", "novel"]
    assert len(users) == N_USERS
    # the saved model, served by the embedded engine, gives every user Spark's label
    model = SegmentModel.load(out / "model")
    inputs = frame.set_index("user_id").loc[users["user_id"]].reset_index()
    assert np.array_equal(model.predict(inputs), users["segment"].to_numpy())
    # segment 0 is the largest, as in an embedded run; sizes count everyone
    info = json.loads((out / "run.json").read_text())
    assert info["segments"]["sizes"] == sorted(info["segments"]["sizes"], reverse=True)
    assert sum(info["segments"]["sizes"]) == N_USERS and info["input"]["users"] == N_USERS
    assert info["engine"]["name"] == "spark" and info["engine"]["sample_users"] == SAMPLE
    profiles = pd.read_csv(out / "segment_profiles.csv")
    assert profiles.groupby("segment")["size"].first().sum() == N_USERS
    # agreement with the embedded run on the same users: same K, ARI >= 0.95
    assert result.k == len(set(embedded_labels))
    ari = adjusted_rand_score(embedded_labels.loc[users["user_id"]], users["segment"])
    assert ari >= 0.95, ari
    assert spark.sparkContext._jsc is not None  # the caller's session is left running


def test_the_model_folder_serves_and_monitors_as_the_embedded_one(kmeans_run, blobs_path,
                                                                tmp_path: Path) -> None:
    """segments.json and the monitoring reference are in the Spark run's model folder:
    a real server answers /segments, /personas and /assign from it with Spark's sizes and
    labels, and ``personae monitor`` compares new users with it."""
    pytest.importorskip("uvicorn", reason="serving needs personae[serve]")
    from personae.serve import ServeConfig
    from serve.helpers import start_server

    frame, out = blobs_path[1], kmeans_run.out
    model_dir = out / "model"
    assert {"segments.json", "reference.json", "reference.npz"} <= \
        {p.name for p in model_dir.iterdir()}
    users = pd.read_parquet(out / "users_segmented.parquet")
    sizes = users["segment"].value_counts()
    names = {p["segment"]: p["name"] for p in
             json.loads((out / "personas.json").read_text())["personas"]}
    reference = json.loads((model_dir / "reference.json").read_text())
    assert reference["n_users"] == N_USERS
    assert {s["segment"]: s["size"] for s in reference["segments"]} == sizes.to_dict()
    running = start_server(ServeConfig(model_dir=str(model_dir)))
    try:
        with running.client() as client:
            segments = client.get("/segments").json()["segments"]
            assert {s["segment"]: (s["persona"], s["size"]) for s in segments} == \
                {seg: (names[seg], int(n)) for seg, n in sizes.items()}
            personas = client.get("/personas").json()["personas"]
            assert [p["name"] for p in personas] == [names[s["segment"]] for s in segments]
            batch = frame.set_index("user_id").loc[users["user_id"][:20]].reset_index()
            rows = json.loads(batch.to_json(orient="records"))
            answer = client.post("/assign", json={"users": rows}).json()["assignments"]
            assert [a["segment"] for a in answer] == users["segment"][:20].tolist()
            assert [a["persona"] for a in answer] == [names[s] for s in users["segment"][:20]]
    finally:
        running.stop()
    shifted = frame.copy()
    shifted["metric_0"] += 3 * frame["metric_0"].std()
    shifted.to_csv(tmp_path / "new.csv", index=False)
    result = CliRunner().invoke(app, ["monitor", str(out), str(tmp_path / "new.csv"),
                                      "--out", str(tmp_path / "monitor")])
    assert result.exit_code == 0, result.output
    drift = pd.read_csv(tmp_path / "monitor" / "drift.csv")
    assert drift.loc[0, "feature"] == "metric_0" and drift.loc[0, "verdict"] == "significant"


@pytest.mark.slow
def test_lloyd_refinement_from_the_sample_centroids_agrees(spark, blobs_path, embedded_labels,
                                          tmp_path: Path) -> None:
    path, frame = blobs_path
    result = _spark_run(spark, frame, tmp_path / "run", sample_users=SAMPLE,
                        algorithm="kmeans", refine="lloyd")
    users = pd.read_parquet(tmp_path / "run" / "users_segmented.parquet")
    assert result.refine["method"] == "lloyd" and result.refine["converged"]
    ari = adjusted_rand_score(embedded_labels.loc[users["user_id"]], users["segment"])
    assert ari >= 0.95, ari
    model = SegmentModel.load(tmp_path / "run" / "model")
    inputs = frame.set_index("user_id").loc[users["user_id"]].reset_index()
    assert np.array_equal(model.predict(inputs), users["segment"].to_numpy())


def test_cli_engine_spark_runs_on_the_active_session(spark, blobs_path, tmp_path: Path
                                                     ) -> None:
    out = tmp_path / "cli-run"
    result = CliRunner().invoke(app, ["run", str(blobs_path[0]), "--out", str(out),
                                      "--engine", "spark", "--algorithm", "kmeans",
                                      "--k", "4", "--report-map", "none"])
    assert result.exit_code == 0, result.output
    assert "4 segments of 3,000 users" in result.stdout
    assert (out / "report.html").is_file() and (out / "personas.json").is_file()
    assert spark.sparkContext._jsc is not None
    info = json.loads((out / "run.json").read_text())
    assert (info["format"], info["format_version"]) == ("personae.run", 2)
    listed = {f["path"]: f["sha256"] for f in info["files"]}
    assert set(listed) == {p.relative_to(out).as_posix() for p in out.rglob("*")
                           if p.is_file()} - {"run.json"}
    assert all(hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
               for name, digest in listed.items())


def test_a_spark_run_is_reproduced_from_its_run_json(spark, blobs_path, tmp_path: Path
                                                     ) -> None:
    """run.json's config holds the engine section (kind, master, conf, refine, sample size)
    and every segmentation setting, stability included: `--config RUN/run.json` runs the
    same Spark run again."""
    first = tmp_path / "first"
    result = CliRunner().invoke(app, ["run", str(blobs_path[0]), "--out", str(first),
                                      "--engine", "spark", "--spark-refine", "lloyd",
                                      "--spark-sample", str(SAMPLE), "--algorithm", "kmeans",
                                      "--k", "4", "--no-stability", "--report-map", "none"])
    assert result.exit_code == 0, result.output
    info = json.loads((first / "run.json").read_text())
    assert info["config"]["engine"] == {"kind": "spark", "master": None, "conf": {},
                                        "refine": "lloyd", "sample_users": SAMPLE}
    assert info["config"]["input"]["path"] == str(blobs_path[0])
    assert info["config"]["segmentation"]["stability"] is False
    assert info["stability"] is None  # the sample fit honoured it (it used to be dropped)
    assert info["engine"]["refine"]["method"] == "lloyd"
    again = tmp_path / "again"
    result = CliRunner().invoke(app, ["run", "--config", str(first / "run.json"), "--out",
                                      str(again)])
    assert result.exit_code == 0, result.output
    repeated = json.loads((again / "run.json").read_text())
    assert repeated["config"] == info["config"]
    assert repeated["engine"]["name"] == "spark" and repeated["engine"]["sample_users"] == SAMPLE
    pd.testing.assert_frame_equal(pd.read_parquet(again / "users_segmented.parquet"),
                                  pd.read_parquet(first / "users_segmented.parquet"))


def test_cli_engine_spark_reads_the_log_with_the_configs_event_settings(spark,
                                                                        tmp_path: Path
                                                                        ) -> None:
    """The reference date, the session gap and the time format of the run config reach the
    Spark features (they used to stop at the mapping)."""
    from personae.features.events import from_events

    rng = np.random.default_rng(3)
    n = 600
    log = pd.DataFrame({
        "who": rng.integers(0, 120, n).astype(str),
        "when": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90 * 24 * 60, n),
                                                              unit="min")
                 ).strftime("%d/%m/%Y %H:%M"),
        "what": rng.choice(["view", "cart", "purchase"], n),
        "amount": np.round(rng.lognormal(3, 1, n), 2)})
    log.to_csv(tmp_path / "log.csv", index=False)
    events = {"mapping": {"user": "who", "time": "when", "event": "what", "value": "amount"},
              "time_format": "%d/%m/%Y %H:%M", "reference_date": "2024-06-30",
              "session_gap_minutes": 240}
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"input": {"path": str(tmp_path / "log.csv"),
                                            "events": events},
                                  "segmentation": {"algorithm": "kmeans", "k": 2}}))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--out", str(out),
                                      "--engine", "spark", "--report-map", "none"])
    assert result.exit_code == 0, result.output
    # users_segmented keeps the log's own id name
    got = pd.read_parquet(out / "users_segmented.parquet").set_index("who")
    want = from_events(tmp_path / "log.csv", **events["mapping"],
                       time_format=events["time_format"], reference_date="2024-06-30",
                       session_gap_minutes=240).frame.set_index("user_id")
    for column in ("recency_days", "session_count"):
        np.testing.assert_allclose(got.loc[want.index, column], want[column], rtol=1e-9)


def test_bad_inputs(spark, tmp_path: Path) -> None:
    frame = pd.DataFrame({"user_id": ["a", "a", "b"], "x": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match="column 'user_id': duplicate id 'a'"):
        _spark_run(spark, frame, tmp_path / "dup")
    assert not (tmp_path / "dup").exists()
    with pytest.raises(DataError, match="file not found"):
        _spark_run(spark, str(tmp_path / "nope.parquet"), tmp_path / "missing")
    with pytest.raises(ConfigError, match="needs a user id column"):
        _spark_run(spark, pd.DataFrame({"x": [1.0, 2.0]}), tmp_path / "noid")
    with pytest.raises(ConfigError, match=r"engine.refine: must be one of pyspark.ml, lloyd, "
                                          r"none; got 'best'"):
        _spark_run(spark, frame, tmp_path / "r", refine="best")
    result = CliRunner().invoke(app, ["run", "users.csv", "--out", str(tmp_path / "x"),
                                      "--engine", "flink"])
    assert result.exit_code == 2 and "--engine must be one of embedded, spark" in \
        result.output
    result = CliRunner().invoke(app, ["run", "users.csv", "--out", str(tmp_path / "x"),
                                      "--engine", "spark", "--spark-refine", "bisecting"])
    assert result.exit_code == 2 and "--spark-refine must be one of pyspark.ml, lloyd, " \
        "none" in result.output
    result = CliRunner().invoke(app, ["features", "events.csv", "--out", "x.parquet",
                                      "--engine", "spark", "--on-bad-rows", "maybe"])
    assert result.exit_code == 2 and "--on-bad-rows" in result.output


def test_a_session_personae_starts_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a session given or active, spark_session starts one and stops it."""
    pytest.importorskip("pyspark", reason="the Spark engine needs personae[spark]")
    from pyspark.sql import SparkSession

    from personae.spark import session as sessions

    events: list[str] = []

    class FakeSession:
        sparkContext = type("Ctx", (), {"setLogLevel": lambda self, level: None,
                                        "master": "local[1]"})()

        def stop(self) -> None:
            events.append("stopped")

    class FakeBuilder:
        def master(self, url: str) -> FakeBuilder:
            events.append(url)
            return self

        def appName(self, name: str) -> FakeBuilder:  # noqa: N802 - pyspark's name
            return self

        def config(self, key: str, value: str) -> FakeBuilder:
            return self

        def getOrCreate(self) -> FakeSession:  # noqa: N802 - pyspark's name
            return FakeSession()

    monkeypatch.setattr(SparkSession, "getActiveSession", staticmethod(lambda: None))
    monkeypatch.setattr(SparkSession, "builder", FakeBuilder())
    with sessions.spark_session(None, "local[1]") as started:
        assert isinstance(started, FakeSession)
    assert events == ["local[1]", "stopped"]


@pytest.mark.slow
def test_an_event_run_is_the_embedded_event_run(spark, tmp_path: Path) -> None:
    """Online Retail II, everyone on the driver: the same personas worded from the event
    features' meanings, the same RFM map beside them (users_segmented, persona_rfm.csv)
    and a model that scores new users by the same RFM cuts."""
    from personae.config import EventsConfig, InputConfig, RunConfig
    from personae.spark.run import run

    retail = (Path(__file__).resolve().parents[2].parent / "shared" / "data" /
              "online_retail_ii" / "online_retail_ii_2009_2010.parquet")
    if not retail.exists():
        pytest.skip(f"real data not found at {retail} (expects ../shared beside the repo)")
    path = tmp_path / "retail.parquet"
    pd.read_parquet(retail).iloc[:30_000].to_parquet(path)
    embedded = CliRunner().invoke(app, ["run", str(path), "--events", "--out",
                                        str(tmp_path / "embedded")])
    assert embedded.exit_code == 0, embedded.output
    run(str(path), tmp_path / "spark", spark=spark,
        config=RunConfig(input=InputConfig(events=EventsConfig())))
    want, got = tmp_path / "embedded", tmp_path / "spark"
    want_users = pd.read_parquet(want / "users_segmented.parquet")
    got_users = pd.read_parquet(got / "users_segmented.parquet")
    # both keyed by the log's own id column, as the embedded run writes it
    front = ["Customer ID", "segment", "persona", "broad_segment", "natural_segment",
             "detailed_segment", "novel", "rfm_score", "rfm_segment"]
    # the same columns (a mixture adds probability columns), the same labels; the forecast
    # stage runs on the embedded engine only (personae/forecast/stage.py)
    from personae.forecast.forecaster import FORECAST_COLUMNS

    assert list(got_users.columns) == [c for c in want_users.columns
                                       if c not in FORECAST_COLUMNS]
    assert set(front) <= set(got_users.columns)
    pd.testing.assert_frame_equal(got_users[front], want_users[front], check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(got / "persona_rfm.csv"),
                                  pd.read_csv(want / "persona_rfm.csv"))
    personas = [json.loads((folder / "personas.json").read_text())["personas"]
                for folder in (want, got)]
    assert [p["name"] for p in personas[1]] == [p["name"] for p in personas[0]]
    # a mixture's "also behaves like" facts read every user's memberships: Spark leaves
    # them out (spark/folder.py says so); everything else is the same
    assert all(not p["also_like"] for p in personas[1])
    assert personas[1] == [{**{k: v for k, v in p.items() if k != "forecast"},
                            "also_like": []} for p in personas[0]]
    cuts = [SegmentModel.load(folder / "model").rfm_ for folder in (want, got)]
    assert cuts[0] is not None and cuts[1]["columns"] == cuts[0]["columns"]
    for name in ("recency", "frequency", "monetary"):  # Spark sums in another order
        np.testing.assert_allclose(cuts[1][name], cuts[0][name], rtol=1e-9)
    info = json.loads((got / "run.json").read_text())["input"]
    assert info["kind"] == "events" and info["mapping"]["order"] == "Invoice"
    # `personae assign --events` reads a new log with the Spark model as with the embedded one
    new_log = tmp_path / "new.parquet"
    pd.read_parquet(retail).iloc[30_000:40_000].to_parquet(new_log)
    assigned = []
    for folder in (want, got):
        target = folder / "assigned.parquet"
        result = CliRunner().invoke(app, ["assign", str(folder / "model"), "--events",
                                          str(new_log), "--out", str(target)])
        assert result.exit_code == 0, result.output
        assigned.append(pd.read_parquet(target))
    pd.testing.assert_frame_equal(  # the embedded model also forecasts (no Spark stage)
        assigned[1], assigned[0].drop(columns=[c for c in FORECAST_COLUMNS
                                               if c in assigned[0].columns]))


def test_a_spark_fitted_persona_level_run_assigns_as_the_saved_model(spark, blobs_path,
                                                                     tmp_path: Path) -> None:
    """One assignment: Spark's executors label everyone through SegmentModel.assign, so the
    saved model gives every user every label Spark wrote (edge users included)."""
    frame = blobs_path[1]
    out = _spark_run(spark, str(blobs_path[0]), tmp_path / "run", sample_users=SAMPLE).out
    users = pd.read_parquet(out / "users_segmented.parquet")
    assert {"broad_segment", "natural_segment"} <= set(users.columns)
    inputs = frame.set_index("user_id").loc[users["user_id"]].reset_index()
    assigned = SegmentModel.load(out / "model").assign(inputs)
    for column in ("segment", "broad_segment", "natural_segment", "detailed_segment",
                   "novel"):
        if column in users.columns:
            assert np.array_equal(assigned[column].to_numpy(), users[column].to_numpy()), \
                column
