"""`personae run`, `assign` and `demo`: a run folder from a user table or an event log."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from personae._share import share_text
from personae.cli._app import (
    EVENT_REPORT_SAYS,
    TrackingUriOption,
    TrackOption,
    _mapping,
    _print_tracked,
    _reporting,
    _tracking,
    app,
    console,
    out_console,
    parse_k,
    parse_k_range,
    parse_list,
)
from personae.cli._settings import as_text, conf_pairs, days, run_settings
from personae.errors import ConfigError


@app.command()
def run(
    input_path: Annotated[Path | None, typer.Argument(
        metavar="INPUT", help="User table (CSV or Parquet), or an event log with --events; "
                              "optional when --config names it.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder.")] = None,
    config: Annotated[Path | None, typer.Option(help="Run settings: YAML or JSON (a run.json's "
                                                     "config block reproduces that run); "
                                                     "flags override it.")] = None,
    id_column: Annotated[str | None, typer.Option(help="User id column (default: detect "
                                                       "user_id/customer_id/id).")] = None,
    features: Annotated[str | None, typer.Option(help="Comma-separated feature columns "
                                                      "(default: all usable).")] = None,
    categorical: Annotated[str | None, typer.Option(help="Comma-separated columns that are "
                                                         "categories though written as "
                                                         "numbers (region or plan codes).")]
    = None,
    k: Annotated[str | None, typer.Option("--k", help="Number of segments, or 'auto' "
                                                      "(default).")] = None,
    k_range: Annotated[str | None, typer.Option(help="Range searched by --k auto (default "
                                                     "2..10).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).")] = None,
    impute: Annotated[str | None, typer.Option(help="median (default; mode for categories) "
                                                    "or knn.")] = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not log-transform skewed "
                                                          "counts.")] = False,
    no_stability: Annotated[bool, typer.Option("--no-stability", help="Skip the bootstrap "
                                                                      "refits that measure "
                                                                      "each segment's "
                                                                      "stability.")] = False,
    scaler: Annotated[str | None, typer.Option(help="standard (default), robust or "
                                                    "minmax.")] = None,
    events: Annotated[bool, typer.Option("--events", help="INPUT is a raw event log: compute "
                                                          "per-user features first (see "
                                                          "'personae features').")] = False,
    event_map: Annotated[str | None, typer.Option("--map", help="With --events: role=column "
                                                                "pairs, e.g. 'user=Customer "
                                                                "ID,time=InvoiceDate'.")] = None,
    on_bad_rows: Annotated[str | None, typer.Option(help="With --events: error (default) or "
                                                         "skip rows whose time or number does "
                                                         "not parse.")] = None,
    memory_limit: Annotated[str | None, typer.Option(help="With --events: DuckDB memory "
                                                          "limit, e.g. 4GB.")] = None,
    event_group: Annotated[str | None, typer.Option(help="With --events: regex grouping "
                                                         "event labels into kinds (the first "
                                                         "group); '' keeps every label.")]
    = None,
    semantics: Annotated[Path | None, typer.Option(help="YAML file saying what your columns "
                                                        "mean (label, unit, high, low, "
                                                        "themes, pain_when).")] = None,
    report_map: Annotated[str | None, typer.Option(help="Map of users in the report: pca "
                                                        "(default), umap (adds 1-2 min: numba "
                                                        "compiles on first use), tsne or "
                                                        "none.")]
    = None,
    noun: Annotated[str | None, typer.Option(help="What to call the people in the personas "
                                                  "(plural, e.g. players); default: from the "
                                                  "id column, else users.")] = None,
    algorithm: Annotated[str | None, typer.Option(help="kmeans, minibatch, gmm, dbscan, "
                                                       "hdbscan, hierarchical, meanshift, "
                                                       "kprototypes, bisecting or auto "
                                                       "(default: compare "
                                                       "them on a sample, pick one).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="Algorithm parameter "
                                                    "KEY=VALUE, repeatable (e.g. eps=0.4); "
                                                    "'auto' = automatic.")] = None,
    persona_levels: Annotated[bool | None, typer.Option(
        "--persona-levels/--natural", help="Segments are the persona level (3-8, no segment "
                                           "over 60%, tiny groups as edge users, or distinct "
                                           "groups as found) nested in a broad level, the "
                                           "algorithm's own partition in natural_segment; or "
                                           "the algorithm's partition itself (--natural). "
                                           "Default: persona levels with --algorithm auto, "
                                           "natural when an algorithm is named.")] = None,
    engine: Annotated[str | None, typer.Option(help="embedded (DuckDB + numpy, default) or "
                                                    "spark (needs personae[spark] and Java "
                                                    "17).")] = None,
    spark_master: Annotated[str | None, typer.Option(help="With --engine spark: the master "
                                                          "URL (default local[*]).")] = None,
    spark_conf: Annotated[list[str] | None, typer.Option(
        "--spark-conf", help="With --engine spark: a Spark setting KEY=VALUE for the session "
                             "personae starts, repeatable (e.g. spark.driver.memory=8g; "
                             "default driver memory on a local master: half the "
                             "RAM).")] = None,
    spark_refine: Annotated[str | None, typer.Option(help="With --engine spark: the fit over "
                                                   "everyone, pyspark.ml (KMeans k-means||, "
                                                   "GaussianMixture), lloyd (from the "
                                                   "sample's centroids) or none (the sample "
                                                   "fit); default pyspark.ml.")] = None,
    spark_sample: Annotated[int | None, typer.Option(help="With --engine spark: users "
                                                          "collected to the driver to choose "
                                                          "the algorithm, K and the persona "
                                                          "levels (default: the engine's, "
                                                          "200,000).")] = None,
    embed: Annotated[str | None, typer.Option(help="With --events: segment by sequence "
                                                   "embeddings, word2vec or sentence (see "
                                                   "'personae features --embed').")] = None,
    representation: Annotated[str | None, typer.Option(help="With --embed: embedding (the "
                                                            "vectors alone, default) or hybrid "
                                                            "(with the event features).")]
    = None,
    tokens: Annotated[str | None, typer.Option(help="With --embed: token roles joined by +, "
                                                    "e.g. event+category (default event).")]
    = None,
    embed_cache: Annotated[Path | None, typer.Option(help="With --embed: folder keeping "
                                                          "trained embeddings by input "
                                                          "hash.")] = None,
    early_days: Annotated[str | None, typer.Option(
        help="With --events: also learn each user's segment from their first N days "
             "(e.g. 7,14,30): per window the k-NN, the core model or their blend, whichever "
             "agrees best with held-out users, or 'not yet known' below "
             "input.events.early_abstain_below (run.json 'early', the report); saved in "
             "model/early for 'assign --early'.")]
    = None,
    forecast_days: Annotated[int | None, typer.Option(
        help="With --events: horizon of each user's expected events and value, in days "
             "(default 90).")] = None,
    exact_embeddings: Annotated[bool, typer.Option(help="With --embed: train Word2Vec on one "
                                                        "thread so the seed reproduces the "
                                                        "vectors exactly (default: 2 threads "
                                                        "above 2M token passes).")] = False,
    track: TrackOption = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Segment users (a user table, or an event log with --events) and write the results to
    --out."""
    from personae.cluster.auto import comparison_helper
    from personae.pipeline import segment
    from personae.report import save_with_report

    # auto's worker processes are forked here, before the progress display starts its
    # thread (segment() forks none beside another thread); a config file may still name
    # another algorithm, and then they wait unused (a fork costs milliseconds)
    with comparison_helper(algorithm in (None, "auto")) as helper, \
            _reporting("segmenting", EVENT_REPORT_SAYS):
        if out is None:
            raise ConfigError("--out is required: the folder the run is written to")
        store = _tracking(track, tracking_uri)  # checked before the work: MLflow installed
        if early_days is not None and not events and config is None:
            raise ConfigError("--early-days needs --events (an event log as INPUT)")
        settings = run_settings(config, {
            "input.path": as_text(input_path),
            "input.events": {} if events else None,
            "input.events.mapping": _mapping(event_map, checked=False) or None,
            "input.events.on_bad_rows": on_bad_rows,
            "input.events.memory_limit": memory_limit,
            "input.events.event_group": event_group,
            "input.events.early_days": days(early_days),
            "input.sequences.embed": embed,
            "input.sequences.representation": representation,
            "input.sequences.tokens": tokens,
            "input.sequences.cache_dir": as_text(embed_cache),
            "input.sequences.exact": exact_embeddings or None,
            "segmentation.id_column": id_column,
            "segmentation.features": parse_list(features),
            "segmentation.categorical": parse_list(categorical),
            "segmentation.k": parse_k(k),
            "segmentation.k_range": parse_k_range(k_range),
            "segmentation.random_state": seed,
            "segmentation.impute": impute,
            "segmentation.log_transform": False if no_log else None,
            "segmentation.stability": False if no_stability else None,
            "segmentation.scaler": scaler,
            "segmentation.algorithm": algorithm,
            "segmentation.persona_levels": persona_levels,
            "report.semantics": as_text(semantics),
            "report.map": report_map,
            "report.noun": noun,
            "engine.kind": engine,
            "engine.master": spark_master,
            "engine.conf": conf_pairs(spark_conf),
            "engine.refine": spark_refine,
            "engine.sample_users": spark_sample,
            "forecast.days": forecast_days,
        }, param)
        if settings.input.path is None:
            raise ConfigError("no INPUT: give a user table or event log, or input.path in "
                              "--config")
        if settings.engine.kind == "spark":
            spark = _spark_run(settings, out)
        else:
            result = segment(config=settings, helper=helper)
            if settings.input.events is not None:
                for line in result.info["input"].get("report", []):
                    console.print(f"events: {line}", highlight=False, soft_wrap=True)
            if "forecast" in result.info:
                from personae.forecast.stage import summary_line

                console.print(f"forecast: {summary_line(result.info['forecast'])}",
                              highlight=False, soft_wrap=True)
            report_path = save_with_report(result, out, map_method=settings.report.map)
            if "sequence_profiles" in result.extra:
                from personae.features.sequence_profiles import profile_lines

                for line in profile_lines(result.extra["sequence_profiles"]):
                    out_console.print(line, highlight=False, soft_wrap=True)
        tracked = _track_run(out, store)
    if settings.engine.kind == "spark":
        _print_spark_run(spark, out)
    else:
        _print_summary(result, out)
        _print_algorithm(result)
        if "early" in result.extra:
            from personae.cli.serve import early_table

            out_console.print(early_table(result.extra["early"]))
        out_console.print(f"report: {report_path} (personas.json beside it)")
    _print_tracked(tracked, store)


def _track_run(out: Path, uri: str | None) -> str | None:
    """Log the saved run folder to MLflow (after it is complete, report included)."""
    if uri is None:
        return None
    from personae.monitor.tracking import track_run

    try:
        return track_run(out, uri)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (the run folder {out} is saved: log it later with "
                          f"'personae track {out}')") from None


def _print_algorithm(result: Any) -> None:
    chosen = result.algorithm
    shown = ", ".join(f"{k}={f'{v:.4g}' if isinstance(v, float) else v}"
                      for k, v in chosen["params"].items()
                      if k not in ("random_state", "categorical_blocks", "k_range"))
    out_console.print(f"algorithm: {chosen['name']} ({shown})", highlight=False,
                      soft_wrap=True)
    for line in chosen["why"]:
        out_console.print(f"  why: {line}", highlight=False, soft_wrap=True)
    stability = result.stability
    if stability:
        unstable = stability["unstable_segments"]
        out_console.print(f"stability: mean ARI {stability['ari_mean']:.2f} over "
                          f"{stability['runs']} refits; unstable segments: "
                          f"{unstable or 'none'}", highlight=False)
    levels = result.info.get("levels")
    if levels:
        separation = levels["separation"]
        measured = "" if separation["silhouette"] is None else \
            f" (silhouette {separation['silhouette']:.2f} on {separation['sample_size']:,} users)"
        noun = "persona" if levels["personas"] == 1 else "personas"
        out_console.print(f"persona levels: {levels['personas']} {noun} "
                          f"(natural partition: {levels['natural_segments']} segments, in "
                          f"natural_segment); {separation['verdict']}{measured}",
                          highlight=False, soft_wrap=True)
        for line in levels["why"]:
            out_console.print(f"  levels: {line}", highlight=False, soft_wrap=True)
    edge = int(result.outliers.sum())
    if edge:
        out_console.print(f"edge users (segment -1): {edge:,} "
                          f"({share_text(edge / len(result.labels))})", highlight=False)


@app.command()
def assign(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="A saved model "
                                                                      "folder.")],
    input_path: Annotated[Path | None, typer.Argument(
        metavar="INPUT", help="New users: CSV or Parquet (or --events LOG).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (.csv or "
                                                                 ".parquet).")] = None,
    events_log: Annotated[Path | None, typer.Option(
        "--events", help="An event log instead of INPUT: features computed the way the "
                         "model's training log was read (model/events.json).")] = None,
    event_map: Annotated[str | None, typer.Option("--map", help="With --events: role=column "
                                                                "pairs where this log's "
                                                                "columns differ.")] = None,
    early: Annotated[bool, typer.Option("--early", help="With --events: users younger than "
                                                        "the early model's longest window "
                                                        "get the early model.")] = False,
    reference_date: Annotated[str | None, typer.Option(
        help="With --events: the date recency and tenure count to (default: the midnight "
             "after the log's last event).")] = None,
) -> None:
    """Label new users with a saved model: a user table, or an event log with --events."""
    with _reporting("assigning", EVENT_REPORT_SAYS):
        if out is None:
            raise ConfigError("--out is required: the file the assignments are written to")
        if (input_path is None) == (events_log is None):
            raise ConfigError("give either INPUT (a user table) or --events LOG (an event "
                              "log), not both")
        if events_log is None and (event_map or early or reference_date):
            raise ConfigError("--map, --early and --reference-date go with --events LOG")
        if events_log is not None:
            labels, where = _assign_log(model_dir, events_log, out, event_map, early,
                                        reference_date)
        else:
            assert input_path is not None
            labels, where = _assign_table(model_dir, input_path, out), ""
    counts = ", ".join(f"{seg}: {n:,}" for seg, n in
                       sorted(zip(*_unique_counts(labels), strict=True)))
    out_console.print(f"assigned {len(labels):,} users to segments ({counts}){where} -> "
                      f"{out}", highlight=False)


def _assign_table(model_dir: Path, input_path: Path, out: Path) -> Any:
    from threadpoolctl import threadpool_limits

    from personae.data.readers import read_table
    from personae.data.writers import write_frame_atomic
    from personae.features.table import user_ids
    from personae.model import SegmentModel
    from personae.result import users_table

    model = SegmentModel.load(model_dir)
    frame = read_table(input_path)
    id_column = model.id_column_ if model.id_column_ in frame.columns else None
    ids = user_ids(frame, id_column, str(input_path))
    # One BLAS thread: assignment's products (users x features by features x centres) are
    # too small to share, and a second thread that waits for a busy core made the 1M
    # users' assignment 0.1-0.5 s where one thread takes 0.08 s (the same labels).
    with threadpool_limits(limits=1, user_api="blas"):
        assigned = model.assign(frame, str(input_path))
    labels = assigned["segment"].to_numpy()
    others = {str(c): assigned[c].to_numpy() for c in assigned.columns if c != "segment"}
    write_frame_atomic(users_table(frame, ids, labels, others), out)
    return labels


def _assign_log(model_dir: Path, log: Path, out: Path, event_map: str | None, early: bool,
                reference_date: str | None) -> tuple[Any, str]:
    from personae.data.writers import write_frame_atomic
    from personae.features.events_io import ROLES
    from personae.serve.batch import assign_log
    from personae.serve.early_path import FORECASTS, LABELS

    table, report = assign_log(model_dir, log, mapping=_mapping(event_map, ROLES),
                               reference_date=reference_date, early=early)
    for line in report.lines():
        console.print(f"events: {line}", highlight=False, soft_wrap=True)
    columns = ["user_id", "segment", "persona", "novel"]
    columns += [c for c in ("probability", "broad_segment") if table[c].notna().any()]
    columns += [c for c in (*LABELS, *FORECASTS) if c in table.columns]
    where = ""
    if early:
        columns += ["source", "early_days", "age_days"]
        windows = table.loc[table["source"] == "early", "early_days"].value_counts()
        shown = ", ".join(f"first {d} days: {n:,}" for d, n in windows.sort_index().items())
        where = f"; by the early model: {shown or 'nobody (no user is that young)'}"
        table, shares = _early_columns(table)
        columns += shares
        unknown = int(table["segment"].isna().sum())
        if unknown:
            where += f"; not yet known: {unknown:,} (their window abstains)"
    own = report.mapping["user"]  # the log's own id name, as users_segmented keeps it
    written = table[columns] if own in columns else \
        table[columns].rename(columns={"user_id": own})
    write_frame_atomic(written, out)
    return table["segment"].dropna().to_numpy(), where


def _early_columns(table: Any) -> tuple[Any, list[str]]:
    """The early answers' predictor and every segment's probability as columns
    (``p_segment_<s>``), for a file; the service answers them as one object."""
    if "segment_probabilities" not in table.columns:
        return table, []
    import pandas as pd

    shares = pd.DataFrame([p or {} for p in table["segment_probabilities"]],
                          index=table.index)
    shares = shares[sorted(shares.columns)].add_prefix("p_segment_")
    table = pd.concat([table.drop(columns="segment_probabilities"), shares], axis=1)
    return table, ["early_predictor", *shares.columns]


def _unique_counts(labels: Any) -> tuple[list[int], list[int]]:
    """The segments present and their users (-1 = edge users): one counting pass, not
    np.unique's sort of every label."""
    import numpy as np

    counts = np.bincount(np.asarray(labels, dtype=np.int64) + 1)
    present = np.flatnonzero(counts)
    return (present - 1).tolist(), counts[present].tolist()


@app.command()
def demo(out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] =
         Path("demo-output")) -> None:
    """The whole pipeline on the bundled real event log: every transaction line of 1,000
    Online Retail II customers -> features -> persona levels -> personas and report."""
    data = resources.files("personae") / "datasets" / "online_retail_events.parquet"
    with resources.as_file(data) as path:
        out_console.print(f"demo: {path.name} (UCI Online Retail II transactions of 1,000 "
                          "customers, CC BY 4.0)")
        run(path, out=out, events=True)


def _print_summary(result: Any, out: Path) -> None:
    noun = "segment" if result.n_segments == 1 else "segments"
    table = Table(title=f"{result.n_segments} {noun} of {len(result.labels):,} users")
    table.add_column("segment", justify="right")
    table.add_column("users", justify="right")
    table.add_column("share", justify="right")
    table.add_column("what sets it apart (z-score vs all users)")
    sizes = result.sizes
    for seg, rows in result.top_features(3).items():
        apart = ", ".join(f"{r.feature} {'↑' if r.z_score > 0 else '↓'}{abs(r.z_score):.1f}σ"
                          for r in rows.itertuples())
        table.add_row(str(seg), f"{sizes[seg]:,}", share_text(sizes[seg] / sizes.sum()), apart)
    out_console.print(table)
    selection = result.info.get("k_selection")
    if selection:
        searched = selection["search_sample_users"]
        sampled = "sampled " if searched < len(result.labels) else ""
        out_console.print(f"K={selection['chosen_k']} chosen from "
                          f"{result.k_table['k'].min()}..{result.k_table['k'].max()} on "
                          f"{searched:,} {sampled}users "
                          f"(silhouette on {selection['silhouette_sample_users']:,}); "
                          "see k_selection.csv")
    out_console.print(f"outputs: {out}/ (users_segmented.csv/.parquet, segment_profiles.csv, "
                      "k_selection.csv, model/, run.json)")


def _spark_run(settings: Any, out: Path) -> Any:
    """`personae run --engine spark`: the same run folder, the heavy passes in Spark."""
    from personae.report import write_report
    from personae.spark.run import run as spark_run

    result = spark_run(None, out, config=settings)
    if result.event_report is not None:
        for line in result.event_report.lines():
            console.print(f"events: {line}", highlight=False, soft_wrap=True)
    write_report(out, map_method=settings.report.map)
    return result


def _print_spark_run(result: Any, out: Path) -> None:
    table = Table(title=f"{result.k} segments of {result.users:,} users ({result.algorithm}, "
                        f"Spark; chosen on {result.sample_users:,})")
    table.add_column("segment", justify="right")
    table.add_column("users", justify="right")
    table.add_column("share", justify="right")
    for seg, size in enumerate(result.sizes):
        table.add_row(str(seg), f"{size:,}", f"{size / max(result.users, 1):.1%}")
    out_console.print(table)
    out_console.print(f"refined: {result.refine.get('why')}; seconds: {result.timings}")
    out_console.print(f"outputs: {out}/ (users_segmented.csv/.parquet, segment_profiles.csv, "
                      f"model/, run.json); report: {out / 'report.html'}")

