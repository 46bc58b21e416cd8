"""Render a run into one self-contained ``report.html``: from the result in memory right
after a run, or from a run folder's saved outputs (``personae report RUN_DIR``), never
from the input data.
plotly.js is inlined from the installed plotly package, so the file opens offline.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from personae._share import share_text
from personae.cluster._base import NOISE
from personae.config import MapMethod
from personae.data.documents import read_document, write_document
from personae.data.formats import PERSONAS_FORMAT
from personae.data.run_folder import record_files
from personae.data.writers import write_text_atomic
from personae.errors import PersonaeError
from personae.features.semantics import Semantics
from personae.profile.journeys import journeys as build_journeys
from personae.profile.opportunities import RULE, opportunity_matrix
from personae.profile.personas import fmt, personas_document
from personae.profile.segments import ALPHA, MIN_CATEGORY_DIFF, MIN_EFFECT, column_summaries
from personae.profile.sequence_words import token_words
from personae.report import figures
from personae.report.render import render_page
from personae.report.run_folder import RunFolder, folder_view

log = logging.getLogger(__name__)

# A SegmentationResult, told apart from a folder by not being a path: importing its class
# would close an import cycle (the result's show() builds its report here).
Result = Any



def _journeys(run: RunFolder, events: pd.DataFrame | None
              ) -> tuple[dict[str, Any] | None, str]:
    """The run's journeys, or journeys from ``events`` (a DataFrame with user, time, event)."""
    if events is not None:
        missing = [c for c in ("user", "time", "event") if c not in events.columns]
        if missing:
            return None, (f"The event log has no {', '.join(missing)} column, so there are no "
                          "journeys.")
        segments = pd.Series(run.users["segment"].to_numpy(),
                             index=run.users[run.id_column].astype(str))
        return build_journeys(events, segments), ""
    if run.journeys is not None:
        return run.journeys, ""
    if run.info.get("input", {}).get("kind") == "events":
        return None, ("The event log of this run has no event-type column, so there are no "
                      "funnels or paths.")
    return None, ("No event log was recorded for this run (it was segmented from a user "
                  "table), so there are no journeys: personae does not invent one. Run "
                  "with --events on an event log to get funnels and paths per segment.")


def _map(run: RunFolder, method: MapMethod, names: dict[int, str]
         ) -> tuple[figures.Figure | None, str]:
    if method == "none":
        return None, "The map was switched off for this report (--map none)."
    points = run.user_map
    if points is None or not len(points):
        return None, ("This run saved no map of users (it ran with --report-map none, or an "
                      "older personae wrote it); run again to get one.")
    return figures.user_map(points, len(run.users), names), ""


def build_report(run: Result | RunFolder | str | Path, *,
                 semantics: Semantics | None = None, map_method: MapMethod = "pca",
                 events: pd.DataFrame | None = None, uplift: str | Path | None = None
                 ) -> tuple[str, dict[str, Any]]:
    """The report's HTML and the personas document, from a run result in memory or a run
    folder; nothing is refitted and the input is not read again.

    ``semantics`` re-words the personas (they are rebuilt from the saved profiles);
    ``events`` (a DataFrame with user, time, event columns) gives other journeys.
    """
    started = time.perf_counter()
    run = run if isinstance(run, RunFolder) else (
        folder_view(run) if isinstance(run, (str, Path)) else RunFolder.from_result(run))
    if semantics is not None:
        semantics = replace(run.semantics, user={**run.semantics.user, **semantics.user})
    else:
        semantics = run.semantics
    document = run.personas
    if document is None or semantics is not run.semantics or run.notes:
        log.info("report: personas for %d segments", run.profiles["segment"].nunique())
        document = personas_document(run.profiles, semantics, run.users,
                                     source=run.info.get("input", {}).get("source"),
                                     sequences=run.sequence_profiles)
        forecasts = {p["segment"]: p["forecast"] for p in (run.personas or {}).get(
            "personas", []) if "forecast" in p}  # measured, not worded: kept as the run had
        document = {**document, "personas": [{**p, "forecast": forecasts[p["segment"]]}
                                             if p["segment"] in forecasts else p
                                             for p in document["personas"]]}
    personas = document["personas"]
    names = {p["segment"]: p["name"] for p in personas}
    opp = opportunity_matrix(run.profiles, semantics)
    journeys, journeys_note = _journeys(run, events)
    log.info("report: figures")
    user_map, map_note = _map(run, map_method, names)
    charts: dict[str, figures.Figure | None] = {
        "k": figures.k_selection(run.k_table, run.info)
        if run.k_table is not None and "k" in run.k_table.columns
        and len(run.k_table) > 1 else None,
        "map": user_map,
        "sizes": figures.sizes(personas),
        "heatmap": figures.heatmap(run.profiles, names),
        "opportunities": figures.opportunities(opp, names, RULE) if opp["need"].sum() > 0
        else None,
        "funnels": figures.funnels(journeys, names) if journeys else None,
        "stability": figures.stability(run.k_table) if run.k_table is not None else None,
        "segment_stability": figures.segment_stability(run.info["stability"], names)
        if isinstance(run.info.get("stability"), dict) else None,
        "forecast_holdout": figures.forecast_holdout(run.info["forecast"]["holdout"])
        if "forecast" in run.info else None,
    }
    figure_json = {key: Markup(figures.script_json(fig.to_json()))
                   for key, fig in charts.items() if fig is not None}
    html = render_page(
        "report.html.j2", filters={"fmt": fmt, "pct": lambda v: share_text(float(v), 0)},
        info=run.info, run=run, personas=personas, names=names,
        noun=(document.get("run") or {}).get("noun") or "users", charts=charts,
        figure_json=figure_json, map_note=map_note, journeys=journeys,
        journeys_note=journeys_note, opportunity_rule=RULE, opportunity_table=opp,
        plotly_js=Markup(figures.plotly_js()), meanings=_meanings(run, semantics),
        edge=[p for p in personas if p["segment"] == NOISE],
        taxonomy=_taxonomy(run.users, names),
        soft=_soft_summary(run.users),
        algorithm_table=_algorithm_view(run.algorithm_table),
        algorithm=_algorithm(run.info), alpha=ALPHA, min_effect=MIN_EFFECT,
        min_share=MIN_CATEGORY_DIFF, notes=run.notes,
        build_seconds=round(time.perf_counter() - started, 1), k_note=_k_note(run),
        uplift=_uplift(uplift, {int(k): v for k, v in names.items()}),
        sequences=_sequences_view(run.sequence_profiles),
        columns=_columns_view(run.info, run.users),
    )
    return html, document


def write_report(run: Result | str | Path, folder: str | Path | None = None, *,
                 semantics: Semantics | None = None, map_method: MapMethod = "pca",
                 events: pd.DataFrame | None = None, uplift: str | Path | None = None) -> Path:
    """Write ``report.html`` (and ``personas.json`` when they were re-worded) into the run
    folder: ``run`` is a run folder, or a result already saved to ``folder``."""
    if not isinstance(run, (str, Path)):
        if folder is None:
            raise PersonaeError("write_report(result) needs the folder the result was saved to")
        view = RunFolder.from_result(run, Path(folder))
    else:
        view = folder_view(run)
    return _write_built(view, *build_report(view, semantics=semantics, map_method=map_method,
                                            events=events, uplift=uplift))


def save_with_report(result: Result, folder: str | Path, *,
                     map_method: MapMethod = "pca") -> Path:
    """``result.save(folder)`` then ``write_report(result, folder)``, the report built while
    the run folder is written (Arrow writes the users tables outside the GIL; the report is
    mostly Python): the path of report.html."""
    view = RunFolder.from_result(result, Path(folder))
    with ThreadPoolExecutor(1) as pool:
        built = pool.submit(build_report, view, map_method=map_method)
        result.save(folder)
        html, document = built.result()
    return _write_built(view, html, document)


def _write_built(view: RunFolder, html: str, document: dict[str, Any]) -> Path:
    if document is not view.personas:
        write_document(view.path / "personas.json", document, PERSONAS_FORMAT, 1)
    path = write_text_atomic(view.path / "report.html", html)
    # the report comes after run.json: list it (and re-worded personas) there too
    record_files(view.path, changed=("report.html", "personas.json"))
    log.info("report: wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def _uplift(folder: str | Path | None, names: dict[int, str]) -> dict[str, Any] | None:
    """The segment-level cells of a ``personae uplift`` folder, for the report's section."""
    if folder is None:
        return None
    info = read_document(Path(folder) / "uplift.json", "personae.uplift", (1,),
                         required=False, legacy=True)
    if info is None:
        raise PersonaeError(f"{folder}: no uplift.json (write it with personae uplift)")
    cells = [c for c in info.get("cells", []) if c.get("level") == "segment"]
    for cell in cells:
        try:
            cell["segment"] = int(cell["segment"])
        except (TypeError, ValueError):
            pass
    srm = (info.get("checks") or {}).get("sample_ratio") or {}
    return {"source": str(info.get("experiment") or folder),
            "users": int(info.get("joined_users") or 0),
            "arm": (info.get("columns") or {}).get("arm", "arm"),
            "control": info.get("control", "control"),
            "intervals": "Newcombe hybrid score intervals for rates, Welch for means",
            "srm_p": float(srm.get("p_value", float("nan"))), "cells": cells}


def _sequences_view(profiles: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Per segment, what the sequences section shows: medoids, n-grams, starts, ends."""
    if not profiles:
        return None
    out = []
    for p in profiles:
        out.append({**p, "medoids": [{**m, "path": " \u2192 ".join(
            token_words(t) for t in m["tokens"]) + (" \u2192 \u2026" if m["length"] >
                                                     len(m["tokens"]) else "")}
            for m in p["medoids"]],
            "ngrams": [{**g, "path": " \u2192 ".join(token_words(t) for t in
                                                     g["ngram"].split(" \u2192 "))}
                       for g in p["ngrams"]]})
    return out


def _k_note(run: RunFolder) -> str:
    """What decided the number of segments, when there is no K curve to draw."""
    k = run.info.get("config", {}).get("segmentation", {}).get("k")
    if isinstance(k, int):
        return f"The number of segments was given (K={k}), not searched."
    table = run.k_table
    name = _algorithm(run.info).get("name", "the algorithm")
    if table is None:
        return "This run folder has no k_selection.csv (an older personae wrote it)."
    return (f"{name} finds the number of segments itself from its parameters (density or "
            "modes), so no K was searched; k_selection.csv holds its parameters and what "
            "they gave.")


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


def _columns_view(info: dict[str, Any], users: pd.DataFrame) -> dict[str, Any] | None:
    """Every input column with its role and reason (run.json's ``columns``), and per
    segment the values of the columns that describe the personas without driving them."""
    roles = info.get("columns")
    if not isinstance(roles, dict):
        return None  # a run folder from before run.json listed its columns
    # users_segmented renames an input column that clashes with its own (segment...)
    where = {name: f"input_{name}" if f"input_{name}" in users.columns else name
             for name, entry in roles.items() if entry.get("role") == "describe"}
    where = {name: column for name, column in where.items() if column in users.columns}
    values = users[list(where.values())].set_axis(list(where), axis="columns")
    return {"roles": roles, "described": list(where),
            "summaries": column_summaries(values, users["segment"].to_numpy())
            if where else {}}


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


def show(run: Result | str | Path, height: int = 720) -> None:
    """Display the report of ``run`` (a result in memory, or a run folder) inside a Jupyter
    notebook, built as ``report.html`` would be; nothing is written."""
    from personae.report.notebook import show_page

    show_page(build_report(run)[0], height)

