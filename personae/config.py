"""RunConfig: every setting of a run, validated once, written verbatim into run.json.

    input:         what is read (a user table, or an event log and its column mapping)
    segmentation:  how users are cleaned and segmented (what SegmentModel needs)
    report:        how the run is described (semantics file, map of users)

``personae run --config run.yaml`` reads the same document that run.json's ``config`` block
holds, so a run can be reproduced from its own record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from personae.cluster.auto_rules import AutoRules
from personae.cluster.levels.rules import LevelRules
from personae.errors import ConfigError

Impute = Literal["median", "knn"]
Scaler = Literal["standard", "robust", "minmax"]
MapMethod = Literal["pca", "umap", "none"]
EVENT_ROLES = ("user", "time", "event", "value", "quantity", "price", "session", "item",
               "category", "order", "position")  # position: order within a time (sequences)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventsConfig(_Frozen):
    """How an event log becomes per-user features (``personae.features.events``)."""

    mapping: dict[str, str] = {}
    table: str | None = None
    time_format: str | None = None
    reference_date: str | None = None
    session_gap_minutes: float = 30
    top_event_types: int = 8
    keep_duplicates: bool = False
    on_bad_rows: Literal["error", "skip"] = "error"
    memory_limit: str | None = None
    threads: int | None = None
    # Early assignment: windows of each user's first N days (personae.serve.early). Here,
    # not under segmentation, because it exists only with an event log and its windows are
    # computed with this log's mapping and options.
    early_days: list[int] | None = None

    @field_validator("early_days")
    @classmethod
    def _early_days(cls, days: list[int] | None) -> list[int] | None:
        if days is None:
            return None
        if not days or min(days) < 1:
            raise ValueError(f"needs at least one window of 1 day or more; got {days}")
        return sorted(set(days))

    @field_validator("mapping")
    @classmethod
    def _known_roles(cls, mapping: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(mapping) - set(EVENT_ROLES))
        if unknown:
            raise ValueError(f"unknown roles {unknown}; roles are {', '.join(EVENT_ROLES)}")
        return mapping

    def from_events_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``from_events`` (the mapping spread into its roles)."""
        options = self.model_dump(exclude={"mapping", "early_days"})
        return {**{k: v for k, v in self.mapping.items() if k != "position"}, **options}


class SequencesConfig(_Frozen):
    """Segment by the order of what users do: token sequences -> embeddings
    (``personae.features.sequence_pipeline``)."""

    embed: Literal["word2vec", "sentence"] = "word2vec"
    representation: Literal["embedding", "hybrid"] = "embedding"
    tokens: str = "event"
    cache_dir: str | None = None
    exact: bool = False  # Word2Vec on one thread: the seed reproduces the vectors exactly


class InputConfig(_Frozen):
    path: str | None = None
    events: EventsConfig | None = None  # None: the input is a user table
    sequences: SequencesConfig | None = None  # with events: embeddings of their order

    @model_validator(mode="after")
    def _sequences_need_events(self) -> InputConfig:
        if self.sequences is not None and self.events is None:
            raise ValueError("sequence embeddings need an event log (input.events; --events)")
        if self.sequences is not None and self.events is not None and self.events.early_days:
            raise ValueError("early assignment (events.early_days; --early-days) learns from "
                             "event features, not sequence embeddings; drop one of them")
        return self


class SegmentSettings(_Frozen):
    """Cleaning and segmentation: the settings a SegmentModel is fitted with."""

    k: int | Literal["auto"] = "auto"
    k_range: tuple[int, int] = (2, 10)
    features: list[str] | None = None
    categorical: list[str] | None = None
    id_column: str | None = None
    impute: Impute = "median"
    log_transform: bool = True
    scaler: Scaler = "standard"
    algorithm: str = "auto"
    params: dict[str, Any] | None = None
    stability: bool = True
    # segment = the persona level (3-8, or distinct groups as found), nested in a broad level;
    # None: on when the algorithm is auto, off when one is named (its own partition is asked for)
    persona_levels: bool | None = None
    # the classic RFM map beside the personas; None: for event logs with persona levels
    # (the pipeline decides, it knows the input kind)
    rfm: bool | None = None
    levels: LevelRules = LevelRules()  # the persona-level rules (personae.cluster.levels)
    auto: AutoRules = AutoRules()  # how --algorithm auto picks (personae.cluster.auto)
    random_state: int = 0

    @property
    def levels_on(self) -> bool:
        """Whether the segments are the persona level: as asked, else with ``auto``."""
        return self.persona_levels if self.persona_levels is not None else \
            self.algorithm == "auto"

    @field_validator("k", mode="before")
    @classmethod
    def _k(cls, k: Any) -> Any:
        if k == "auto":
            return k
        if isinstance(k, bool) or not isinstance(k, int):
            raise ValueError(f"k must be 'auto' or an int >= 2; got {k!r}")
        if k < 2:
            raise ValueError(f"k must be at least 2 (one segment is everyone); got {k}")
        return k

    @field_validator("k_range", mode="before")
    @classmethod
    def _k_range(cls, value: Any) -> Any:
        ok = (isinstance(value, (list, tuple)) and len(value) == 2
              and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
              and 2 <= value[0] <= value[1])
        if not ok:
            raise ValueError(f"k_range must be two ints with 2 <= low <= high; got {value!r}")
        return tuple(value)

    @field_validator("features", "categorical")
    @classmethod
    def _not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("is empty; name at least one column")
        return value

    @model_validator(mode="after")
    def _algorithm(self) -> SegmentSettings:
        from personae.cluster.algorithms import algorithm_class, algorithm_names

        names = algorithm_names()
        if self.algorithm not in names:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; choose one of "
                             f"{', '.join(names)}")
        if self.algorithm == "auto":
            if self.params:
                raise ValueError("params need a named algorithm (auto chooses its own "
                                 f"parameters); choose one of {', '.join(names)}")
            return self
        cls = algorithm_class(self.algorithm)
        if isinstance(self.k, int) and not cls.uses_k:
            with_k = [n for n in names if n != "auto" and algorithm_class(n).uses_k]
            raise ValueError(f"k={self.k} does not apply to {self.algorithm}, which finds the "
                             f"number of segments itself; k applies to {', '.join(with_k)}")
        try:
            cls(**(self.params or {}))._validate()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self


class ReportConfig(_Frozen):
    semantics: str | None = None  # YAML file saying what the columns mean
    map: MapMethod = "pca"


class RunConfig(_Frozen):
    """Every setting of one run."""

    input: InputConfig = InputConfig()
    segmentation: SegmentSettings = SegmentSettings()
    report: ReportConfig = ReportConfig()

    def document(self) -> dict[str, Any]:
        """The JSON-able form: what run.json's ``config`` block holds."""
        return self.model_dump(mode="json")


def build(model: type[_Frozen], values: Mapping[str, Any], where: str = "config") -> Any:
    """``model(**values)``, with pydantic's errors turned into one ConfigError line."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, where)) from None


def _one_line(exc: ValidationError, where: str) -> str:
    parts = []
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a setting personae knows"
        elif error["type"] == "literal_error":
            allowed = str(error["msg"]).removeprefix("Input should be ")
            message = f"must be one of {allowed}; got {error.get('input')!r}"
        elif error["type"] not in ("value_error",):
            message = f"{message}; got {error.get('input')!r}"
        parts.append(f"{path}: {message}" if path else message)
    return f"{where}: " + "; ".join(parts)


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` laid over it, section by section (None = not given)."""
    out = {key: dict(value) if isinstance(value, Mapping) else value
           for key, value in base.items()}
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def read_config(path: str | Path) -> dict[str, Any]:
    """The document of a YAML or JSON config file (a run.json's ``config`` block, or the
    whole run.json, are accepted too)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config ({exc.strerror})") from None
    try:
        document = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{file}: not valid {'JSON' if file.suffix == '.json' else 'YAML'} "
                          f"({str(exc).splitlines()[0]})") from None
    if isinstance(document, dict) and isinstance(document.get("config"), dict) \
            and "format" in document:
        document = document["config"]
    if not isinstance(document, dict):
        raise ConfigError(f"{file}: a config is a mapping with the sections input, "
                          "segmentation, report")
    return document


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """The RunConfig of a file, with ``overrides`` (e.g. command-line flags) laid over it."""
    document = merged(read_config(path), overrides or {})
    return build(RunConfig, document, str(path))
