"""The run folder a Spark run writes: the embedded run's files, the users streamed from the
executors, and a model folder in the embedded model format.

The model folder holds what ``SegmentModel.save`` writes (model.json, arrays.npz,
levels.json) and, as the embedded run's does, ``segments.json`` (persona names, sizes and
shares, what ``personae serve`` answers /segments and /personas with) and the monitoring
reference ``reference.json`` / ``reference.npz`` (what ``personae monitor`` compares new
users with). Sizes count every user (Spark's label counts); the personas are worded from
the profiles of every user; the reference's feature bins, centroids, model-space spread
and bimodality come from the driver sample, the bounded set of users the driver holds (the
embedded run bins at most a million users too), with its segment sizes and user count
replaced by everyone's.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.data.documents import write_document
from personae.data.event_options import save_event_options
from personae.data.run_folder import (
    HIERARCHY_FORMAT,
    PERSONAS_FORMAT,
    csv_columns,
    input_id_column,
    segment_rows,
    write_run_json,
)
from personae.data.segments import persona_column, persona_names
from personae.spark import adapter, cluster
from personae.spark.output import write_single_file
from personae.spark.profiles import median_rule


def personas(profiles: pd.DataFrame, fitted: Any, source: str, n_users: int
             ) -> dict[str, Any]:
    """personas.json from the profiles of every user, with the sample run's semantics; the
    GMM mixing facts, which read every user's memberships, are left out."""
    document = adapter.personas_document(profiles, fitted.semantics, None, source=source)
    document["run"] = {**document["run"], "users": int(n_users)}
    return document


def sample_reference(sample: pd.DataFrame, model: Any, counts: dict[int, int], n_users: int,
                     source: str) -> Any:
    """The monitoring reference of the final model from the driver sample (labelled by that
    model), its segment sizes and user count those of everyone (see the module docstring)."""
    labels = np.asarray(model.predict(sample))
    reference = adapter.build_reference(sample, labels, model, source,
                                        X=np.asarray(model.transform(sample)))
    return dataclasses.replace(
        reference, n_users=int(n_users),
        segment_sizes=tuple(int(counts.get(s, 0)) for s in reference.segments))


def _with_persona(labelled: Any, document: dict[str, Any], counts: dict[int, int]) -> Any:
    """users_segmented's persona column, beside the segment, as the embedded run writes it
    (``data.segments.persona_column``: the one rule for names, edge users and the rest)."""
    from pyspark.sql import functions as F

    segments = sorted(int(s) for s in counts)
    names = persona_column(segments, persona_names(document))
    pairs = [item for s, n in zip(segments, names, strict=True) for item in (F.lit(s), F.lit(n))]
    named = labelled.withColumn("persona", F.create_map(*pairs)[F.col("segment")])
    first, rest = labelled.columns[:2], labelled.columns[2:]
    return named.select(*first, "persona", *rest)


def write_folder(out: Path, fitted: Any, model: Any, files: dict[str, bytes], users: Any,
                 labelled: Any, profiles: pd.DataFrame, counts: dict[int, int], novel: int,
                 sample: pd.DataFrame, n_users: int, source: str, refine: dict[str, Any],
                 levels: dict[str, Any] | None, spark: Any, id_column: str,
                 timings: dict[str, float], event_log: tuple[Any, Any] | None = None) -> None:
    """Write the run folder ``out`` (all or nothing) from the full fit's pieces.
    ``event_log``: the event report and EventsConfig when the users came from a log."""
    import pyspark

    k = int(model.n_clusters_)
    sample_users = len(sample)
    sizes = np.array([counts.get(s, 0) for s in range(k)])
    info = copy.deepcopy(fitted.info)  # the sample run's record, as its save writes it
    info["input"] = {**info["input"], "source": source, "users": n_users}
    if event_log is not None:  # as the embedded event run says it
        report, _ = event_log
        info["input"] = {**info["input"], "kind": "events", "mapping": dict(report.mapping),
                         "report": report.lines()}
    info["segments"] = {**info["segments"], "k": k, "sizes": sizes.tolist(),
                        "shares": (sizes / n_users).round(6).tolist(),
                        "edge_users": int(counts.get(adapter.NOISE, 0)), "novel_users": int(novel)}
    if "inertia_all_users" in refine:
        info["metrics"] = {**info.get("metrics", {}),
                           "inertia_all_users": refine["inertia_all_users"]}
    info["algorithm"]["why"] = [*info["algorithm"]["why"],
                                f"spark: chosen on {sample_users:,} of {n_users:,} users; "
                                f"{refine['why']}"]
    if "levels" in info and getattr(model, "levels_", None) is not None:
        info["levels"] = {**info["levels"], "sizes": model.levels_["sizes"],
                          "why": [*info["levels"]["why"], "spark: " + (
                              levels["why"] if levels else "levels of the sample kept")]}
    info["engine"] = {"name": "spark", "master": spark.sparkContext.master,
                      "spark_version": pyspark.__version__, "sample_users": sample_users,
                      "refine": refine, "levels_refine": levels,
                      "profiles_from": "all users (Spark aggregations)",
                      "profile_medians": median_rule(n_users),
                      "reference_from": f"the driver sample ({sample_users:,} users); segment "
                                        "sizes from all users"}
    info["timings_seconds"] = {**info.get("timings_seconds", {}),
                               **{f"spark_{k_}": round(v, 3) for k_, v in timings.items()}}
    document = personas(profiles, fitted, source, n_users)
    segments = segment_rows(document, pd.Series(counts, dtype=np.int64))
    reference = sample_reference(sample, model, counts, n_users, source)
    with adapter.staged_folder(out) as staging:
        ordered = _with_persona(labelled, document, counts).orderBy(labelled.columns[0])
        own = input_id_column(info)  # the log's own id name, as the embedded run writes it
        if own != id_column and own not in ordered.columns:
            ordered = ordered.withColumnRenamed(id_column, own)
        write_single_file(ordered, staging / "users_segmented.parquet")
        write_single_file(ordered.select(*csv_columns(ordered.columns, users.columns)),
                          staging / "users_segmented.csv")
        if hasattr(model.segmenter_, "predict_proba"):
            n_components = int(model.segmenter_.n_segments_)
            write_single_file(cluster.memberships(users, files, id_column, n_components)
                              .orderBy(id_column), staging / "memberships.parquet")
        profiles.to_csv(staging / "segment_profiles.csv", index=False)
        if fitted.k_table is not None:
            fitted.k_table.to_csv(staging / "k_selection.csv", index=False)
        if fitted.algorithm_table is not None:
            fitted.algorithm_table.to_csv(staging / "algorithm_selection.csv", index=False)
        if fitted.hierarchy is not None:
            write_document(staging / "hierarchy.json", _hierarchy(fitted.hierarchy, labelled),
                           HIERARCHY_FORMAT, 1)
        if "rfm_segment" in labelled.columns:
            _rfm_crosstab(labelled).to_csv(staging / "persona_rfm.csv")
        if "levels_table" in fitted.extra:
            fitted.extra["levels_table"].to_csv(staging / "persona_levels.csv", index=False)
        write_document(staging / "personas.json", document, PERSONAS_FORMAT, 1)
        model.save(staging / "model", segments=segments,
                   meanings=fitted.info.get("feature_meanings"))
        reference.save(staging / "model")
        if event_log is not None:  # assign --events reads a new log the training log's way
            save_event_options(staging / "model", event_log[0].mapping, event_log[1],
                               event_log[0].event_group)
        write_run_json(staging, info)  # last: it lists every file with its sha256


def _hierarchy(sample_hierarchy: dict[str, Any], labelled: Any) -> dict[str, Any]:
    """The sample's taxonomy document with its nodes' sizes and shares counted over every
    user (one row per combination of levels comes back); the dendrogram stays the
    sample's, as in the embedded run, which builds its tree on a sample too."""
    levels = [c for c in labelled.columns if c.startswith("level_")]
    rows = labelled.groupBy(*levels).count().collect()
    combos = np.array([[r[c] for c in levels] for r in rows], dtype=np.int64)
    counts = np.array([r["count"] for r in rows], dtype=np.int64)
    return {**sample_hierarchy, "nodes": adapter.taxonomy(combos, counts)}


def _rfm_crosstab(labelled: Any) -> pd.DataFrame:
    """persona_rfm.csv: users per persona and RFM segment, counted over everyone (one row
    per pair comes back)."""
    rows = labelled.groupBy("segment", "rfm_segment").count().collect()
    return adapter.rfm_crosstab(np.array([r["segment"] for r in rows]),
                                np.array([r["rfm_segment"] for r in rows]),
                                users=np.array([r["count"] for r in rows]))

