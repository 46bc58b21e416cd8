"""Render a run folder into one self-contained ``report.html`` (and ``personas.json``).

Everything comes from the saved outputs (run.json, users_segmented, segment_profiles,
k_selection, model/): ``personae report RUN_DIR`` re-renders without the input data.
plotly.js is inlined from the installed plotly package, so the file opens offline.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from personae.errors import PersonaeError
from personae.features.semantics import Semantics
from personae.profile.journeys import journeys as build_journeys
from personae.profile.opportunities import RULE, opportunity_matrix
from personae.profile.personas import NOISE, build_personas, fmt
from personae.profile.segments import ALPHA, MIN_CATEGORY_DIFF, MIN_EFFECT
from personae.report import figures
from personae.report.run_folder import RunFolder, load_run

log = logging.getLogger(__name__)

MapMethod = Literal["pca", "umap", "none"]
PERSONAS_FORMAT = "personae.personas"


def personas_document(run: RunFolder, semantics: Semantics) -> dict[str, Any]:
    personas = build_personas(run.profiles, semantics, run.users)
    return {
        "format": PERSONAS_FORMAT,
        "format_version": 1,
        "run": {"source": run.info.get("input", {}).get("source"),
                "users": int(len(run.users)), "segments": int(len(personas))},
        "method": {
            "facts": "segment vs everyone else: Welch t-test and Cohen's d (numbers, on the "
                     "model's scale), two-proportion z-test and share difference "
                     "(categories); Benjamini-Hochberg correction over all tests of the run",
            "alpha": ALPHA, "min_effect_d": MIN_EFFECT, "min_share_difference":
                MIN_CATEGORY_DIFF,
            "sources": "each fact's 'source' names the row of segment_profiles.csv "
                       "(segment, feature) and the numbers it quotes",
            "hypotheses": "empathy map says/thinks/feels are hypotheses from the feature "
                          "themes, to be checked with real users",
        },
        "personas": personas,
    }


def _events_info(run: RunFolder) -> dict[str, Any] | None:
    """The event log of the run: run.json's record, else the one a previous report used."""
    events = run.info.get("events") or run.info.get("input", {}).get("events")
    if isinstance(events, dict) and events.get("source"):
        return events
    previous = run.path / "personas.json"
    if previous.is_file():
        try:
            events = json.loads(previous.read_text(encoding="utf-8"))["run"].get("events")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            return None
        if isinstance(events, dict) and events.get("source"):
            return events
    return None


def _journeys(run: RunFolder, events: Any | None, recorded: dict[str, Any] | None
              ) -> tuple[dict[str, Any] | None, str]:
    """Journeys from ``events`` (a DataFrame with user/time/event) or the run's event log."""
    if events is None and recorded is None:
        return None, ("No event log was recorded for this run (it was segmented from a user "
                      "table), so there are no journeys: personae does not invent one. Run "
                      "with --events on an event log to get funnels and paths per segment.")
    mapping = {"user": "user", "time": "time", "event": "event"}
    try:
        if events is None and recorded is not None:
            from personae.data.readers import read_table

            events = read_table(recorded["source"])
            mapping.update(_detect_roles(events, recorded.get("mapping") or {}))
        assert events is not None
        missing = [c for c in mapping.values() if c not in events.columns]
        if missing:
            return None, (f"The event log has no {', '.join(missing)} column, so there are no "
                          "journeys.")
        segments = pd.Series(run.users["segment"].to_numpy(),
                             index=run.users[run.id_column].astype(str))
        return build_journeys(events, segments, **mapping), ""
    except (OSError, ValueError) as exc:
        return None, f"The event log could not be read ({exc}); no journeys."


def _map(run: RunFolder, method: MapMethod, seed: int, names: dict[int, str]
         ) -> tuple[figures.Figure | None, str]:
    if method == "none":
        return None, "The map was switched off for this report (--map none)."
    if not run.has_model:
        return None, "No saved model in the run folder, so there is no map."
    from personae.model import SegmentModel, sample_rows

    users = run.users
    ids = users[run.id_column] if run.id_column in users.columns else \
        pd.Series(np.arange(len(users)))
    rows = np.sort(sample_rows(ids.reset_index(drop=True), figures.MAP_SAMPLE, seed))
    sample = users.iloc[rows].reset_index(drop=True)
    try:
        model = SegmentModel.load(run.path / "model")
        renames = _input_names(sample, model)
        original = sample.drop(columns=[v for v in renames.values() if v in sample.columns])
        X = model.transform(original.rename(columns=renames), str(run.path))
    except PersonaeError as exc:
        log.warning("no map: %s", exc)
        return None, f"The map could not be drawn from the saved model: {exc}"
    points, name, seconds = figures.project(X, method, seed)
    return figures.user_map(points, sample["segment"].to_numpy(), names, name, len(users),
                            seconds), ""


def _detect_roles(events: pd.DataFrame, given: dict[str, str]) -> dict[str, str]:
    from personae.features.events_io import map_columns

    columns = {str(c): str(t) for c, t in events.dtypes.items()}
    found = map_columns(columns, {k: v for k, v in given.items() if v}, "event log")
    return {role: found[role] for role in ("user", "time", "event") if found.get(role)}


def _input_names(users: pd.DataFrame, model: Any) -> dict[str, str]:
    """users_segmented renames input columns that clash with its own (input_segment)."""
    wanted = set(model.preprocessor_.numeric_) | set(model.preprocessor_.categorical_)
    return {c: c[len("input_"):] for c in users.columns
            if c.startswith("input_") and c[len("input_"):] in wanted}


def build_report(run_dir: str | Path, *, semantics: Semantics | None = None,
                 map_method: MapMethod = "pca", events: pd.DataFrame | None = None,
                 event_log: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The report's HTML and the personas document, from a run folder.

    ``events`` (a DataFrame with user, time, event columns) or ``event_log`` ({"source":
    path, "mapping": {role: column}}) give the journeys; without them the run's recorded
    event log is used, if any.
    """
    started = time.perf_counter()
    semantics = semantics or Semantics()
    run = load_run(run_dir)
    log.info("report: personas for %d segments", run.profiles["segment"].nunique())
    document = personas_document(run, semantics)
    personas = document["personas"]
    names = {p["segment"]: p["name"] for p in personas}
    opp = opportunity_matrix(run.profiles, semantics)
    recorded = event_log or _events_info(run)
    if recorded is not None:
        document["run"]["events"] = recorded
    journeys, journeys_note = _journeys(run, events, recorded)
    log.info("report: figures")
    seed = int(run.info.get("config", {}).get("seed", 0) or 0)
    user_map, map_note = _map(run, map_method, seed, names)
    charts: dict[str, figures.Figure | None] = {
        "k": figures.k_selection(run.k_table, run.info)
        if run.k_table is not None and "k" in run.k_table.columns else None,
        "map": user_map,
        "sizes": figures.sizes(personas),
        "heatmap": figures.heatmap(run.profiles, names),
        "opportunities": figures.opportunities(opp, names, RULE) if opp["need"].sum() > 0
        else None,
        "funnels": figures.funnels(journeys, names) if journeys else None,
        "stability": figures.stability(run.k_table) if run.k_table is not None else None,
        "segment_stability": figures.segment_stability(run.info["stability"], names)
        if isinstance(run.info.get("stability"), dict) else None,
    }
    env = Environment(loader=PackageLoader("personae.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["fmt"] = fmt
    env.filters["pct"] = lambda v: f"{float(v):.0%}"
    template = env.get_template("report.html.j2")
    figure_json = {key: Markup(_script_json(fig.to_json()))
                   for key, fig in charts.items() if fig is not None}
    html = template.render(
        info=run.info, run=run, personas=personas, names=names, charts=charts,
        figure_json=figure_json, map_note=map_note, journeys=journeys,
        journeys_note=journeys_note, opportunity_rule=RULE, opportunity_table=opp,
        plotly_js=Markup(_plotly_js()), meanings=_meanings(run, semantics),
        edge=[p for p in personas if p["segment"] == NOISE],
        taxonomy=_taxonomy(run.users, names),
        soft=_soft_summary(run.users),
        algorithm_table=_algorithm_view(run.algorithm_table),
        algorithm=_algorithm(run.info), alpha=ALPHA, min_effect=MIN_EFFECT,
        min_share=MIN_CATEGORY_DIFF, notes=run.notes,
        build_seconds=round(time.perf_counter() - started, 1),
    )
    return html, document


def write_report(run_dir: str | Path, *, semantics: Semantics | None = None,
                 map_method: MapMethod = "pca", events: pd.DataFrame | None = None,
                 event_log: dict[str, Any] | None = None) -> Path:
    """Write ``report.html`` and ``personas.json`` into the run folder; returns the report."""
    folder = Path(run_dir)
    html, document = build_report(folder, semantics=semantics, map_method=map_method,
                                  events=events, event_log=event_log)
    _write_atomic(folder / "personas.json",
                  json.dumps(document, indent=2, ensure_ascii=False, default=_jsonable))
    path = folder / "report.html"
    _write_atomic(path, html)
    log.info("report: wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _script_json(text: str) -> str:
    """JSON safe inside <script>: no '<', '>' or '&' can close the tag or open a comment."""
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


_PLOTLY: dict[str, str] = {}


def _plotly_js() -> str:
    if "js" not in _PLOTLY:
        from plotly.offline import get_plotlyjs

        _PLOTLY["js"] = get_plotlyjs().replace("</script", "<\\/script")
    return _PLOTLY["js"]


def _algorithm(info: dict[str, Any]) -> dict[str, Any]:
    algorithm = info.get("algorithm")
    if isinstance(algorithm, dict):
        return algorithm
    name = info.get("config", {}).get("algorithm") or "kmeans"
    return {"name": name, "params": {"k": info.get("segments", {}).get("k")},
            "why": None}


def _meanings(run: RunFolder, semantics: Semantics) -> list[dict[str, str]]:
    rows = []
    for name in sorted(run.profiles["feature"].unique().tolist()):
        m = semantics.describe(str(name))
        rows.append({"feature": str(name), "label": m.label, "unit": m.unit, "high": m.high,
                     "low": m.low, "themes": ", ".join(m.themes), "source": m.source,
                     "pain": m.pain_when or ""})
    return rows


def _taxonomy(users: pd.DataFrame, names: dict[int, str]) -> list[dict[str, Any]]:
    """Hierarchical runs: users per (level_1, level_2, ..., segment) path."""
    levels = [c for c in ("level_1", "level_2", "level_3") if c in users.columns]
    if not levels:
        return []
    counts = users.groupby([*levels, "segment"], sort=True).size()
    return [{"path": [str(v) for v in key[:-1]], "segment": int(key[-1]),
             "name": names.get(int(key[-1]), str(key[-1])), "users": int(n)}
            for key, n in counts.items()]


def _soft_summary(users: pd.DataFrame) -> dict[str, Any] | None:
    """GMM runs: how sure the memberships are."""
    if "probability" not in users.columns:
        return None
    probability = users["probability"].astype(float)
    summary: dict[str, Any] = {"median_probability": float(probability.median()),
                               "share_below_0.8": float((probability < 0.8).mean())}
    if "mixed" in users.columns:
        summary["share_mixed"] = float(users["mixed"].astype(bool).mean())
    return summary


ALGORITHM_COLUMNS = ("algorithm", "n_segments", "edge_share", "stability_ari", "bic_gap",
                     "hollowness", "silhouette", "davies_bouldin", "dbcv", "seconds",
                     "eligible", "chosen", "note")


def _algorithm_view(table: pd.DataFrame | None) -> pd.DataFrame | None:
    """The columns of algorithm_selection.csv a reader compares; all of them if unknown."""
    if table is None:
        return None
    known = [c for c in ALGORITHM_COLUMNS if c in table.columns]
    view = table[known] if len(known) >= 3 else table
    text = [c for c in view.columns if not pd.api.types.is_numeric_dtype(view[c])]
    return view.assign(**{c: view[c].astype(object).where(view[c].notna(), "") for c in text})
