"""`personae serve` and `early`: real-time assignment over HTTP, assignment from the
first days."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from personae.cli._app import (
    _fail,
    _mapping,
    _reporting,
    app,
    out_console,
)
from personae.errors import ConfigError


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
        frame = read_table(events_path)
        model = fit_early(run_dir, frame, windows, _mapping(event_map), seed, str(events_path))
        folder = model.save(run_dir / "model")
    out_console.print(early_table(model))
    out_console.print(f"early model -> {folder}", highlight=False)


def early_table(model: Any) -> Table:
    """Per window of an EarlyModel: each predictor's agreement with the full-history
    segment on held-out users (95% Wilson interval), the one that answers, abstaining."""
    table = Table(title="early assignment: agreement with the full-history segment "
                        "(held-out users, 95% interval)")
    for name in ("days", "held out", "k-NN", "core model", "blend", "majority", "answers",
                 "recall per segment"):
        table.add_column(name, justify="left" if name.startswith("recall") else "right")
    for v in model.validation:
        answers = ("not yet known (below "
                   f"{model.abstain_below:.0%})" if v.abstains else _PREDICTOR[v.chosen])
        table.add_row(str(v.days), f"{v.holdout_users:,}", f"{_agreed(v, 'knn')} k={v.k}",
                      _agreed(v, "core") + (f" ({v.core_model_edge:.0%} edge)"
                                            if v.core_model_edge else ""), _agreed(v, "blend"),
                      f"{v.majority_baseline:.1%}", answers,
                      ", ".join(f"{s}: {r:.0%}" for s, r in v.recall.items()))
    return table


_PREDICTOR = {"knn": "k-NN", "core": "core model", "blend": "blend"}


def _agreed(check: Any, predictor: str) -> str:
    """A predictor's held-out agreement and its 95% interval ("" where it was not run)."""
    from personae.serve.early_predictors import agreement_interval

    agreement = check.agreements.get(predictor)
    if agreement is None:
        return ""
    low, high = agreement_interval(agreement, check.holdout_users)
    return f"{agreement:.1%} ({low:.1%}-{high:.1%})"
