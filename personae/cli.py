"""The personae command line: parses, calls the library, shows results with rich."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
DEBUG = {"on": False}


class _StatusHandler(logging.Handler):
    """Shows the library's stage messages on one live status line; warnings stay visible."""

    def __init__(self, update: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.update = update

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            console.print(f"[yellow]warning:[/] {message}", highlight=False)
        else:
            self.update(message)


@contextmanager
def _reporting(title: str) -> Iterator[None]:
    """Progress on stderr while the library works; PersonaeError -> one line, exit 2."""
    logger = logging.getLogger("personae")
    try:
        with console.status(title) as status:
            handler = _StatusHandler(lambda m: status.update(f"{title}: {m}"))
            logger.addHandler(handler)
            previous = logger.level
            logger.setLevel(logging.INFO)
            try:
                yield
            finally:
                logger.removeHandler(handler)
                logger.setLevel(previous)
    except PersonaeError as exc:
        if DEBUG["on"]:
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
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False
         ) -> None:
    DEBUG["on"] = debug


@app.command()
def run(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT",
                                               help="User table: CSV or Parquet.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    id_column: Annotated[str | None, typer.Option(help="User id column (default: detect "
                                                       "user_id/customer_id/id).")] = None,
    features: Annotated[str | None, typer.Option(help="Comma-separated feature columns "
                                                      "(default: all usable).")] = None,
    categorical: Annotated[str | None, typer.Option(help="Comma-separated columns that are "
                                                         "categories though written as "
                                                         "numbers (region or plan codes).")]
    = None,
    k: Annotated[str, typer.Option("--k", help="Number of segments, or 'auto'.")] = "auto",
    k_range: Annotated[str, typer.Option(help="Range searched by --k auto.")] = "2..10",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    impute: Annotated[str, typer.Option(help="median (mode for categories) or knn.")] =
    "median",
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not log-transform skewed "
                                                          "counts.")] = False,
    scaler: Annotated[str, typer.Option(help="standard, robust or minmax.")] = "standard",
    events: Annotated[bool, typer.Option("--events", help="INPUT is a raw event log: compute "
                                                          "per-user features first (see "
                                                          "'personae features').")] = False,
    event_map: Annotated[str | None, typer.Option("--map", help="With --events: role=column "
                                                                "pairs, e.g. 'user=Customer "
                                                                "ID,time=InvoiceDate'.")] = None,
    on_bad_rows: Annotated[str, typer.Option(help="With --events: error or skip rows whose "
                                                  "time or number does not parse.")] = "error",
    memory_limit: Annotated[str | None, typer.Option(help="With --events: DuckDB memory "
                                                          "limit, e.g. 4GB.")] = None,
    semantics: Annotated[Path | None, typer.Option(help="YAML file saying what your columns "
                                                        "mean (label, unit, high, low, "
                                                        "themes, pain_when).")] = None,
    report_map: Annotated[str, typer.Option(help="Map of users in the report: pca, umap "
                                                 "(adds 1-2 min: numba compiles on first "
                                                 "use) or none.")] = "pca",
    algorithm: Annotated[str, typer.Option(help="kmeans, minibatch, gmm, dbscan, hdbscan, "
                                                "hierarchical, meanshift, kprototypes or auto "
                                                "(compare them on a sample, pick one).")] =
    "auto",
    param: Annotated[list[str] | None, typer.Option("--param", help="Algorithm parameter "
                                                    "KEY=VALUE, repeatable (e.g. eps=0.4); "
                                                    "'auto' = automatic.")] = None,
    embed: Annotated[str | None, typer.Option(help="With --events: segment by sequence "
                                                   "embeddings, word2vec or sentence (see "
                                                   "'personae features --embed').")] = None,
    representation: Annotated[str, typer.Option(help="With --embed: embedding (the vectors "
                                                     "alone) or hybrid (with the event "
                                                     "features).")] = "embedding",
    tokens: Annotated[str, typer.Option(help="With --embed: token roles joined by +, e.g. "
                                             "event+category.")] = "event",
    embed_cache: Annotated[Path | None, typer.Option(help="With --embed: folder keeping "
                                                          "trained embeddings by input "
                                                          "hash.")] = None,
) -> None:
    """Segment a user table (one row per user) and write the results to --out."""
    from personae.pipeline import segment

    with _reporting("segmenting"):
        data: Any = input_path
        sequences = None
        if embed is not None and not events:
            raise ConfigError("--embed needs --events (an event log as INPUT)")
        if events:
            data = _event_table(str(input_path), _without_position(event_map), on_bad_rows,
                                memory_limit)
            id_column = "user_id"
            if embed is not None:
                sequences = _sequence_table(str(input_path), event_map, data, embed,
                                            representation, tokens, embed_cache, seed)
                data = sequences.frame
        result = segment(
            data, k=parse_k(k), k_range=parse_k_range(k_range),
            features=parse_list(features),
            categorical=parse_list(categorical, "--categorical"), id_column=id_column,
            impute=_choice("--impute", impute, ("median", "knn")), log_transform=not no_log,
            scaler=_choice("--scaler", scaler, ("standard", "robust", "minmax")),
            algorithm=_algorithm(algorithm), params=_params(algorithm, param) or None,
            random_state=seed,
        )
        result.save(out)
        if sequences is not None:
            _save_sequences(sequences, result, out)
        report_path = _write_report(out, semantics, report_map, str(input_path) if events
                                    else None, _without_position(event_map))
    _print_summary(result, out)
    _print_algorithm(result)
    out_console.print(f"report: {report_path} (personas.json beside it)")


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
    """Run the whole pipeline on the bundled real data set (Online Retail II customers)."""
    data = resources.files("personae") / "datasets" / "online_retail_customers.csv"
    with resources.as_file(data) as path:
        out_console.print(f"demo: segmenting {path.name} (UCI Online Retail II customers, "
                          "CC BY 4.0)")
        run(path, out=out)


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
    """Turn an event log into one row of behavioural features per user (DuckDB)."""
    from personae.features.events import from_events, write_features

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


def _event_table(events_path: str, mapping: str | None, on_bad_rows: str,
                 memory_limit: str | None) -> Any:
    """Features of an event log for `run --events`; the report goes to stderr."""
    from personae.features.events import from_events
    from personae.features.events_io import ROLES

    given: dict[str, str] = {}
    for pair in (mapping or "").split(","):
        if not pair.strip():
            continue
        role, sep, column = pair.partition("=")
        if not sep or role.strip() not in ROLES:
            raise ConfigError(f"--map takes role=column pairs with roles {', '.join(ROLES)}; "
                              f"got {pair.strip()!r}")
        given[role.strip()] = column.strip()
    result = from_events(events_path, on_bad_rows=_choice("--on-bad-rows", on_bad_rows,
                                                          ("error", "skip")),
                         memory_limit=memory_limit, **given)  # type: ignore[arg-type]
    for line in result.report.lines():
        console.print(f"events: {line}", highlight=False, soft_wrap=True)
    return result.frame


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

def _write_report(run_dir: Path, semantics: Path | None, map_method: str,
                  events_source: str | None = None, event_map: str | None = None) -> Path:
    from personae.features.semantics import Semantics
    from personae.report import write_report

    meanings = Semantics.from_yaml(semantics) if semantics is not None else None
    log_info = None
    if events_source is not None:
        mapping = dict(pair.split("=", 1) for pair in (event_map or "").split(",")
                       if "=" in pair)
        log_info = {"source": events_source,
                    "mapping": {k.strip(): v.strip() for k, v in mapping.items()}}
    return write_report(run_dir, semantics=meanings,
                        map_method=_choice("--map", map_method, ("pca", "umap", "none")),
                        event_log=log_info)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder written "
                                                                  "by 'personae run'.")],
    semantics: Annotated[Path | None, typer.Option(help="YAML file saying what your columns "
                                                        "mean.")] = None,
    map_method: Annotated[str, typer.Option("--map", help="Map of users: pca, umap (adds 1-2 "
                                                          "min: numba compiles on first use) "
                                                          "or none.")] = "pca",
    events: Annotated[str | None, typer.Option(help="Event log for journeys (user, time, "
                                                    "event columns).")] = None,
    event_map: Annotated[str | None, typer.Option(help="With --events: role=column pairs, "
                                                       "e.g. 'user=Customer ID'.")] = None,
) -> None:
    """Re-render report.html and personas.json from a run folder's saved outputs."""
    with _reporting("writing the report"):
        path = _write_report(run_dir, semantics, map_method, events, event_map)
    out_console.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB; personas.json "
                      "beside it)")


# --- sequence embeddings (personae.features.sequence_pipeline) -----------------------------

def _without_position(mapping: str | None) -> str | None:
    """--map minus position=..., a role only the sequences read."""
    if mapping is None:
        return None
    return ",".join(p for p in mapping.split(",") if p.partition("=")[0].strip() != "position")


def _sequence_options(embed: str, representation: str, tokens: str, mapping: dict[str, str],
                      cache: Path | None, gap: float = 30) -> Any:
    from personae.features.sequence_pipeline import SequenceOptions

    return SequenceOptions(embed=_choice("--embed", embed, ("word2vec", "sentence")),
                           representation=_choice("--representation", representation,
                                                  ("embedding", "hybrid")),
                           tokens=tokens, mapping=mapping, session_gap_minutes=gap,
                           cache_dir=str(cache) if cache is not None else None)


def _sequence_table(events_path: str, event_map: str | None, features: Any, embed: str,
                    representation: str, tokens: str, cache: Path | None, seed: int) -> Any:
    from personae.features.sequence_pipeline import sequence_table

    mapping = {k.strip(): v.strip() for k, _, v in
               (p.partition("=") for p in (event_map or "").split(",") if "=" in p)}
    table = sequence_table(events_path, _sequence_options(embed, representation, tokens,
                                                          mapping, cache),
                           features=features, random_state=seed)
    for line in table.lines():
        console.print(f"sequences: {line}", highlight=False, soft_wrap=True)
    return table


def _save_sequences(table: Any, result: Any, out: Path) -> None:
    import json

    import numpy as np

    from personae.features.sequence_pipeline import save_sequence_model
    from personae.features.sequence_profiles import profile_lines, sequence_profiles

    save_sequence_model(table, out / "model")
    position = {u: i for i, u in enumerate(table.sequences.ids.tolist())}
    order = [position[u] for u in result.ids.tolist()]
    sub = table.sequences
    labels = np.full(len(sub), -2)
    labels[order] = result.labels
    keep = labels > -2
    profiles = sequence_profiles(_subset(sub, keep), labels[keep], table.vectors[keep])
    (out / "sequence_profiles.json").write_text(json.dumps(profiles, indent=1))
    for line in profile_lines(profiles):
        out_console.print(line, highlight=False, soft_wrap=True)


def _subset(seqs: Any, keep: Any) -> Any:
    from personae.features.sequences import sequences_from_lists

    lists = seqs.as_lists()
    ids = seqs.ids[keep]
    chosen = [lst for lst, k in zip(lists, keep.tolist(), strict=True) if k]
    return sequences_from_lists(ids, chosen) if not keep.all() else seqs


def _embed_features(events_path: str, result: Any, embed: str, tokens: str,
                    position: str | None, cache: Path | None, gap: float) -> Any:
    from personae.features.sequence_pipeline import sequence_table

    mapping = dict(result.report.mapping)
    if position is not None:
        mapping["position"] = position
    table = sequence_table(events_path, _sequence_options(embed, "embedding", tokens, mapping,
                                                          cache, gap))
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
    from personae.features.events import write_features
    from personae.features.sequence_pipeline import embed_new, representation_of

    with _reporting("embedding"):
        mapping = {k.strip(): v.strip() for k, _, v in
                   (p.partition("=") for p in (event_map or "").split(",") if "=" in p)}
        features = None
        if representation_of(model_dir) == "hybrid":
            features = _event_table(events_path, _without_position(event_map), "error", None)
        frame, report = embed_new(model_dir, events_path, mapping, features)
        write_features(frame, out)
    for line in report.lines():
        out_console.print(line, highlight=False, soft_wrap=True)
    out_console.print(f"wrote {len(frame):,} users -> {out}; next: personae assign "
                      f"{model_dir} {out} --out labels.csv")
