"""``personae run --engine spark``: the same run folder, with the heavy passes in Spark.

1. Read the user table (or compute event features) as a Spark DataFrame; count the users
   and check their ids.
2. Collect a sample to the driver, chosen by a hash of the id (the whole table when it
   fits ``engine.sample_users``) and run the embedded engine on it with the run's
   segmentation settings: cleaning, algorithm, K, stability and (``persona_levels``) the
   persona levels by its own rules.
3. The full fit over everyone (``engine.refine``, default ``"pyspark.ml"``):

   - kmeans / minibatch: pyspark.ml KMeans (k-means||) with the sample's K; or, with
     ``refine="lloyd"``, Lloyd passes as Spark aggregations from the sample's centroids;
   - gmm: pyspark.ml GaussianMixture with the sample's K (best of the sample's ``n_init``
     starts) when the sample chose full covariances, the only kind pyspark.ml fits; other
     covariance types keep the sample's mixture;
   - bisecting: pyspark.ml BisectingKMeans with the sample's K; its tree, read from the
     saved Spark model, becomes the model's, which walks it as pyspark.ml's predict does;
   - hierarchical, dbscan, hdbscan, meanshift, kprototypes: the sample fit, as the embedded
     engine itself fits them (on a sample, O(n^2)); everyone is placed by the model's
     nearest rule (pyspark.ml's BisectingKMeans is divisive K-means, not Ward's tree, so
     hierarchical is not mapped onto it: ask for bisecting);
   - persona levels: their centres refined by Lloyd passes, far limits from every user's
     distance, the broad level re-cut from the refined centres (``refit.refine_levels``);
     the detailed level keeps the sample's centres.

   What was fitted becomes a refitted copy of the embedded model
   (``SegmentModel.refitted``), so ``SegmentModel.assign`` gives every user the label Spark
   wrote.
4. Label everyone with that model on the executors and write the run folder:
   users_segmented (streamed, never collected), memberships (gmm), segment_profiles and
   personas (from every user, Spark aggregations), k_selection, model/, run.json; from an
   event log also the RFM map (its cut points from the sample) and persona_rfm.csv.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import time as clock
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.config import EngineConfig, EventsConfig, InputConfig, RunConfig, build, merged
from personae.errors import ConfigError, DataError
from personae.spark import adapter, cluster, refit
from personae.spark.errors import spark_errors
from personae.spark.folder import write_folder
from personae.spark.profiles import profile_stats
from personae.spark.session import from_pandas, spark_session, to_pandas

logger = logging.getLogger(__name__)



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
    edge_users: int = 0


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
    where = str(path.absolute())  # the JVM resolves a relative path against its own cwd
    if suffix in (".parquet", ".pq") or path.is_dir():
        return spark.read.parquet(where), str(path)
    if suffix in (".csv", ".tsv", ".txt"):
        return spark.read.option("header", "true").option("inferSchema", "true") \
            .option("sep", "\t" if suffix == ".tsv" else ",").csv(where), str(path)
    raise DataError(f"unknown file type {suffix!r}; expected .csv or .parquet", source=str(path))


def _spark_type(values: np.ndarray) -> str:
    kind = np.asarray(values).dtype.kind
    return {"b": "boolean", "i": "bigint", "u": "bigint", "f": "double"}.get(kind, "string")


def run(data: Any, out: str | Path, *, config: RunConfig | None = None, spark: Any = None,
        max_iter: int = 20, tol: float = 1e-4, **settings: Any) -> SparkRun:
    """Segment ``data`` (a user table: path, pandas or Spark DataFrame; None: the config's
    ``input.path``) with Spark and write the run folder ``out``.

    ``config``: the RunConfig (``input.events``: ``data`` is an event log, its features
    computed first; ``engine``: the session's master and conf, ``sample_users`` and
    ``refine``, see the module docstring). ``settings``: fields of its ``segmentation``
    (k, algorithm, random_state...) or ``engine`` (master, conf, refine, sample_users) laid
    over it, as :func:`personae.segment` takes them. ``spark``: a session to use (left
    running), as in :func:`personae.spark.from_events`. ``max_iter``, ``tol``: the Lloyd
    passes of the full fit.
    """
    from personae.pipeline import run_config

    engine = {key: settings.pop(key) for key in list(settings) if key in EngineConfig.model_fields}
    run = run_config(data, config, **settings)
    run = build(RunConfig, merged(run.document(), {"engine": {**engine, "kind": "spark"}}),
                "personae.spark.run()")
    with spark_session(spark, run.engine.master, run.engine.conf) as session:
        master_url = session.sparkContext.master
        result = _run(session, run.input.path if data is None else data, Path(out), run,
                      max_iter, tol)
    logger.info("Spark run on %s done", master_url)
    return result


def _run(spark: Any, data: Any, out: Path, run: RunConfig, max_iter: int,
         tol: float) -> SparkRun:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    timings: dict[str, float] = {}
    started = clock.perf_counter()
    meanings, event_log = None, None
    events = run.input.events
    if events is not None:
        from personae.spark.events import compute

        features = compute(spark, data, events)
        users, source, report = features.frame, features.report.source, features.report
        meanings = dict(features.meanings)
        event_log = (report, events.model_copy(update={"mapping": dict(report.mapping)}))
        id_column = "user_id"
    else:
        users, source = _read_users(spark, data)
        id_column = run.segmentation.id_column or adapter.detect_id_column(users.columns)
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
        sample_users = run.engine.sample_users
        if n_users <= sample_users:
            sample = to_pandas(users)
        else:
            key = F.xxhash64(F.col(id_column).cast("string"),
                             F.lit(run.segmentation.random_state))
            sample = to_pandas(users.withColumn("__h", key).orderBy("__h", id_column)
                               .limit(sample_users).drop("__h"))
        timings["collect_sample"] = clock.perf_counter() - started
        logger.info("fitting the embedded model on %s of %s users", f"{len(sample):,}",
                    f"{n_users:,}")

        started = clock.perf_counter()
        fitted = adapter.fit_sample(sample, meanings, event_log[0] if event_log else None,
                                    config=_sample_config(run, id_column))
        # run.json records the run as asked (input, engine), not the sample's own call
        fitted = dataclasses.replace(fitted, info={**fitted.info, "config": run.document()})
        timings["fit_sample"] = clock.perf_counter() - started

        started = clock.perf_counter()
        work = Path(tempfile.mkdtemp(prefix="personae-spark-"))
        try:
            return _cluster(spark, users, sample, fitted, work, id_column, n_users, source,
                            run, max_iter, tol, out, timings, event_log)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _sample_config(run: RunConfig, id_column: str) -> RunConfig:
    """The embedded run on the driver sample: the run's settings, its input the sample (a
    user table with ``id_column``, whatever the run read)."""
    return run.model_copy(update={
        "input": InputConfig(),
        "segmentation": run.segmentation.model_copy(update={"id_column": id_column})})


def _cluster(spark: Any, users: Any, sample: pd.DataFrame, fitted: Any, work: Path,
             id_column: str, n_users: int, source: str, run: RunConfig, max_iter: int,
             tol: float, out: Path, timings: dict[str, float],
             event_log: tuple[Any, EventsConfig] | None) -> SparkRun:
    from pyspark import StorageLevel

    model = fitted.model
    seg = model.segmenter_
    with spark_errors(source):
        started = clock.perf_counter()
        model, info, levels_info = _full_fit(model, users, sample, work, id_column, n_users,
                                             run.engine.refine, max_iter, tol,
                                             run.segmentation.random_state)
        renumbered = refit.renumbering(fitted.labels, model.labels_)
        levels = None
        if model.levels_ is not None:  # natural segment -> its persona
            natural = refit.renumbering(fitted.extra["user_columns"]["natural_segment"],
                                        model.assignments_["natural_segment"].to_numpy())
            levels = {**model.levels_, "base_to_persona": {
                str(natural.get(int(base), int(base))): {
                    **target, "persona": renumbered.get(target["persona"], target["persona"])}
                for base, target in model.levels_["base_to_persona"].items()}}
        model = model.refitted(sample, levels=levels, n_users=n_users)
        info["renumbered_from_sample"] = {str(k): v for k, v in renumbered.items()}
        timings["fit"] = clock.perf_counter() - started

        started = clock.perf_counter()
        files = adapter.model_files(model, work / "final_model")
        probe = adapter.user_columns(model, sample.head(50), id_column)
        columns = [(name, _spark_type(v)) for name, v in probe.items() if name != "segment"]
        labelled = cluster.assign(users, files, id_column, columns) \
            .persist(StorageLevel.MEMORY_AND_DISK)
        counts = _counts(labelled, "segment")
        novel = labelled.where("novel").count() if "novel" in labelled.columns else 0
        if levels_info is not None:  # the levels' sizes, counted over everyone
            model = model.refitted(sample, levels={
                **model.levels_, "edge_users": counts.get(adapter.NOISE, 0), "sizes": {
                    "broad": _keyed(_counts(labelled, "broad_segment")),
                    "persona": _keyed(counts),
                    "detailed": _keyed(_counts(labelled, "detailed_segment"))}})
        timings["assign"] = clock.perf_counter() - started

        started = clock.perf_counter()
        stats = profile_stats(users, files, model, sample.head(50), n_users)
        profiles = adapter.profiles_from_stats(stats)
        unstable = {renumbered.get(int(seg), int(seg)) for seg in
                    (fitted.stability or {}).get("unstable_segments", [])}
        profiles["unstable"] = profiles["segment"].isin(unstable)
        timings["profile"] = clock.perf_counter() - started

        started = clock.perf_counter()
        write_folder(out, fitted, model, files, users, labelled, profiles, counts, novel,
                     sample, n_users, source, info, levels_info, spark, id_column, timings,
                     event_log)
        labelled.unpersist()
        users.unpersist()
        timings["write"] = clock.perf_counter() - started
    k = int(model.n_clusters_)
    sizes = tuple(counts.get(s, 0) for s in range(k))
    return SparkRun(out=out, users=n_users, sample_users=len(sample), algorithm=seg.name, k=k,
                    sizes=sizes, refine=info, timings={k_: round(v, 3) for k_, v in
                                                       timings.items()},
                    event_report=event_log[0] if event_log else None,
                    edge_users=counts.get(adapter.NOISE, 0))


def _counts(labelled: Any, column: str) -> dict[int, int]:
    """Users per value of a level's column (none when the run has no such level)."""
    if column not in labelled.columns:
        return {}
    return {int(r[column]): int(r["count"]) for r in labelled.groupBy(column).count().collect()}


def _keyed(counts: dict[int, int]) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(counts.items())}


def _full_fit(model: Any, users: Any, sample: pd.DataFrame, work: Path, id_column: str,
              n_users: int, refine: str, max_iter: int, tol: float, seed: int
              ) -> tuple[Any, dict[str, Any], dict[str, Any] | None]:
    """The sample's model refitted over everyone where Spark can (a new model: the
    sample's is left as it was); what was done and why, for run.json, and the persona
    levels' refinement."""
    from pyspark import StorageLevel

    if n_users <= len(sample):
        return model, {"method": "none", "why": "the sample is every user: its fit is final"}, \
            None
    if refine == "none":
        return model, {"method": "none", "why": "refine='none': the sample fit is kept; "
                       "everyone assigned by the saved model"}, None
    vectors = cluster.scaled_vectors(users, adapter.model_files(model, work / "sample_model"),
                                     id_column).persist(StorageLevel.MEMORY_AND_DISK)
    X = model.transform(sample)
    try:
        segmenter, info = _refit_segmenter(model, vectors, X, refine, max_iter, tol, seed,
                                           work)
        levels, levels_info = None, None
        if model.levels_ is not None and model.levels_["n_personas"] > 1:
            refined = refit.refine_levels(vectors, model.levels_, X, n_users,
                                          max_iter=max_iter, tol=tol,
                                          rules=model.settings_.levels)
            levels = adapter.with_levels(model, refined.centers, refined.far_distance,
                                         refined.persona_to_broad)
            levels_info = {"iterations": refined.iterations, "converged": refined.converged,
                           "far_limit_quartiles": refined.quantiles,
                           "why": "persona levels chosen on the sample by the embedded rules; "
                                  "persona centres refined by Lloyd passes over all users, "
                                  "far limits from all users' distances by the embedded edge "
                                  "rule (Q3 + 3 IQR, its floor and its cap), broad level "
                                  "re-cut by Ward on the refined centres"}
    finally:
        vectors.unpersist()
    if segmenter is not None or levels is not None:
        model = model.refitted(sample, segmenter=segmenter, levels=levels)
    return model, info, levels_info


def _refit_segmenter(model: Any, vectors: Any, X: np.ndarray, refine: str, max_iter: int,
                     tol: float, seed: int, work: Path) -> tuple[Any, dict[str, Any]]:
    """The model's segmenter refitted over everyone (None where it is kept), and why."""
    seg = model.segmenter_
    k = int(model.segmenter_.n_segments_)
    if seg.name in adapter.CENTROID_ALGORITHMS:
        variance = float(np.mean(np.var(X, axis=0)))
        if refine == "lloyd":
            refined = cluster.lloyd(vectors, seg.cluster_centers_, variance,
                                    max_iter=max_iter, tol=tol)
        else:
            refined = cluster.spark_kmeans(vectors, k, seed=seed, max_iter=max_iter, tol=tol)
        return adapter.with_centers(model, refined.centers, refined.inertia), {
                "method": refined.method, "iterations": refined.iterations,
                "converged": refined.converged, "inertia_all_users": refined.inertia,
                "centroid_shift": list(refined.shift_history),
                "why": ("Lloyd passes over all users from the sample's centroids"
                        if refined.method == "lloyd" else
                        "pyspark.ml KMeans (k-means||) over all users, K from the sample")}
    if seg.name == "bisecting" and refine == "pyspark.ml":
        tree = refit.spark_bisecting(vectors, k, work, seed=seed, max_iter=max_iter)
        return adapter.with_tree(model, tree.centers, tree.children, tree.leaf, tree.sizes,
                                 tree.cost), {
                "method": "pyspark.ml BisectingKMeans", "leaves": int(len(tree.sizes)),
                "cost_all_users": tree.cost, "walk_agreement": tree.walk_agreement,
                "walk_checked_users": tree.checked_users,
                "why": "pyspark.ml BisectingKMeans over all users, K from the sample; its tree "
                       "(read from the saved Spark model) is the model's, so the tree walk "
                       f"places {tree.walk_agreement:.2%} of {tree.checked_users:,} checked "
                       "users where pyspark.ml's predict does"}
    if seg.name == "gmm":
        cov = seg.covariance_type_
        if refine != "pyspark.ml" or cov != "full":
            return None, {"method": "none", "why": (
                f"pyspark.ml GaussianMixture fits full covariances only; the sample's '{cov}' "
                "mixture is kept" if cov != "full" else "refine='lloyd' applies to K-means; "
                "the sample's mixture is kept") + "; everyone assigned by its posterior"}
        try:
            mixture = refit.spark_mixture(vectors, k, seed=seed, n_init=int(seg.n_init))
        except np.linalg.LinAlgError:
            return None, {"method": "none", "why": "pyspark.ml GaussianMixture gave a singular "
                    "covariance; the sample's mixture is kept"}
        return adapter.with_mixture(model, mixture.weights, mixture.means,
                                    mixture.covariances, mixture.precisions_cholesky), {
                "method": "pyspark.ml GaussianMixture", "iterations": mixture.iterations,
                "starts": mixture.starts,
                "log_likelihood_all_users": mixture.log_likelihood,
                "why": f"pyspark.ml GaussianMixture (full covariances, best of {mixture.starts} "
                       "starts) over all users, K and the covariance type from the sample"}
    return None, {"method": "none", "why": f"{seg.name} fitted on the sample (as the embedded "
                  "engine fits it); everyone else assigned by its nearest rule "
                  "(SegmentModel.assign on the executors)"}
