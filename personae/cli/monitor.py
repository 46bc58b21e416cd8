"""`personae monitor`, `compare` and `track`: drift, segment evolution, governance,
MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from personae.cli._app import (
    _mapping,
    _reporting,
    app,
    console,
    out_console,
)
from personae.errors import ConfigError


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

