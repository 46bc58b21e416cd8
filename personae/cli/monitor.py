"""`personae monitor`, `compare` and `track`: drift, segment evolution, governance,
MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from personae._share import share_text
from personae.cli._app import (
    MLFLOW_DEFAULT,
    TrackingUriOption,
    TrackOption,
    _mapping,
    _print_tracked,
    _reporting,
    _tracking,
    app,
    console,
    out_console,
)
from personae.errors import ConfigError


def _event_roles(mapping: str | None) -> dict[str, str]:
    """--map for the event features alone (no sequence roles)."""
    from personae.features.events_io import ROLES

    return _mapping(mapping, ROLES)


DRIFT_ROWS = 10  # the terminal's share of drift.csv


def _print_monitor(result: Any, out: Path) -> None:
    drift = result.drift
    shown = drift.head(DRIFT_ROWS)
    cut = f"; the {len(shown)} largest here, all in drift.csv" if len(shown) < len(drift) else ""
    table = Table(title=f"drift of {len(drift)} features (PSI: <0.1 stable, <0.25 "
                        f"moderate{cut})")
    for name in ("feature", "psi", "verdict", "effect", "largest bin change"):
        table.add_column(name, justify="right" if name in ("psi", "effect") else "left")
    for row in shown.itertuples():
        unit = "SD" if row.effect_measure == "wasserstein_sd" else "JS"
        table.add_row(str(row.feature), f"{row.psi:.3f}", str(row.verdict),
                      f"{row.effect:.3f} {unit}", str(row.top_bin_change))
    out_console.print(table)
    summary = result.summary
    shift = result.shift
    out_console.print(f"segments: PSI {shift.psi:.3f} ({shift.verdict}); novel users "
                      f"{share_text(summary['novel_share'])}", highlight=False)
    if summary.get("users_in_both") is not None:
        stayed = summary.get("stayed_share")
        out_console.print(f"users in both: {summary['users_in_both']:,}; stayed in their "
                          f"segment: {'-' if stayed is None else f'{stayed:.1%}'}",
                          highlight=False)
    refit = summary.get("refit")
    if refit is not None:
        out_console.print(f"refit on the new users: {refit['segments']} segments "
                          f"({refit['algorithm']}), the run's own config; saved in "
                          f"{out / refit['folder']}/ (a run folder: promote it by using it "
                          "as RUN_DIR; segment_matching.csv maps its segments to stable "
                          "ids)", highlight=False)
    if result.matching is not None:
        other = "refit" if refit is not None else "run B"
        for row in result.matching.fates.itertuples():
            old = "new" if row.fate == "emerges" else f"segment {row.old_segment}"
            where = f" id {row.new_ids} ({other}'s {row.new_segments})" if row.new_ids else ""
            out_console.print(f"  {old}: {row.fate}{where}", highlight=False)
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
    refit: Annotated[bool, typer.Option("--refit", help="Also refit a fresh run on the new "
                                                        "users with the run's own config, "
                                                        "match its segments to the run's "
                                                        "(segment_matching.csv: fates, "
                                                        "stable ids) and save it in "
                                                        "OUT/refit/.")] = False,
    track: TrackOption = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Apply a run's model to new users (no refit) and report drift, segment shifts,
    transitions and governance suggestions; --refit adds what a retrain would change."""
    from personae.monitor import monitor

    with _reporting("monitoring"):
        uri = _tracking(track, tracking_uri)
        result = monitor(run_dir, new_input, events=events,
                         event_map=_event_roles(event_map), refit=refit)
        result.save(out)
        if result.refit is not None:  # the refit as a whole run folder, report included
            from personae.report import write_report

            refitted = result.refit.run
            write_report(refitted, out / result.summary["refit"]["folder"],
                         map_method=refitted.config.report.map)
        tracked = _track_monitor(result, out, uri)
    _print_monitor(result, out)
    _print_tracked(tracked, uri)


def _track_monitor(result: Any, out: Path, uri: str | None) -> str | None:
    if uri is None:
        return None
    from personae.monitor.tracking import track_monitor

    return track_monitor(result, out, uri)


@app.command("compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(metavar="RUN_A", help="The earlier run folder.")],
    run_b: Annotated[Path, typer.Argument(metavar="RUN_B", help="The later run folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    track: TrackOption = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Compare two finished runs: drift, segments matched across the refit (fates and
    stable ids), transitions and governance suggestions."""
    from personae.monitor import compare

    with _reporting("comparing"):
        uri = _tracking(track, tracking_uri)
        result = compare(run_a, run_b)
        result.save(out)
        tracked = _track_monitor(result, out, uri)
    _print_monitor(result, out)
    _print_tracked(tracked, uri)


@app.command("track")
def track_command(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder written "
                                                                  "by 'personae run'.")],
    to: Annotated[str | None, typer.Option(
        "--to", "--track", metavar="FOLDER", show_default="MLflow's own store",
        help="Local MLflow store folder; without it, the store MLflow itself uses "
             "(MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in this folder).")] = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Log a finished run to MLflow (params, metrics, artifacts, tags): a local store, or a
    tracking server with --tracking-uri."""
    from personae.monitor.tracking import track_run

    with _reporting("tracking"):
        if not (run_dir / "run.json").is_file():
            raise ConfigError(f"{run_dir}: not a personae run folder (no run.json)")
        uri = _tracking(to if to is not None or tracking_uri is not None else MLFLOW_DEFAULT,
                        tracking_uri)
        run_id = track_run(run_dir, uri)
    _print_tracked(run_id, uri)

