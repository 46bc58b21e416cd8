"""`personae run`'s flags and the settings they set: one table, laid over --config and
validated once by :func:`personae.config.build`, which names the flag of a bad value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# setting path -> flag; a flag given sets that setting and nothing else
FLAGS = {
    "input.path": "INPUT", "input.events": "--events", "input.events.mapping": "--map",
    "input.events.on_bad_rows": "--on-bad-rows", "input.events.memory_limit": "--memory-limit",
    "input.events.early_days": "--early-days", "input.events.event_group": "--event-group",
    "input.sequences.embed": "--embed",
    "input.sequences.representation": "--representation", "input.sequences.tokens": "--tokens",
    "input.sequences.cache_dir": "--embed-cache", "input.sequences.exact": "--exact-embeddings",
    "segmentation.id_column": "--id-column", "segmentation.features": "--features",
    "segmentation.categorical": "--categorical", "segmentation.k": "--k",
    "segmentation.k_range": "--k-range", "segmentation.random_state": "--seed",
    "segmentation.impute": "--impute", "segmentation.log_transform": "--no-log",
    "segmentation.stability": "--no-stability", "segmentation.scaler": "--scaler",
    "segmentation.algorithm": "--algorithm", "segmentation.params": "--param",
    "segmentation.persona_levels": "--persona-levels", "report.semantics": "--semantics",
    "report.map": "--report-map", "report.noun": "--noun", "engine.kind": "--engine",
    "engine.master": "--spark-master",
    "engine.conf": "--spark-conf", "engine.refine": "--spark-refine",
    "engine.sample_users": "--spark-sample", "forecast.days": "--forecast-days",
}


def run_settings(config: Path | None, given: dict[str, Any], params: list[str] | None = None
                 ) -> Any:
    """The RunConfig of `personae run`: the --config document (if any) with the given flags
    (``{setting path: value}``, None = not given) laid over it, validated once by
    :func:`personae.config.build`. ``params``: the --param pairs, typed by the algorithm the
    document names."""
    from personae.config import RunConfig, build, merged, read_config

    flagged = {path: value for path, value in given.items() if value is not None}
    document: dict[str, Any] = read_config(config) if config is not None else {}
    for path, value in flagged.items():
        head, *rest = path.split(".")
        for key in reversed(rest):
            value = {key: value}
        document = merged(document, {head: value})
    if params:
        flagged["segmentation.params"] = _params(document, params)
        document = merged(document, {"segmentation": {"params": flagged["segmentation.params"]}})
    flags = {path: FLAGS[path] for path, value in flagged.items() if value != {}}
    return build(RunConfig, document, str(config) if config is not None else "command line",
                 flags)


def _params(document: dict[str, Any], pairs: list[str]) -> dict[str, Any]:
    """--param KEY=VALUE pairs typed by the document's algorithm (an unknown algorithm is
    left for the config to report, naming its flag or setting)."""
    from personae.cluster import algorithm_names, parse_params

    algorithm = (document.get("segmentation") or {}).get("algorithm") or "auto"
    return parse_params(algorithm, pairs) if algorithm in algorithm_names() else {}


def as_text(value: Path | None) -> str | None:
    return None if value is None else str(value)


def days(text: str | None) -> list[int] | None:
    from personae.serve.early import parse_days

    return None if text is None else parse_days(text, "--early-days")


def conf_pairs(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:  # a run without --spark-conf never loads the Spark package (DuckDB with it)
        return None
    from personae.spark.session import parse_conf

    return parse_conf(pairs) or None
