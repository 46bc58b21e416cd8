"""`personae features` and `embed`: event logs -> per-user features (DuckDB or Spark),
sequence embeddings for new users."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from personae.cli._app import (
    EVENT_REPORT_SAYS,
    _choice,
    _mapping,
    _reporting,
    app,
    out_console,
)


def _role(what: str) -> Any:
    return typer.Option(help=f"Column holding the {what} (default: detected by name).")


@app.command("features")
def features_command(
    events_path: Annotated[str, typer.Argument(
        metavar="EVENTS", help="Event log: a CSV/Parquet file, a folder or glob of them, or a "
                               "DuckDB database (with --table).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.parquet or .csv).")],
    user: Annotated[str | None, _role("user id")] = None,
    time: Annotated[str | None, _role("event time")] = None,
    event: Annotated[str | None, _role("event type")] = None,
    value: Annotated[str | None, _role("value or amount")] = None,
    quantity: Annotated[str | None, _role("quantity")] = None,
    price: Annotated[str | None, _role("unit price (value = quantity x price)")] = None,
    session: Annotated[str | None, _role("session id")] = None,
    item: Annotated[str | None, _role("item or product id")] = None,
    category: Annotated[str | None, _role("category")] = None,
    order: Annotated[str | None, _role("order or invoice id")] = None,
    table: Annotated[str | None, typer.Option(help="Table, when EVENTS is a DuckDB "
                                                   "database.")] = None,
    time_format: Annotated[str | None, typer.Option(help="strptime format of text times, "
                                                         "e.g. '%d/%m/%Y %H:%M'.")] = None,
    reference_date: Annotated[str | None, typer.Option(help="Date recency is counted to "
                                                            "(default: the day after the last "
                                                            "event).")] = None,
    session_gap: Annotated[float, typer.Option(help="Minutes of inactivity that end a "
                                                    "session.")] = 30,
    top_event_types: Annotated[int, typer.Option(help="Event types with their own share "
                                                      "column; the rest are 'other'.")] = 8,
    event_group: Annotated[str | None, typer.Option(help="Regex grouping event labels into "
                                                         "kinds (the first group); '' keeps "
                                                         "every label.")] = None,
    keep_duplicates: Annotated[bool, typer.Option(help="Keep identical rows as separate "
                                                       "events (default: count and drop "
                                                       "them).")] = False,
    on_bad_rows: Annotated[str, typer.Option(help="error (refuse) or skip (drop and count) "
                                                  "rows whose time or number does not "
                                                  "parse.")] = "error",
    memory_limit: Annotated[str | None, typer.Option(help="DuckDB memory limit, e.g. 4GB "
                                                          "(default: half the RAM).")] = None,
    threads: Annotated[int | None, typer.Option(help="DuckDB threads (default: all "
                                                     "cores).")] = None,
    engine: Annotated[str, typer.Option(help="embedded (DuckDB) or spark (needs "
                                             "personae[spark] and Java 17).")] = "embedded",
    spark_master: Annotated[str | None, typer.Option(help="With --engine spark: the master "
                                                          "URL (default local[*]).")] = None,
    spark_conf: Annotated[list[str] | None, typer.Option(
        "--spark-conf", help="With --engine spark: a Spark setting KEY=VALUE for the session "
                             "personae starts, repeatable (e.g. spark.driver.memory=8g; "
                             "default driver memory on a local master: half the "
                             "RAM).")] = None,
    embed: Annotated[str | None, typer.Option(help="Add sequence embeddings emb_0..: "
                                                   "word2vec or sentence ([sentence] "
                                                   "extra).")] = None,
    tokens: Annotated[str, typer.Option(help="With --embed: token roles joined by +, e.g. "
                                             "event+category.")] = "event",
    position: Annotated[str | None, typer.Option(help="With --embed: column ordering events "
                                                      "that share a time (a click "
                                                      "number).")] = None,
    embed_cache: Annotated[Path | None, typer.Option(help="With --embed: folder keeping "
                                                          "trained embeddings by input "
                                                          "hash.")] = None,
) -> None:
    """Turn an event log into one row of behavioural features per user (DuckDB or Spark)."""
    from personae.config import EngineConfig, EventsConfig, build
    from personae.features.events import from_events, write_features

    with _reporting("computing features"):
        roles = {"user": user, "time": time, "event": event, "value": value,
                 "quantity": quantity, "price": price, "session": session, "item": item,
                 "category": category, "order": order}
        settings = {"mapping": {role: column for role, column in roles.items() if column},
                    "table": table, "time_format": time_format,
                    "reference_date": reference_date, "session_gap_minutes": session_gap,
                    "top_event_types": top_event_types, "event_group": event_group,
                    "keep_duplicates": keep_duplicates,
                    "on_bad_rows": on_bad_rows, "memory_limit": memory_limit,
                    "threads": threads}
        events = build(EventsConfig, settings, "command line", FEATURE_FLAGS)
        runner = build(EngineConfig, {"kind": engine, "master": spark_master,
                                      "conf": _conf(spark_conf)}, "command line",
                       {"kind": "--engine", "master": "--spark-master", "conf": "--spark-conf"})
    if runner.kind == "spark":
        _spark_features(events_path, out, runner, events)
        return

    with _reporting("computing features", EVENT_REPORT_SAYS):
        result = from_events(events_path, **events.from_events_kwargs())
        frame = result.frame
        if embed is not None:
            frame = _embed_features(events_path, result, embed, tokens, position, embed_cache,
                                    session_gap)
        write_features(frame, out)
    _print_event_features(result)
    out_console.print(f"wrote {len(frame):,} users x {frame.shape[1] - 1} "
                      f"features -> {out}")


def _print_event_features(result: Any) -> None:
    for line in result.report.lines():
        out_console.print(line, highlight=False, soft_wrap=True)
    frame = result.frame
    table = Table(title=f"{len(frame):,} users")
    for name in ("feature", "median", "mean", "min", "max"):
        table.add_column(name, justify="left" if name == "feature" else "right")
    for name in result.feature_names:
        col = frame[name].astype(float)
        table.add_row(name, *(f"{v:,.3g}" for v in (col.median(), col.mean(), col.min(),
                                                   col.max())))
    out_console.print(table)


def _embed_features(events_path: str, result: Any, embed: str, tokens: str,
                    position: str | None, cache: Path | None, gap: float) -> Any:
    from personae.features.sequence_pipeline import SequenceOptions, sequence_table

    mapping = dict(result.report.mapping)
    if position is not None:
        mapping["position"] = position
    options = SequenceOptions(embed=_choice("--embed", embed, ("word2vec", "sentence")),
                              representation="embedding", tokens=tokens, mapping=mapping,
                              session_gap_minutes=gap,
                              cache_dir=str(cache) if cache is not None else None)
    table = sequence_table(events_path, options)
    for line in table.lines():
        out_console.print(line, highlight=False, soft_wrap=True)
    return result.frame.merge(table.frame, on="user_id", how="left", validate="one_to_one")


@app.command("embed")
def embed_command(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="The model/ folder of "
                                                                      "a run with --embed.")],
    events_path: Annotated[str, typer.Argument(metavar="EVENTS", help="New users' events.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Table for 'personae assign' "
                                                          "(.parquet or .csv).")],
    event_map: Annotated[str | None, typer.Option("--map", help="role=column pairs, as in "
                                                                "run.")] = None,
) -> None:
    """Embed new users' sequences as the model did (same tokens, vectors, columns)."""
    from personae.features.events import from_events, write_features
    from personae.features.sequence_pipeline import embed_new, representation_of

    with _reporting("embedding"):
        mapping = _mapping(event_map)
        features = None
        if representation_of(model_dir) == "hybrid":
            features = from_events(events_path, **{k: v for k, v in mapping.items()
                                                   if k != "position"}).frame
        frame, report = embed_new(model_dir, events_path, mapping, features)
        write_features(frame, out)
    for line in report.lines():
        out_console.print(line, highlight=False, soft_wrap=True)
    out_console.print(f"wrote {len(frame):,} users -> {out}; next: personae assign "
                      f"{model_dir} {out} --out labels.csv")


# The flags of `personae features` that set an EventsConfig setting (errors name the flag).
FEATURE_FLAGS = {"table": "--table",
                 "time_format": "--time-format", "reference_date": "--reference-date",
                 "session_gap_minutes": "--session-gap", "top_event_types": "--top-event-types",
                 "on_bad_rows": "--on-bad-rows", "memory_limit": "--memory-limit",
                 "threads": "--threads", "event_group": "--event-group"}


def _conf(pairs: list[str] | None) -> dict[str, str]:
    from personae.spark.session import parse_conf

    return parse_conf(pairs) if pairs else {}


def _spark_features(events_path: str, out: Path, engine: Any, events: Any) -> None:
    """`personae features --engine spark`: the features written by Spark, not collected."""
    with _reporting("computing features with Spark"):
        from personae.spark import write_events_features

        report = write_events_features(events_path, out, master=engine.master,
                                       spark_conf=engine.conf, events=events)
    for line in report.lines():
        out_console.print(line, highlight=False, soft_wrap=True)
    out_console.print(f"wrote {report.users:,} users -> {out}")

