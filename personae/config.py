"""RunConfig: every setting of a run, validated once, written verbatim into run.json.

    input:         what is read (a user table, or an event log and its column mapping)
    segmentation:  how users are cleaned and segmented (what SegmentModel needs), the sample
                   sizes of its checks and the novelty rule included
    report:        how the run is described (semantics file, map of users)
    engine:        where the heavy passes run (embedded, or Spark with its master and conf)
    forecast:      an event log's per-user forecasts (horizon, the at-risk rule)

``personae run --config run.yaml`` reads the same document that run.json's ``config`` block
holds, so a run can be reproduced from its own record, on the engine it ran on.

Every setting is a field with its default and a description; scripts/settings_table.py renders
them (the README's settings tables are its output, tested equal). Settings are checked here
and only here: :func:`build` turns pydantic's errors into one line naming the setting, or the
command-line flag that gave it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from personae.cluster.auto_rules import AutoRules
from personae.cluster.levels.rules import LevelRules
from personae.errors import ConfigError

Impute = Literal["median", "knn"]
Scaler = Literal["standard", "robust", "minmax"]
MapMethod = Literal["pca", "umap", "tsne", "none"]
EVENT_ROLES = ("user", "time", "event", "value", "quantity", "price", "session", "item",
               "category", "order", "position")  # position: order within a time (sequences)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventsConfig(_Frozen):
    """How an event log becomes per-user features (``personae.features.events``)."""

    mapping: dict[str, str] = Field(default={}, description=(
        "role -> column of the log (user, time, event, value, quantity, price, session, "
        "item, category, order, position); roles left out are detected by name"))
    table: str | None = Field(default=None, description=(
        "the table, when the log is a DuckDB database"))
    time_format: str | None = Field(default=None, description=(
        "strptime format of text times, e.g. '%d/%m/%Y %H:%M' (default: detected)"))
    reference_date: str | None = Field(default=None, description=(
        "the date recency and tenure count to (default: the midnight after the last event)"))
    session_gap_minutes: float = Field(default=30, description=(
        "minutes of inactivity that end a session"))
    top_event_types: int = Field(default=8, description=(
        "event types with their own share column; the rest are 'other'"))
    event_group: str | None = Field(default=None, description=(
        "regex grouping event labels into kinds for the share columns and journeys (a "
        "label's kind is its first group, e.g. '^([A-Za-z]+)_'); default: labels that end in "
        "numbered parts (Deeds_Es_4_5) lose them when that at least halves many labels; '' "
        "keeps every label"))
    keep_duplicates: bool = Field(default=False, description=(
        "keep identical rows as separate events (default: count and drop them)"))
    on_bad_rows: Literal["error", "skip"] = Field(default="error", description=(
        "rows whose time or number does not parse: refuse the log, or drop and count them"))
    memory_limit: str | None = Field(default=None, description=(
        "DuckDB memory limit, e.g. 4GB (default: half the RAM)"))
    threads: int | None = Field(default=None, description="DuckDB threads (default: all cores)")
    # Early assignment (personae.serve.early). Here, not under segmentation, because it exists
    # only with an event log and its windows are computed with this log's mapping and options.
    early_days: list[int] | None = Field(default=None, description=(
        "also learn each user's segment from their first N days, e.g. [7, 14, 30]: per "
        "window the k-NN, the core model or their blend, whichever agrees best with "
        "held-out users' full-history segment"))
    early_abstain_below: float = Field(default=0.5, description=(
        "a window whose best predictor agrees with fewer held-out users than this answers "
        "'not yet known' (with the per-segment probabilities); 0.5: below it the early "
        "segment is more often wrong than right"))

    @field_validator("early_abstain_below")
    @classmethod
    def _a_share(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError(f"must be a share of held-out users in [0, 1]; got {value}")
        return value

    @field_validator("early_days")
    @classmethod
    def _early_days(cls, days: list[int] | None) -> list[int] | None:
        if days is None:
            return None
        if not days or min(days) < 1:
            raise ValueError(f"needs at least one window of 1 day or more; got {days}")
        return sorted(set(days))

    @field_validator("event_group")
    @classmethod
    def _a_regex(cls, rule: str | None) -> str | None:
        if rule:
            try:
                re.compile(rule)
            except re.error as exc:
                raise ValueError(f"must be a regular expression; got {rule!r} ({exc})") from None
        return rule

    @field_validator("mapping")
    @classmethod
    def _known_roles(cls, mapping: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(mapping) - set(EVENT_ROLES))
        if unknown:
            raise ValueError(f"has unknown roles {unknown}; roles are "
                             f"{', '.join(EVENT_ROLES)}")
        return mapping

    def from_events_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``from_events`` (the mapping spread into its roles)."""
        options = self.model_dump(exclude={"mapping", "early_days", "early_abstain_below"})
        return {**{k: v for k, v in self.mapping.items() if k != "position"}, **options}


class SequencesConfig(_Frozen):
    """Segment by the order of what users do: token sequences -> embeddings
    (``personae.features.sequence_pipeline``)."""

    embed: Literal["word2vec", "sentence"] = Field(default="word2vec", description=(
        "how token sequences become vectors (sentence needs personae[sentence])"))
    representation: Literal["embedding", "hybrid"] = Field(default="embedding", description=(
        "segment on the vectors alone, or on the vectors with the event features"))
    tokens: str = Field(default="event", description="token roles joined by +, e.g. event+category")
    cache_dir: str | None = Field(default=None, description=(
        "folder keeping trained embeddings by input hash"))
    exact: bool = Field(default=False, description=(
        "train Word2Vec on one thread, so the seed reproduces the vectors exactly"))


class InputConfig(_Frozen):
    """What is read."""

    path: str | None = Field(default=None, description=(
        "the user table (CSV or Parquet), or the event log with events"))
    events: EventsConfig | None = Field(default=None, description=(
        "the input is an event log, read with these settings (absent: a user table)"))
    sequences: SequencesConfig | None = Field(default=None, description=(
        "with events: segment by embeddings of the order of what users do"))

    @field_validator("sequences")
    @classmethod
    def _sequences_need_events(cls, sequences: SequencesConfig | None,
                               info: ValidationInfo) -> SequencesConfig | None:
        if sequences is not None and "events" in info.data and info.data["events"] is None:
            raise ValueError("needs --events (an event log as INPUT; input.events)")
        return sequences

    @model_validator(mode="after")
    def _early_days_or_sequences(self) -> InputConfig:
        if self.sequences is not None and self.events is not None and self.events.early_days:
            raise ValueError("early assignment (events.early_days; --early-days) learns from "
                             "event features, not sequence embeddings; drop one of them")
        return self


class SampleSizes(_Frozen):
    """How many users each check of a run reads. Past these sizes an answer no longer moves
    but its cost keeps growing (silhouette is O(n^2)); every sample is a prefix of one
    id-hash order, so the same users are read whatever the row order."""

    order: int = Field(default=200_000, ge=1, description=(
        "users put in id-hash order; every sample below is a prefix of them"))
    consistency: int = Field(default=100_000, ge=1, description=(
        "users whose saved-model labels are checked against the fit's"))
    stability: int = Field(default=3_000, ge=1, description=(
        "users refitted on bootstrap resamples to measure stability (ARI)"))
    # a decile's share from 200,000 users is within 0.07 points (one standard error) of
    # everyone's: a PSI moves by under 1e-4, far below any drift threshold
    reference: int = Field(default=200_000, ge=1, description=(
        "users whose values give the monitoring reference's bins"))
    novelty: int = Field(default=20_000, ge=1, description=(
        "users whose distances to their segment set the novelty threshold"))


class NoveltyRules(_Frozen):
    """When a new user is novel: farther from its segment than nearly every training user."""

    quantile: float = Field(default=0.999, gt=0, lt=1, description=(
        "quantile of the training users' distances to their segment"))
    margin: float = Field(default=1.5, ge=1, description=(
        "a user is novel beyond quantile x margin"))


class SegmentSettings(_Frozen):
    """Cleaning and segmentation: the settings a SegmentModel is fitted with."""

    k: int | Literal["auto"] = Field(default="auto", description=(
        "number of segments, or auto (the K vote over k_range)"))
    k_range: tuple[int, int] = Field(default=(2, 10), description="the Ks searched by k auto")
    features: list[str] | None = Field(default=None, description=(
        "the columns to cluster on (default: every usable column)"))
    categorical: list[str] | None = Field(default=None, description=(
        "columns that are categories though written as numbers (region or plan codes)"))
    id_column: str | None = Field(default=None, description=(
        "the user id column (default: detected, user_id / customer_id / id; else row numbers)"))
    impute: Impute = Field(default="median", description=(
        "how missing values are filled (median: the mode for categories)"))
    log_transform: bool = Field(default=True, description="log-transform heavily skewed counts")
    scaler: Scaler = Field(default="standard", description="how numbers are scaled")
    algorithm: str = Field(default="auto", description=(
        "kmeans, minibatch, gmm, dbscan, hdbscan, hierarchical, meanshift, kprototypes, "
        "bisecting, or auto (compare them on a sample, pick one)"))
    params: dict[str, Any] | None = Field(default=None, description=(
        "parameters of the named algorithm, e.g. {eps: 0.4} (default: automatic)"))
    stability: bool = Field(default=True, description=(
        "measure each segment's stability on bootstrap refits (unstable ones are flagged)"))
    samples: SampleSizes = Field(default=SampleSizes(), description="sample sizes of the checks")
    novelty: NoveltyRules = Field(default=NoveltyRules(), description="when a new user is novel")
    # segment = the persona level (3-8, or distinct groups as found), nested in a broad level;
    # None: on when the algorithm is auto, off when one is named (its own partition is asked for)
    persona_levels: bool | None = Field(default=None, description=(
        "segments are the persona level (3-8, tiny groups as edge users) nested in a broad "
        "level, or the algorithm's own partition (false); none: on with algorithm auto"))
    rfm: bool | None = Field(default=None, description=(
        "the classic RFM map (rfm_score, rfm_segment) beside the personas; none: for event "
        "logs with persona levels"))
    levels: LevelRules = Field(default=LevelRules(), description=(
        "the persona-level rules (personae.cluster.levels)"))
    auto: AutoRules = Field(default=AutoRules(), description=(
        "how algorithm auto picks (personae.cluster.auto)"))
    random_state: int = Field(default=0, description=(
        "seed of every random step: same input + seed = same segments"))

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

    @field_validator("algorithm")
    @classmethod
    def _known_algorithm(cls, name: str) -> str:
        if name == "auto":  # the default, known without loading the registry (scikit-learn)
            return name
        from personae.cluster.algorithms import algorithm_names

        if name not in algorithm_names():
            raise ValueError(f"algorithm must be one of {', '.join(algorithm_names())}; "
                             f"got {name!r}")
        return name

    @model_validator(mode="after")
    def _algorithm(self) -> SegmentSettings:
        if self.algorithm == "auto" and not self.params:
            return self
        from personae.cluster.algorithms import algorithm_class, algorithm_names

        names = algorithm_names()
        if self.algorithm == "auto":
            raise ValueError("params need a named algorithm (auto chooses its own "
                             f"parameters); choose one of {', '.join(names)}")
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
    """How the run is described."""

    semantics: str | None = Field(default=None, description=(
        "YAML file saying what the columns mean (label, unit, high, low, themes, pain_when)"))
    map: MapMethod = Field(default="pca", description=(
        "map of users in the report (umap adds 1-2 min: numba compiles on first use; tsne, "
        "t-SNE of the same sample: openTSNE with the [umap] extra, about 20 s at 5,000 users, "
        "else scikit-learn's, about a minute)"))
    noun: str | None = Field(default=None, description=(
        "what to call the people in persona names and sentences (plural, e.g. players); "
        "default: from the id column (student_id gives students), else users"))

    @field_validator("noun")
    @classmethod
    def _noun(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z][A-Za-z -]{0,39}", value.strip()):
            raise ValueError(f"noun must be a word or two of letters (e.g. players); "
                             f"got {value!r}")
        return None if value is None else value.strip()


class EngineConfig(_Frozen):
    """Where the heavy passes run. Recorded in run.json, so ``personae run --config
    RUN/run.json`` reproduces a Spark run on Spark, with its master and settings."""

    kind: Literal["embedded", "spark"] = Field(default="embedded", description=(
        "embedded runs DuckDB + numpy on this machine; spark needs personae[spark] and "
        "Java 17"))
    master: str | None = Field(default=None, description=(
        "spark: the master URL of the session personae starts (default local[*])"))
    conf: dict[str, str] = Field(default={}, description=(
        "spark: settings of the session personae starts, e.g. spark.driver.memory: 8g "
        "(default driver memory on a local master: half the RAM)"))
    refine: Literal["pyspark.ml", "lloyd", "none"] = Field(default="pyspark.ml", description=(
        "spark: the fit over everyone: pyspark.ml (KMeans k-means||, GaussianMixture), lloyd "
        "(from the sample's centroids) or none (the sample fit)"))
    sample_users: int = Field(default=200_000, description=(
        "spark: users collected to the driver to choose the algorithm, K and the persona "
        "levels"))

    @field_validator("sample_users", mode="before")
    @classmethod
    def _sample_users(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 100:
            raise ValueError(f"sample_users must be a whole number >= 100; got {value!r}")
        return value

    @field_validator("conf")
    @classmethod
    def _conf(cls, conf: dict[str, str]) -> dict[str, str]:
        empty = sorted(key for key, value in conf.items() if not key.strip() or
                       not str(value).strip())
        if empty:
            raise ValueError(f"conf needs KEY: VALUE pairs (e.g. spark.driver.memory: 8g); "
                             f"got an empty key or value in {empty}")
        return conf


class ForecastConfig(_Frozen):
    """Per-user forecasts of an event log (``personae.forecast``: BG/NBD, Gamma-Gamma)."""

    days: int = Field(default=90, description=(
        "horizon of expected_events and expected_value, in days from the log's end"))
    at_risk_below: float = Field(default=0.5, description=(
        "a user is at risk when their P(still active) is below this"))
    model: Literal["auto", "BG/NBD", "MBG/NBD"] = Field(default="auto", description=(
        "the repeat-event model: auto fits BG/NBD and MBG/NBD and keeps the higher "
        "log-likelihood (MBG/NBD lets users leave after their first event, so a user who "
        "never came back can be at risk; BG/NBD holds them alive)"))

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"days must be a whole number of days >= 1 (the forecast "
                             f"horizon); got {value!r}")
        return value

    @field_validator("at_risk_below")
    @classmethod
    def _threshold(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError(f"at_risk_below must be a probability in (0, 1); got {value}")
        return value


class RunConfig(_Frozen):
    """Every setting of one run."""

    input: InputConfig = Field(default=InputConfig(), description="what is read")
    segmentation: SegmentSettings = Field(default=SegmentSettings(), description=(
        "how users are cleaned and segmented"))
    report: ReportConfig = Field(default=ReportConfig(), description="how the run is described")
    engine: EngineConfig = Field(default=EngineConfig(), description="where the heavy passes run")
    forecast: ForecastConfig = Field(default=ForecastConfig(), description=(
        "an event log's forecasts per user and persona"))

    @model_validator(mode="after")
    def _engine_can_run_it(self) -> RunConfig:
        if self.engine.kind == "spark" and self.input.events is not None:
            if self.input.events.early_days:
                raise ValueError("early assignment (input.events.early_days; --early-days) "
                                 "runs on the embedded engine only (the windows are computed "
                                 "in pandas and DuckDB); drop engine spark")
            if self.input.sequences is not None:
                raise ValueError("sequence embeddings (input.sequences; --embed) run on the "
                                 "embedded engine only; drop engine spark")
        return self

    def document(self) -> dict[str, Any]:
        """The JSON-able form: what run.json's ``config`` block holds."""
        return self.model_dump(mode="json")


class UpliftSettings(_Frozen):
    """The tests of ``personae uplift`` (:func:`personae.experiments.uplift`)."""

    alpha: float = Field(default=0.05, description=(
        "significance level: Benjamini-Hochberg q of the per-segment tests, and 1 - the "
        "confidence level of their intervals"))
    srm_alpha: float = Field(default=0.001, description=(
        "significance level of the sample ratio mismatch check (a broken split)"))
    min_users: int = Field(default=30, ge=2, description=(
        "fewest users per arm for a cell to be tested"))
    bootstrap: int = Field(default=2000, ge=100, description=(
        "bootstrap resamples of the best-arm and targeting estimates"))

    @field_validator("alpha", "srm_alpha")
    @classmethod
    def _level(cls, value: float, info: ValidationInfo) -> float:
        if not 0 < value < 1:
            raise ValueError(f"{info.field_name} must be in (0, 1); got {value}")
        return value


def build(model: type[_Frozen], values: Mapping[str, Any], where: str = "config",
          flags: Mapping[str, str] | None = None) -> Any:
    """``model(**values)``, with pydantic's errors turned into one ConfigError line.
    ``flags``: the settings a command line gave, dotted path -> flag
    (``{"segmentation.k": "--k"}``); an error in one of them names the flag
    (``--k must be at least 2``), an error elsewhere names its path in ``where``."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, where, flags or {})) from None


def _one_line(exc: ValidationError, where: str, flags: Mapping[str, str]) -> str:
    by_flag, by_path = [], []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a setting personae knows"
        elif error["type"] == "literal_error":
            allowed = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
            message = f"must be one of {', '.join(allowed)}; got {error.get('input')!r}"
        elif error["type"] not in ("value_error",):
            message = f"{message[:1].lower()}{message[1:]}; got {error.get('input')!r}"
        path = ".".join(loc)
        given = _flag_of(path, flags)
        if given is not None:  # "k must be ..." from the flag --k reads "--k must be ..."
            name = min(given, path, key=len).rsplit(".", 1)[-1]
            by_flag.append(f"{flags[given]} {message.removeprefix(name + ' ')}")
        else:
            by_path.append(f"{path}: {message}" if path else message)
    return "; ".join(by_flag + ([f"{where}: " + "; ".join(by_path)] if by_path else []))


def _flag_of(path: str, flags: Mapping[str, str]) -> str | None:
    """The flagged setting an error at ``path`` is about: the setting itself or one that
    holds it (``features.0``); for a section of a section (``input.sequences``), the one
    flag inside it. A check across a whole section's settings names no single flag."""
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in flags:
            return ".".join(parts[:n])
    inside = [given for given in flags if given.startswith(path + ".")]
    return inside[0] if len(parts) >= 2 and len(inside) == 1 else None


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
