"""The personae command line: parses, calls the library, shows results with rich."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from personae.errors import ConfigError, PersonaeError

app = typer.Typer(
    name="personae",
    help="Turn user behaviour data into validated segments and data-driven personas.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out_console = Console(soft_wrap=True)  # paths must stay whole to be copied

T = TypeVar("T")
SETTINGS = {"debug": False, "quiet": False}


class _StageHandler(logging.Handler):
    """In a terminal, each stage of the library with its seconds (a line when done, the
    current one on a live status line); nothing but warnings when stderr is a file or pipe,
    so logs and scripts see only what matters."""

    def __init__(self, title: str, status: Any | None) -> None:
        super().__init__(logging.INFO)
        self.title = title
        self.status = status
        self.started = self.stage_started = time.perf_counter()
        self.stage: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            console.print(f"[yellow]warning:[/] {message}", highlight=False)
        elif self.status is not None:  # a terminal: done stages stay, the current one spins
            now = time.perf_counter()
            if self.stage is not None:
                console.print(f"[green]done[/] {self.stage} [dim]({now - self.stage_started:.1f}"
                              f" s)[/]", highlight=False, soft_wrap=True)
            self.stage, self.stage_started = message, now
            self.status.update(f"{self.title}: {message} [dim]({now - self.started:.1f} s "
                               "in all)[/]")


@contextmanager
def _reporting(title: str) -> Iterator[None]:
    """Progress on stderr while the library works; PersonaeError -> one line, exit 2."""
    logger = logging.getLogger("personae")
    live = console.is_terminal and not SETTINGS["quiet"]
    try:
        with console.status(title) if live else nullcontext() as status:
            handler = _StageHandler(title, status)
            logger.addHandler(handler)
            previous = logger.level
            logger.setLevel(logging.INFO)
            try:
                yield
            finally:
                logger.removeHandler(handler)
                logger.setLevel(previous)
    except PersonaeError as exc:
        if SETTINGS["debug"]:
            raise
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _fail(message: str) -> None:
    console.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def parse_k(value: str) -> int | str:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        k = int(value)
    except ValueError:
        raise ConfigError(f"--k must be 'auto' or a whole number >= 2; got {value!r}") from None
    if k < 2:
        raise ConfigError(f"--k must be at least 2 (one segment is everyone); got {k}")
    return k


def parse_k_range(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*(?:\.\.|-|:)\s*(\d+)\s*", value)
    if not match:
        raise ConfigError(f"--k-range must look like 2..10; got {value!r}")
    low, high = int(match.group(1)), int(match.group(2))
    if low < 2 or high < low:
        raise ConfigError(f"--k-range needs 2 <= low <= high; got {value!r}")
    return low, high


def parse_list(value: str | None, option: str = "--features") -> list[str] | None:
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"{option} is empty; name at least one column")
    return items


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
         quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages "
                                                                  "on stderr.")] = False
         ) -> None:
    SETTINGS["debug"] = debug
    SETTINGS["quiet"] = quiet


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
    semantics: Annotated[Path | None, typer.Option(help="YAML file saying what your columns "
                                                        "mean (label, unit, high, low, "
                                                        "themes, pain_when).")] = None,
    report_map: Annotated[str | None, typer.Option(help="Map of users in the report: pca "
                                                        "(default), umap (adds 1-2 min: numba "
                                                        "compiles on first use) or none.")]
    = None,
    algorithm: Annotated[str | None, typer.Option(help="kmeans, minibatch, gmm, dbscan, "
                                                       "hdbscan, hierarchical, meanshift, "
                                                       "kprototypes or auto (default: compare "
                                                       "them on a sample, pick one).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="Algorithm parameter "
                                                    "KEY=VALUE, repeatable (e.g. eps=0.4); "
                                                    "'auto' = automatic.")] = None,
    persona_levels: Annotated[bool, typer.Option(
        "--persona-levels", help="Segments are the persona level (3-8, no segment over 60%, "
                                 "tiny groups as edge users) nested in a broad level; the "
                                 "algorithm's own partition goes to natural_segment.")] = False,
    engine: Annotated[str, typer.Option(help="embedded (DuckDB + numpy) or spark (needs "
                                             "personae[spark] and Java 17).")] = "embedded",
    spark_master: Annotated[str | None, typer.Option(help="With --engine spark: the master "
                                                          "URL (default local[*]).")] = None,
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
) -> None:
    """Segment users (a user table, or an event log with --events) and write the results to
    --out."""
    from personae.config import RunConfig, build, load_config
    from personae.pipeline import segment
    from personae.report import write_report

    with _reporting("segmenting"):
        if out is None:
            raise ConfigError("--out is required: the folder the run is written to")
        segmentation: dict[str, Any] = {
            "k": parse_k(k) if k is not None else None,
            "k_range": parse_k_range(k_range) if k_range is not None else None,
            "features": parse_list(features),
            "categorical": parse_list(categorical, "--categorical"),
            "id_column": id_column,
            "impute": _choice("--impute", impute, ("median", "knn")) if impute else None,
            "scaler": _choice("--scaler", scaler, ("standard", "robust", "minmax"))
            if scaler else None,
            "log_transform": False if no_log else None,
            "algorithm": _algorithm(algorithm) if algorithm else None, "random_state": seed,
            "persona_levels": True if persona_levels else None,
        }
        if param:
            segmentation["params"] = _params(algorithm or "auto", param)
        overrides: dict[str, Any] = {
            "input": {"path": str(input_path) if input_path is not None else None},
            "segmentation": segmentation,
            "report": {"semantics": str(semantics) if semantics else None,
                       "map": _choice("--report-map", report_map, ("pca", "umap", "none"))
                       if report_map else None},
        }
        if embed and not events and config is None:
            raise ConfigError("--embed needs --events (an event log as INPUT)")
        if events or event_map or on_bad_rows or memory_limit:
            overrides["input"]["events"] = {"mapping": _mapping(event_map) or None,
                                            "on_bad_rows": on_bad_rows,
                                            "memory_limit": memory_limit}
        if embed or representation or tokens or embed_cache:
            overrides["input"]["sequences"] = {
                "embed": _choice("--embed", embed, ("word2vec", "sentence")) if embed else None,
                "representation": _choice("--representation", representation,
                                          ("embedding", "hybrid")) if representation else None,
                "tokens": tokens, "cache_dir": str(embed_cache) if embed_cache else None}
        settings = load_config(config, overrides) if config is not None else \
            build(RunConfig, _given(overrides), "command line")
        if settings.input.path is None:
            raise ConfigError("no INPUT: give a user table or event log, or input.path in "
                              "--config")
        if _choice("--engine", engine, ("embedded", "spark")) == "spark":
            spark = _spark_run(settings, out, spark_master)
        else:
            result = segment(config=settings)
            if settings.input.events is not None:
                for line in result.info["input"].get("report", []):
                    console.print(f"events: {line}", highlight=False, soft_wrap=True)
            result.save(out)
            report_path = write_report(result, out, map_method=settings.report.map)
            if "sequence_profiles" in result.extra:
                from personae.features.sequence_profiles import profile_lines

                for line in profile_lines(result.extra["sequence_profiles"]):
                    out_console.print(line, highlight=False, soft_wrap=True)
    if engine == "spark":
        _print_spark_run(spark, out)
        return
    _print_summary(result, out)
    _print_algorithm(result)
    out_console.print(f"report: {report_path} (personas.json beside it)")


def _given(overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides without the options that were not given (None)."""
    from personae.config import merged

    return merged({}, {k: _given(v) if isinstance(v, dict) else v
                       for k, v in overrides.items()})


def _algorithm(name: str) -> str:
    from personae.cluster import algorithm_names

    if name not in algorithm_names():
        raise ConfigError(f"--algorithm must be one of {', '.join(algorithm_names())}; "
                          f"got {name!r}")
    return name


def _params(algorithm: str, pairs: list[str] | None) -> dict[str, Any]:
    from personae.cluster import parse_params

    return parse_params(_algorithm(algorithm), pairs)


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
        out_console.print(f"persona levels: {levels['personas']} personas "
                          f"(natural partition: {levels['natural_segments']} segments, in "
                          f"natural_segment); {separation['verdict']} (silhouette "
                          f"{separation['silhouette']:.2f} on {separation['sample_size']:,} "
                          "users)", highlight=False, soft_wrap=True)
        for line in levels["why"]:
            out_console.print(f"  levels: {line}", highlight=False, soft_wrap=True)
    edge = int(result.outliers.sum())
    if edge:
        out_console.print(f"edge users (segment -1): {edge:,}", highlight=False)


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise ConfigError(f"{option} must be one of {', '.join(allowed)}; got {value!r}")
    return value


@app.command()
def assign(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="A saved model "
                                                                      "folder.")],
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="New users: CSV or "
                                                                   "Parquet.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.csv or "
                                                          ".parquet).")],
) -> None:
    """Label new users with a saved model."""
    from personae.data.readers import read_table
    from personae.data.writers import write_frame_atomic
    from personae.features.table import user_ids
    from personae.model import SegmentModel
    from personae.pipeline import users_table

    with _reporting("assigning"):
        model = SegmentModel.load(model_dir)
        frame = read_table(input_path)
        id_column = model.id_column_ if model.id_column_ in frame.columns else None
        ids = user_ids(frame, id_column, str(input_path))
        labels = model.predict(frame, str(input_path))
        write_frame_atomic(users_table(frame, ids, labels), out)
    counts = ", ".join(f"{seg}: {n:,}" for seg, n in
                       sorted(zip(*_unique_counts(labels), strict=True)))
    out_console.print(f"assigned {len(labels):,} users to segments ({counts}) -> {out}")


def _unique_counts(labels: Any) -> tuple[list[int], list[int]]:
    import numpy as np

    values, counts = np.unique(labels, return_counts=True)
    return values.tolist(), counts.tolist()


@app.command()
def demo(out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] =
         Path("demo-output")) -> None:
    """The whole pipeline on the bundled real event log: every transaction line of 1,000
    Online Retail II customers -> features -> persona levels -> personas and report."""
    data = resources.files("personae") / "datasets" / "online_retail_events.parquet"
    with resources.as_file(data) as path:
        out_console.print(f"demo: {path.name} (UCI Online Retail II transactions of 1,000 "
                          "customers, CC BY 4.0)")
        run(path, out=out, events=True, persona_levels=True)


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
        table.add_row(str(seg), f"{sizes[seg]:,}", f"{sizes[seg] / sizes.sum():.1%}", apart)
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



# --- event logs -> per-user features (personae.features.events) ----------------------------

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
    from personae.features.events import from_events, write_features

    if engine != "embedded":
        _spark_features(events_path, out, engine, spark_master, on_bad_rows, user=user,
                        time=time, event=event, value=value, quantity=quantity, price=price,
                        session=session, item=item, category=category, order=order,
                        time_format=time_format, reference_date=reference_date,
                        session_gap_minutes=session_gap, top_event_types=top_event_types,
                        keep_duplicates=keep_duplicates)
        return

    with _reporting("computing features"):
        result = from_events(
            events_path, user=user, time=time, event=event, value=value, quantity=quantity,
            price=price, session=session, item=item, category=category, order=order,
            table=table, time_format=time_format, reference_date=reference_date,
            session_gap_minutes=session_gap, top_event_types=top_event_types,
            keep_duplicates=keep_duplicates,
            on_bad_rows=_choice("--on-bad-rows", on_bad_rows, ("error", "skip")),
            memory_limit=memory_limit, threads=threads,
        )
        frame = result.frame
        if embed is not None:
            frame = _embed_features(events_path, result, embed, tokens, position, embed_cache,
                                    session_gap)
        write_features(frame, out)
    _print_event_features(result)
    out_console.print(f"wrote {len(frame):,} users x {frame.shape[1] - 1} "
                      f"features -> {out}")


def _mapping(pairs: str | None, roles: tuple[str, ...] | None = None) -> dict[str, str]:
    """``'user=Customer ID,time=InvoiceDate'`` -> {role: column}; ``roles``: those allowed
    (default: every role of a run, ``position`` for sequences included)."""
    from personae.config import EVENT_ROLES

    allowed = roles or EVENT_ROLES
    given: dict[str, str] = {}
    for pair in (pairs or "").split(","):
        if not pair.strip():
            continue
        role, sep, column = pair.partition("=")
        if not sep or role.strip() not in allowed:
            raise ConfigError(f"--map takes role=column pairs with roles {', '.join(allowed)}; "
                              f"got {pair.strip()!r}")
        given[role.strip()] = column.strip()
    return given


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


# --- personas and the HTML report (personae.report) ---------------------------------------

@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder written "
                                                                  "by 'personae run'.")],
    semantics: Annotated[Path | None, typer.Option(help="YAML file saying what your columns "
                                                        "mean.")] = None,
    map_method: Annotated[str, typer.Option("--map", help="Map of users: pca, umap (adds 1-2 "
                                                          "min: numba compiles on first use) "
                                                          "or none.")] = "pca",
    uplift: Annotated[Path | None, typer.Option(help="A folder written by 'personae uplift' "
                                                     "for this run: adds its section.")] = None,
) -> None:
    """Re-render report.html (and personas.json, re-worded by --semantics) from a run
    folder's saved outputs; the input is not read again."""
    from personae.features.semantics import Semantics
    from personae.report import write_report

    with _reporting("writing the report"):
        meanings = Semantics.from_yaml(semantics) if semantics is not None else None
        path = write_report(run_dir, semantics=meanings,
                            map_method=_choice("--map", map_method, ("pca", "umap", "none")),
                            uplift=uplift)
    out_console.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB; personas.json "
                      "beside it)")


# --- uplift of segment-targeted actions (personae.experiments) ----------------------------

def parse_split(value: str | None) -> dict[str, float] | None:
    """--expected-split 'arm=share,arm=share' (shares in any unit: 50,25,25 or 0.5,...)."""
    if value is None:
        return None
    split: dict[str, float] = {}
    for pair in value.split(","):
        arm, sep, share = pair.rpartition("=")
        try:
            weight = float(share)
        except ValueError:
            weight = -1.0
        if not sep or not arm.strip() or weight <= 0:
            raise ConfigError("--expected-split takes arm=share pairs with positive shares, "
                              f"e.g. 'control=50,treated=50'; got {pair.strip()!r}")
        split[arm.strip()] = weight
    return split


@app.command("uplift")
def uplift_command(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder written "
                                                                  "by 'personae run'.")],
    experiment: Annotated[str, typer.Argument(
        metavar="EXPERIMENT", help="Experiment table, one row per user (user, arm, "
                                   "outcomes): CSV, Parquet or a DuckDB database (--table).")],
    arm: Annotated[str, typer.Option(help="Column holding each user's arm.")],
    control: Annotated[str, typer.Option(help="The control arm's value in --arm.")],
    outcome: Annotated[str, typer.Option(help="Comma-separated outcome columns: 0/1 "
                                              "(rates) or numbers (means).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    user: Annotated[str | None, typer.Option(help="User id column (default: the run's id "
                                                  "column).")] = None,
    assign: Annotated[bool, typer.Option("--assign", help="Label experiment users who are "
                                                          "not in the run with its model "
                                                          "(the experiment must hold the "
                                                          "features).")] = False,
    expected_split: Annotated[str | None, typer.Option(help="Planned split for the sample "
                                                            "ratio check, e.g. 'control=50,"
                                                            "A=25,B=25' (default: equal).")]
    = None,
    table: Annotated[str | None, typer.Option(help="Table, when EXPERIMENT is a DuckDB "
                                                   "database.")] = None,
    alpha: Annotated[float, typer.Option(help="Significance level (BH q) and 1 - CI "
                                              "level.")] = 0.05,
    min_users: Annotated[int, typer.Option(help="Fewest users per arm for a cell to be "
                                                "tested.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap.")] = 0,
    memory_limit: Annotated[str | None, typer.Option(help="DuckDB memory limit, e.g. "
                                                          "4GB.")] = None,
) -> None:
    """Measure the uplift of each treatment arm against the control in every segment."""
    from personae.experiments import uplift

    with _reporting("measuring uplift"):
        outcomes = parse_list(outcome, "--outcome") or []
        result = uplift(run_dir, experiment, arm=arm, control=control, outcomes=outcomes,
                        user=user, assign=assign, expected_split=parse_split(expected_split),
                        table=table, alpha=alpha, min_users=min_users, random_state=seed,
                        memory_limit=memory_limit)
        result.save(out)
        if (run_dir / "report.html").is_file():  # the run's report gains an uplift section
            from personae.report import write_report

            write_report(run_dir, uplift=out)
    _print_uplift(result, out)


def _print_uplift(result: Any, out: Path) -> None:
    info = result.info
    cells = result.cells
    srm = info["checks"]["sample_ratio"]["overall"]
    out_console.print(f"{info['joined_users']:,} users; sample ratio p={srm['p_value']:.3g}"
                      f"{' MISMATCH' if srm['mismatch'] else ''}; largest covariate "
                      "standardised difference "
                      f"{info['checks']['balance']['max_abs_std_difference']:.3f}",
                      highlight=False)
    table = Table(title=f"overall effect vs {info['control']} (q: BH over every cell)")
    for name in ("arm", "outcome", "treated", "control", "effect", "95% CI", "q",
                 "significant segments"):
        table.add_column(name, justify="left" if name in ("arm", "outcome") else "right")
    for row in cells[cells["level"] == "all"].itertuples():
        seg = cells[(cells["level"] == "segment") & (cells["arm"] == row.arm)
                    & (cells["outcome"] == row.outcome)]
        hits = int((seg["significant"] == True).sum())  # noqa: E712 (object column)
        table.add_row(row.arm, row.outcome, f"{row.treated:.4g}", f"{row.control:.4g}",
                      f"{row.effect:+.4g}", f"[{row.ci_low:+.3g}, {row.ci_high:+.3g}]",
                      f"{row.q_value:.2g}", f"{hits}/{len(seg)}")
    out_console.print(table)
    het = info["heterogeneity"]["p_value"]
    if het is not None:
        out_console.print(f"heterogeneity between segments (Cochran's Q, smallest BH q): "
                          f"{het:.3g}", highlight=False)
    for row in info["targeting"]["outcomes"]:
        out_console.print(f"targeting {row['outcome']}: {row['targeted']:.4g} per user vs "
                          f"{row['single_best']:.4g} with {row['single_best_arm']} for "
                          f"everyone: in-sample gain {row['gain']:+.3g}; cross-fitted gain "
                          f"{row['cross_fitted_gain']:+.3g} [{row['cross_fitted_ci_low']:+.3g}, "
                          f"{row['cross_fitted_ci_high']:+.3g}]", highlight=False)
    for line in info["warnings"]:
        console.print(f"[yellow]warning:[/] {line}", highlight=False)
    out_console.print(f"outputs: {out}/ (uplift.csv, uplift.json, uplift.html)")


# --- monitoring and governance (personae.monitor) -----------------------------------------

def _event_roles(mapping: str | None) -> dict[str, str]:
    """--map for the event features alone (no sequence roles)."""
    from personae.features.events_io import ROLES

    return _mapping(mapping, ROLES)


def _print_monitor(result: Any, out: Path) -> None:
    drift = result.drift
    table = Table(title=f"drift of {len(drift)} features (PSI: <0.1 stable, <0.25 moderate)")
    for name in ("feature", "psi", "verdict", "effect", "largest bin change"):
        table.add_column(name, justify="right" if name in ("psi", "effect") else "left")
    for row in drift.head(10).itertuples():
        unit = "SD" if row.effect_measure == "wasserstein_sd" else "JS"
        table.add_row(str(row.feature), f"{row.psi:.3f}", str(row.verdict),
                      f"{row.effect:.3f} {unit}", str(row.top_bin_change))
    out_console.print(table)
    summary = result.summary
    shift = result.shift
    out_console.print(f"segments: PSI {shift.psi:.3f} ({shift.verdict}); novel users "
                      f"{summary['novel_share']:.1%}", highlight=False)
    if summary.get("users_in_both") is not None:
        stayed = summary.get("stayed_share")
        out_console.print(f"users in both: {summary['users_in_both']:,}; stayed in their "
                          f"segment: {'-' if stayed is None else f'{stayed:.1%}'}",
                          highlight=False)
    if result.matching is not None:
        for row in result.matching.fates.itertuples():
            old = "new" if row.fate == "emerges" else f"segment {row.old_segment}"
            out_console.print(f"  {old}: {row.fate} {row.new_segments}".rstrip(),
                              highlight=False)
    for note in summary.get("notes", []):
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    governance = result.governance
    for item in governance.suggestions:
        out_console.print(f"suggest {item['action']}: {item['reason']}", highlight=False)
    out_console.print(f"retrain: {'yes' if governance.retrain else 'no'} ("
                      f"{'; '.join(governance.retrain_reasons)})", highlight=False)
    matching = "segment_matching.csv, " if result.matching is not None else ""
    out_console.print(f"outputs: {out}/ (monitor.html, drift.csv, segment_shift.csv, "
                      f"transitions.csv, {matching}governance.json, monitor.json)")


@app.command("monitor")
def monitor_command(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder written "
                                                                  "by 'personae run'.")],
    new_input: Annotated[Path, typer.Argument(metavar="NEW_INPUT", help="New users (CSV or "
                                                                      "Parquet), or an "
                                                                      "event log with "
                                                                      "--events.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    events: Annotated[bool, typer.Option("--events", help="NEW_INPUT is an event log: "
                                                          "compute the run's features "
                                                          "first.")] = False,
    event_map: Annotated[str | None, typer.Option("--map", help="With --events: role=column "
                                                                "pairs (default: the run's "
                                                                "mapping, else detected).")]
    = None,
    track: Annotated[str | None, typer.Option("--track", help="Log to MLflow in this local "
                                                              "folder (needs the [mlflow] "
                                                              "extra).")] = None,
) -> None:
    """Apply a run's model to new users (no refit) and report drift, segment shifts,
    transitions and governance suggestions."""
    from personae.monitor import monitor

    with _reporting("monitoring"):
        _check_track(track)
        result = monitor(run_dir, new_input, events=events,
                         event_map=_event_roles(event_map))
        result.save(out)
        tracked = _track_monitor(result, out, track)
    _print_monitor(result, out)
    if tracked:
        out_console.print(f"tracked: MLflow run {tracked} in {track}", highlight=False)


def _check_track(where: str | None) -> None:
    if where is not None:
        from personae.monitor.tracking import check_store

        check_store(where)


def _track_monitor(result: Any, out: Path, where: str | None) -> str | None:
    if where is None:
        return None
    from personae.monitor.tracking import track_monitor

    return track_monitor(result, out, where)


@app.command("compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(metavar="RUN_A", help="The earlier run folder.")],
    run_b: Annotated[Path, typer.Argument(metavar="RUN_B", help="The later run folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    track: Annotated[str | None, typer.Option("--track", help="Log to MLflow in this local "
                                                              "folder (needs the [mlflow] "
                                                              "extra).")] = None,
) -> None:
    """Compare two finished runs: drift, segments matched across the refit (fates and
    stable ids), transitions and governance suggestions."""
    from personae.monitor import compare

    with _reporting("comparing"):
        _check_track(track)
        result = compare(run_a, run_b)
        result.save(out)
        tracked = _track_monitor(result, out, track)
    _print_monitor(result, out)
    if tracked:
        out_console.print(f"tracked: MLflow run {tracked} in {track}", highlight=False)


@app.command("track")
def track_command(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder written "
                                                                  "by 'personae run'.")],
    to: Annotated[str, typer.Option("--to", help="Local MLflow store folder.")] = "mlruns",
) -> None:
    """Log a finished run to MLflow (params, metrics, artifacts, tags), locally."""
    from personae.monitor.tracking import track_run

    with _reporting("tracking"):
        if not (run_dir / "run.json").is_file():
            raise ConfigError(f"{run_dir}: not a personae run folder (no run.json)")
        _check_track(to)
        run_id = track_run(run_dir, to)
    out_console.print(f"tracked: MLflow run {run_id} in {to}", highlight=False)
# --- real-time assignment and early assignment (personae.serve) ---------------------------

@app.command()
def serve(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="A saved model "
                                                                      "folder.")],
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] =
    "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[str | None, typer.Option(envvar="PERSONAE_SERVE_TOKEN",
                                              help="Require 'Authorization: Bearer TOKEN' "
                                                   "(except /health, /ready).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    max_users: Annotated[int, typer.Option(help="Users per request at most (413 "
                                                "above).")] = 1000,
    max_events: Annotated[int, typer.Option(help="Events per request at most (413 "
                                                 "above).")] = 10_000,
    max_body: Annotated[int, typer.Option(help="Request body bytes at most (413 "
                                               "above).")] = 2_000_000,
    reload_seconds: Annotated[float, typer.Option(help="How often to look for a new model "
                                                       "folder (0 = never).")] = 1.0,
) -> None:
    """Assign users to segments over HTTP (needs the [serve] extra)."""
    try:
        from personae.serve import ServeConfig, run_server
    except ImportError as exc:
        _fail(f"personae serve needs the serve extra: pip install 'personae[serve]' ({exc})")
    with _reporting("loading the model"):
        config = ServeConfig(model_dir=str(model_dir), token=token, max_body_bytes=max_body,
                             max_users=max_users, max_events=max_events,
                             reload_seconds=reload_seconds)
        for name, value in (("--workers", workers), ("--max-users", max_users),
                            ("--max-events", max_events), ("--max-body", max_body)):
            if value < 1:
                raise ConfigError(f"{name} must be at least 1; got {value}")
        from personae.serve.app import create_app

        create_app(config)  # a bad model folder is one line here, not a traceback later
    out_console.print(f"serving {model_dir} on http://{host}:{port} ({workers} worker"
                      f"{'s' if workers != 1 else ''}); Ctrl+C stops", highlight=False)
    with _reporting("serving"):
        run_server(config, host=host, port=port, workers=workers)


@app.command()
def early(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder written "
                                                                  "by 'personae run'.")],
    events_path: Annotated[Path, typer.Argument(metavar="EVENTS", help="The event log the "
                                                                     "run was made from "
                                                                     "(CSV or Parquet).")],
    days: Annotated[str, typer.Option(help="Windows in days, comma-separated.")] = "7,14,30",
    event_map: Annotated[str | None, typer.Option("--map", help="role=column pairs, e.g. "
                                                                "'user=Customer ID'.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (held-out users, k-NN folds).")] = 0,
) -> None:
    """Learn the segment a user ends in from their first N days; saved in RUN_DIR/model."""
    from personae.data.readers import read_table
    from personae.serve.early import fit_early, parse_days

    with _reporting("early assignment"):
        windows = parse_days(days)
        given = {}
        for pair in (event_map or "").split(","):
            if pair.strip():
                role, sep, column = pair.partition("=")
                if not sep:
                    raise ConfigError(f"--map takes role=column pairs; got {pair.strip()!r}")
                given[role.strip()] = column.strip()
        frame = read_table(events_path)
        model = fit_early(run_dir, frame, windows, given, seed, str(events_path))
        folder = model.save(run_dir / "model")
    table = Table(title="early assignment: agreement with the full-history segment "
                        "(held-out users)")
    for name in ("days", "k", "held out", "agreement", "majority", "core model",
                 "recall per segment"):
        table.add_column(name, justify="left" if name.startswith("recall") else "right")
    for v in model.validation:
        table.add_row(str(v.days), str(v.k), f"{v.holdout_users:,}", f"{v.agreement:.1%}",
                      f"{v.majority_baseline:.1%}", f"{v.core_model_baseline:.1%}",
                      ", ".join(f"{s}: {r:.0%}" for s, r in v.recall.items()))
    out_console.print(table)
    out_console.print(f"early model -> {folder}", highlight=False)


# --- sequence embeddings (personae.features.sequence_pipeline) -----------------------------

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


# --- the Apache Spark engine (personae.spark) ----------------------------------------------

def _spark_features(events_path: str, out: Path, engine: str, master: str | None,
                    on_bad_rows: str, **options: Any) -> None:
    """`personae features --engine spark`: the features written by Spark, not collected."""
    with _reporting("computing features with Spark"):
        _choice("--engine", engine, ("embedded", "spark"))
        from personae.spark import write_events_features

        report = write_events_features(
            events_path, out, master=master,
            on_bad_rows=_choice("--on-bad-rows", on_bad_rows, ("error", "skip")), **options)
    for line in report.lines():
        out_console.print(line, highlight=False, soft_wrap=True)
    out_console.print(f"wrote {report.users:,} users -> {out}")


def _spark_run(settings: Any, out: Path, master: str | None) -> Any:
    """`personae run --engine spark`: the same run folder, the heavy passes in Spark."""
    from personae.report import write_report
    from personae.spark.run import run as spark_run

    segmentation = settings.segmentation.model_dump()
    segmentation.pop("stability")
    events = settings.input.events
    given = None if events is None else {**events.mapping, "on_bad_rows": events.on_bad_rows}
    result = spark_run(settings.input.path, out, master=master, events=given, **segmentation)
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
