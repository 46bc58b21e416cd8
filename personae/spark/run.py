"""``personae run --engine spark``: the same run folder, with the heavy passes in Spark.

1. Read the user table (or compute event features) as a Spark DataFrame; count the users
   and check their ids.
2. Collect a sample to the driver, chosen by a hash of the id (the whole table when it
   fits ``sample_users``) and run the embedded engine on it: cleaning, algorithm and K by
   its own rules.
3. K-means models: refine the centroids over everyone in Spark (Lloyd passes from the
   sample's centroids, or pyspark.ml KMeans with k-means||), then write them back into the
   model. Other algorithms keep the sample fit; everyone is assigned by its own
   nearest rule.
4. Label everyone with the embedded model on the executors and write the run folder:
   users_segmented (streamed, never collected), segment_profiles (of the sample, sizes of
   everyone), k_selection, model/, run.json.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time as clock
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from personae.errors import ConfigError, DataError
from personae.spark import adapter, cluster
from personae.spark.output import write_single_file
from personae.spark.session import from_pandas, spark_errors, spark_session, to_pandas

logger = logging.getLogger(__name__)

SAMPLE_USERS = 200_000
Refine = Literal["lloyd", "kmeans||", "none"]


@dataclass(frozen=True)
class SparkRun:
    """What a Spark run wrote: the folder, the counts and where the time went."""

    out: Path
    users: int
    sample_users: int
    algorithm: str
    k: int
    sizes: tuple[int, ...]
    refine: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    event_report: Any = None


def _read_users(spark: Any, data: Any) -> tuple[Any, str]:
    from pyspark.sql import DataFrame

    if isinstance(data, DataFrame):
        return data, "<Spark DataFrame>"
    if isinstance(data, pd.DataFrame):
        return from_pandas(spark, data), "DataFrame"
    path = Path(str(data))
    if not path.exists():
        raise DataError("file not found", source=str(path))
    if path.is_file() and path.stat().st_size == 0:
        raise DataError("file is empty", source=str(path))
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq") or path.is_dir():
        return spark.read.parquet(str(path)), str(path)
    if suffix in (".csv", ".tsv", ".txt"):
        return spark.read.option("header", "true").option("inferSchema", "true") \
            .option("sep", "\t" if suffix == ".tsv" else ",").csv(str(path)), str(path)
    raise DataError(f"unknown file type {suffix!r}; expected .csv or .parquet", source=str(path))


def _spark_type(values: np.ndarray) -> str:
    kind = np.asarray(values).dtype.kind
    return {"b": "boolean", "i": "bigint", "u": "bigint", "f": "double"}.get(kind, "string")


def run(data: Any, out: str | Path, *, spark: Any = None, master: str | None = None,
        events: dict[str, Any] | None = None, sample_users: int = SAMPLE_USERS,
        refine: Refine = "lloyd", max_iter: int = 20, tol: float = 1e-4,
        **options: Any) -> SparkRun:
    """Segment ``data`` (a user table: path, pandas or Spark DataFrame) with Spark and write
    the run folder ``out``. ``events``: treat ``data`` as an event log and compute the
    features first (the options of :func:`personae.spark.events.compute`). ``options``:
    those of :func:`personae.segment` (k, k_range, algorithm, features, random_state...).
    """
    if refine not in ("lloyd", "kmeans||", "none"):
        raise ConfigError("The 'refine' parameter must be one of ['lloyd', 'kmeans||', "
                          f"'none']. Got {refine!r} instead.")
    if isinstance(sample_users, bool) or not isinstance(sample_users, int) or sample_users < 100:
        raise ConfigError(f"The 'sample_users' parameter must be an int >= 100. Got "
                          f"{sample_users!r} instead.")
    with spark_session(spark, master) as session:
        master_url = session.sparkContext.master
        result = _run(session, data, Path(out), events, sample_users, refine, max_iter, tol,
                      dict(options))
    logger.info("Spark run on %s done", master_url)
    return result


def _run(spark: Any, data: Any, out: Path, events: dict[str, Any] | None, sample_users: int,
         refine: str, max_iter: int, tol: float, options: dict[str, Any]) -> SparkRun:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    timings: dict[str, float] = {}
    started = clock.perf_counter()
    report = None
    if events is not None:
        from personae.spark.events import compute

        features = compute(spark, data, **events)
        users, source, report = features.frame, features.report.source, features.report
        id_column = "user_id"
    else:
        users, source = _read_users(spark, data)
        id_column = options.pop("id_column", None) or adapter.detect_id_column(users.columns)
    options.pop("id_column", None)
    if id_column is None or id_column not in users.columns:
        raise ConfigError(f"{source}: the Spark engine needs a user id column; name it with "
                          f"--id-column (columns are {users.columns})")
    with spark_errors(source):
        users = users.persist(StorageLevel.MEMORY_AND_DISK)
        n_users = users.count()
        if n_users == 0:
            raise DataError("has a header but no rows", source=source)
        dup = users.groupBy(id_column).count().where("count > 1").limit(1).collect()
        if dup:
            raise DataError(f"duplicate id {dup[0][0]!r} ({dup[0][1]} rows; one row per user is "
                            "expected)", source=source, column=id_column)
        if users.where(F.col(id_column).isNull()).limit(1).count():
            raise DataError("some users have no id", source=source, column=id_column)
        timings["read"] = clock.perf_counter() - started

        started = clock.perf_counter()
        if n_users <= sample_users:
            sample = to_pandas(users)
        else:
            key = F.xxhash64(F.col(id_column).cast("string"), F.lit(int(options.get(
                "random_state", 0))))
            sample = to_pandas(users.withColumn("__h", key).orderBy("__h", id_column)
                               .limit(sample_users).drop("__h"))
        timings["collect_sample"] = clock.perf_counter() - started
        logger.info("fitting the embedded model on %s of %s users", f"{len(sample):,}",
                    f"{n_users:,}")

        started = clock.perf_counter()
        fitted = adapter.fit_sample(sample, id_column=id_column, **options)
        timings["fit_sample"] = clock.perf_counter() - started

        started = clock.perf_counter()
        work = Path(tempfile.mkdtemp(prefix="personae-spark-"))
        try:
            return _cluster(spark, users, sample, fitted, work, id_column, n_users, source,
                            refine, max_iter, tol, options, out, timings, report)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _cluster(spark: Any, users: Any, sample: pd.DataFrame, fitted: Any, work: Path,
             id_column: str, n_users: int, source: str, refine: str, max_iter: int,
             tol: float, options: dict[str, Any], out: Path, timings: dict[str, float],
             report: Any) -> SparkRun:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    model = fitted.model
    with spark_errors(source):
        started = clock.perf_counter()
        info: dict[str, Any] = {"method": "none", "why": "the sample fit is final"}
        seg = model.segmenter_
        if seg.name in adapter.CENTROID_ALGORITHMS and refine != "none" and \
                n_users > len(sample):
            files = adapter.model_files(model, work / "sample_model")
            vectors = cluster.scaled_vectors(users, files, id_column) \
                .persist(StorageLevel.MEMORY_AND_DISK)
            X = model.transform(sample)
            variance = float(np.mean(np.var(X, axis=0)))
            if refine == "lloyd":
                refined = cluster.lloyd(vectors, seg.cluster_centers_, variance,
                                        max_iter=max_iter, tol=tol)
            else:
                refined = cluster.spark_kmeans(vectors, int(model.n_clusters_),
                                               seed=int(options.get("random_state", 0)),
                                               max_iter=max_iter, tol=tol)
            vectors.unpersist()
            adapter.set_centers(model, refined.centers, refined.inertia, sample)
            info = {"method": refined.method, "iterations": refined.iterations,
                    "converged": refined.converged, "inertia_all_users": refined.inertia,
                    "centroid_shift": list(refined.shift_history),
                    "why": ("Lloyd passes over all users from the sample's centroids"
                            if refined.method == "lloyd" else
                            "pyspark.ml KMeans (k-means||) over all users, K from the sample")}
        elif seg.name not in adapter.CENTROID_ALGORITHMS and n_users > len(sample):
            info = {"method": "none", "why": f"{seg.name} fitted on the sample; everyone else "
                    "assigned by its nearest rule (SegmentModel.predict on the executors)"}
        model.n_users_ = n_users
        timings["refine"] = clock.perf_counter() - started

        started = clock.perf_counter()
        files = adapter.model_files(model, work / "final_model")
        probe = adapter.user_columns(model, sample.head(50), id_column)
        columns = [(name, _spark_type(v)) for name, v in probe.items() if name != "segment"]
        labelled = cluster.assign(users, files, id_column, columns) \
            .persist(StorageLevel.MEMORY_AND_DISK)
        counts = {int(r["segment"]): int(r["n"]) for r in labelled.groupBy("segment")
                  .agg(F.count("*").alias("n")).collect()}
        novel = labelled.where("novel").count() if "novel" in labelled.columns else 0
        timings["assign"] = clock.perf_counter() - started

        started = clock.perf_counter()
        _write_folder(out, fitted, model, sample, labelled, counts, novel, n_users, source,
                      info, spark, timings)
        labelled.unpersist()
        users.unpersist()
        timings["write"] = clock.perf_counter() - started
    k = int(model.n_clusters_)
    sizes = tuple(counts.get(s, 0) for s in range(k))
    return SparkRun(out=out, users=n_users, sample_users=len(sample), algorithm=seg.name, k=k,
                    sizes=sizes, refine=info, timings={k_: round(v, 3) for k_, v in
                                                       timings.items()}, event_report=report)


def _write_folder(out: Path, fitted: Any, model: Any, sample: pd.DataFrame, labelled: Any,
                  counts: dict[int, int], novel: int, n_users: int, source: str,
                  refine: dict[str, Any], spark: Any, timings: dict[str, float]) -> None:
    import pyspark

    k = int(model.n_clusters_)
    sizes = np.array([counts.get(s, 0) for s in range(k)])
    sample_labels = model.predict(sample)
    profiles = adapter.profiles(model, sample, sample_labels, fitted.stability)
    full = pd.Series(counts)
    profiles["size"] = profiles["segment"].map(full).fillna(0).astype(int)
    profiles["share"] = profiles["size"] / n_users
    info = json.loads(json.dumps(fitted.info, default=_jsonable))
    info["input"] = {**info["input"], "source": source, "users": n_users}
    info["segments"] = {**info["segments"], "k": k, "sizes": sizes.tolist(),
                        "shares": (sizes / n_users).round(6).tolist(),
                        "edge_users": int(counts.get(-1, 0)), "novel_users": int(novel)}
    if "inertia_all_users" in refine:
        info["metrics"] = {**info.get("metrics", {}),
                           "inertia_all_users": refine["inertia_all_users"]}
    info["algorithm"]["why"] = [*info["algorithm"]["why"],
                                f"spark: chosen on {len(sample):,} of {n_users:,} users; "
                                f"{refine['why']}"]
    info["engine"] = {"name": "spark", "master": spark.sparkContext.master,
                      "spark_version": pyspark.__version__, "sample_users": len(sample),
                      "refine": refine,
                      "profiles_from": "the sample" if len(sample) < n_users else "all users"}
    info["timings_seconds"] = {**info.get("timings_seconds", {}),
                               **{f"spark_{k_}": round(v, 3) for k_, v in timings.items()}}
    with adapter.staged_folder(out) as staging:
        ordered = labelled.orderBy(labelled.columns[0])
        write_single_file(ordered, staging / "users_segmented.parquet")
        write_single_file(ordered, staging / "users_segmented.csv")
        profiles.to_csv(staging / "segment_profiles.csv", index=False)
        if fitted.k_table is not None:
            fitted.k_table.to_csv(staging / "k_selection.csv", index=False)
        if fitted.algorithm_table is not None:
            fitted.algorithm_table.to_csv(staging / "algorithm_selection.csv", index=False)
        if fitted.hierarchy is not None:
            (staging / "hierarchy.json").write_text(json.dumps(fitted.hierarchy, default=_jsonable),
                                                    encoding="utf-8")
        model.save(staging / "model")
        (staging / "run.json").write_text(json.dumps(info, indent=2, default=_jsonable),
                                          encoding="utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
