"""`personae report` and `uplift`: the HTML report of a run, uplift of segment-targeted
actions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.table import Table

from personae.cli._app import (
    _choice,
    _reporting,
    app,
    console,
    out_console,
    parse_list,
)
from personae.errors import ConfigError


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder written "
                                                                  "by 'personae run'.")],
    semantics: Annotated[Path | None, typer.Option(help="YAML file saying what your columns "
                                                        "mean.")] = None,
    map_method: Annotated[str, typer.Option("--map", help="Map of users: pca, umap (adds 1-2 "
                                                          "min: numba compiles on first use), "
                                                          "tsne or none.")] = "pca",
    uplift: Annotated[Path | None, typer.Option(help="A folder written by 'personae uplift' "
                                                     "for this run: adds its section.")] = None,
) -> None:
    """Re-render report.html (and personas.json, re-worded by --semantics) from a run
    folder's saved outputs; the input is not read again."""
    from personae.config import MapMethod
    from personae.features.semantics import Semantics
    from personae.report import write_report

    with _reporting("writing the report"):
        meanings = Semantics.from_yaml(semantics) if semantics is not None else None
        path = write_report(run_dir, semantics=meanings,
                            map_method=_choice("--map", map_method, get_args(MapMethod)),
                            uplift=uplift)
    out_console.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB; personas.json "
                      "beside it)")


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
    alpha: Annotated[float | None, typer.Option(help="Significance level (BH q) and 1 - CI "
                                                     "level (default 0.05).")] = None,
    min_users: Annotated[int | None, typer.Option(help="Fewest users per arm for a cell to "
                                                       "be tested (default 30).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap.")] = 0,
    memory_limit: Annotated[str | None, typer.Option(help="DuckDB memory limit, e.g. "
                                                          "4GB.")] = None,
) -> None:
    """Measure the uplift of each treatment arm against the control in every segment."""
    from personae.experiments import uplift

    with _reporting("measuring uplift"):
        outcomes = parse_list(outcome) or []
        tests: dict[str, Any] = {name: value for name, value in
                                 (("alpha", alpha), ("min_users", min_users))
                                 if value is not None}  # the others: UpliftSettings' defaults
        result = uplift(run_dir, experiment, arm=arm, control=control, outcomes=outcomes,
                        user=user, assign=assign, expected_split=parse_split(expected_split),
                        table=table, random_state=seed, memory_limit=memory_limit, **tests)
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



@app.command("export")
def export_command(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder written "
                                                                  "by 'personae run'.")],
    to: Annotated[Path, typer.Option("--to", help="Folder for the audiences: an id file per "
                                                  "persona and RFM cell, identify.jsonl, "
                                                  "audiences.parquet.")],
) -> None:
    """Audiences for other tools: one id file per persona (and per RFM cell), the traits as
    Segment/RudderStack identify calls (JSON lines), a Parquet table for a warehouse."""
    from personae.data.audiences import export_audiences

    with _reporting("exporting audiences"):
        done = export_audiences(run_dir, to)
    for path, users in done.personas.items():
        out_console.print(f"  {path}: {users:,} users", highlight=False)
    if done.rfm_cells:
        out_console.print(f"  rfm/: {len(done.rfm_cells)} cells", highlight=False)
    out_console.print(f"exported {done.users:,} users -> {done.folder}/ (personas/, "
                      f"{'rfm/, ' if done.rfm_cells else ''}identify.jsonl, "
                      "audiences.parquet, audiences.json)", highlight=False)
