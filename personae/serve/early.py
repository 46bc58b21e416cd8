"""Early assignment: the segment a user will end in, from their first N days.

It imports no FastAPI (``personae.serve`` loads its app lazily), so ``personae early``,
and later ``personae run --early-days`` and ``personae assign --early``, use it without the
``[serve]`` extra; ``POST /assign/events`` calls it for young users.

From an event log and a finished run: each training user's features over their first
N days, by the batch definitions (``from_events``), with the reference date at the end of
the window (the midnight starting their first day + N days: "the user on day N"); a k-NN
(scikit-learn ``KNeighborsClassifier``, uniform votes, on signed-log and standardised
early features, a missing one at the mean, k chosen by 5-fold CV among 5, 15, 31) predicts
their full-history
segment; it is validated on 25% of the users held out of that training (stratified,
seeded), against everyone in the most common segment and two other predictors: the core
model applied to the early features (SegmentModel.assign), whose per-segment probabilities
are the shares of training users with its early label who ended in each segment, and the
blend (the k-NN's votes and those probabilities averaged). Each window answers with the
predictor of the highest held-out agreement (ties: core, then k-NN, then blend; 95% Wilson
intervals on the held-out users) and abstains ("not yet known", with the per-segment
probabilities) when that agreement is below early_abstain_below. The saved window is
refitted on every training user.

One ``from_events`` call per N and first weekday: each user's events are moved by a whole
number of weeks so every first day falls in the same week. Whole weeks keep every
feature (gaps, hours, weekdays, dates apart, the reference minus each time) unchanged.

Saved into the model folder as ``early/early.json`` + ``early/early.npz`` (no pickle).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.data.documents import read_document, write_document
from personae.errors import ConfigError, DataError, ModelFileError
from personae.serve.early_predictors import PREDICTORS, Validation, Window, choose, fit_window

log = logging.getLogger(__name__)

FORMAT = "personae.early-model"
FORMAT_VERSION = 2  # 2: the chosen predictor, the calibration, abstaining
NOT_YET_KNOWN = "not yet known"
FOLDER = "early"
HOLDOUT = 0.25
ANCHOR = datetime(2000, 1, 3)  # a Monday: every shifted first day is in its week
ZERO_WHEN_ABSENT = ("return_share", "share_event_other")
# absent when no user has it (every user came on one day): missing, the model imputes it
MISSING_WHEN_ABSENT = ("days_between_visits",)
OPTIONS = ("session_gap_minutes", "keep_duplicates")  # from_events options windows share


def align_features(features: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``user_id`` + ``names`` from a ``from_events`` frame: shares of event types not in
    ``names`` count as ``share_event_other``; absent share and return columns are 0
    (nothing of the kind happened), an absent gap between visits is missing (no user came
    twice); any other absent feature is a DataError."""
    out = features.copy()
    extra = [c for c in out.columns if c.startswith("share_event_") and c not in names
             and c != "share_event_other"]
    if "share_event_other" in names:
        other = out["share_event_other"] if "share_event_other" in out else 0.0
        out["share_event_other"] = other + out[extra].sum(axis=1)
    for name in names:
        if name not in out.columns:
            if name.startswith("share_event_") or name in ZERO_WHEN_ABSENT:
                out[name] = 0.0
            elif name in MISSING_WHEN_ABSENT:
                out[name] = float("nan")
            else:
                raise DataError(f"the model needs feature {name!r}, which these events do "
                                "not give (clock times give session and time-of-day "
                                "features; order, item, category columns give theirs)")
    return out[["user_id", *names]]


def first_days(events: pd.DataFrame, mapping: dict[str, str]) -> pd.Series:
    """Midnight (UTC) of each user's first event, indexed by user id."""
    times = _utc(events[mapping["time"]])
    users = events[mapping["user"]]
    keep = users.notna().to_numpy() & times.notna().to_numpy()
    first = times[keep].groupby(users[keep].to_numpy()).min()
    return first.dt.floor("D")


def window_features(events: pd.DataFrame, mapping: dict[str, str], days: int,
                    starts: pd.Series | None = None,
                    options: dict[str, Any] | None = None) -> pd.DataFrame:
    """Each user's features over their first ``days`` days (from_events, batch SQL);
    ``options``: the log's OPTIONS (session gap, duplicates), as the core features had."""
    from personae.features.events import from_events

    starts = first_days(events, mapping) if starts is None else starts
    times = _utc(events[mapping["time"]])
    users = events[mapping["user"]]
    start = users.map(starts)
    ok = start.notna().to_numpy() & times.notna().to_numpy()
    frame, times, start = events[ok].copy(), times[ok], pd.to_datetime(start[ok])
    weeks = ((start - ANCHOR).dt.days // 7).astype("int64")
    weekday = ((start - ANCHOR).dt.days % 7).astype("int64")
    frame[mapping["time"]] = times - pd.to_timedelta(weeks * 7, unit="D")
    end = (times - start) <= pd.Timedelta(days=days)
    parts = []
    for wd in sorted(weekday[end].unique()):
        chosen = (weekday == wd).to_numpy() & end.to_numpy()
        reference = ANCHOR + timedelta(days=int(wd) + days)
        result = from_events(frame[chosen], reference_date=reference, top_event_types=1000,
                             on_bad_rows="skip", threads=1, **(options or {}),
                             **mapping)  # type: ignore[arg-type]
        parts.append(result.frame)
    if not parts:
        raise DataError("no user has events in the log")
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class EarlyModel:
    """One window per N days; ``window_for`` picks the shortest a user's age fits in.
    ``abstain_below``: a window whose chosen predictor agreed with fewer held-out users
    than this answers "not yet known" (0 in files from before abstaining)."""

    windows: tuple[Window, ...]
    mapping: dict[str, str]
    validation: tuple[Validation, ...]
    options: dict[str, Any] = field(default_factory=dict)  # OPTIONS of the log's features
    abstain_below: float = 0.0

    @property
    def days(self) -> list[int]:
        return [w.days for w in self.windows]

    def window_for(self, age_days: float) -> Window | None:
        for window in self.windows:
            if age_days <= window.days:
                return window
        return None

    def predict(self, window: Window, frame: pd.DataFrame, model: Any = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segments (-1 where the window abstains, or the core model says edge user), each
        one's probability and every segment's (columns: ``window.segments``). ``frame``:
        the window's features; ``model``: the core SegmentModel, for windows that use it."""
        core = None
        if window.needs_core:
            core = model.assign(frame[list(window.features)], "early features")["segment"]
            core = core.to_numpy()
        labels, probability, proba = window.predict(frame, core)
        if window.abstains:
            return np.full(len(labels), -1, np.int64), np.full(len(labels), np.nan), proba
        return labels, probability, proba

    def save(self, model_dir: str | Path) -> Path:
        folder = Path(model_dir) / FOLDER
        staging = Path(model_dir) / f".{FOLDER}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            arrays: dict[str, np.ndarray] = {}
            windows = []
            for w in self.windows:
                windows.append({"days": w.days, "k": w.k, "features": list(w.features),
                                "log_columns": list(w.log_columns), "predictor": w.predictor,
                                "abstains": w.abstains})
                arrays.update({f"{w.days}.center": w.center, f"{w.days}.scale": w.scale,
                               f"{w.days}.X": w.X, f"{w.days}.y": w.y,
                               f"{w.days}.core_labels": w.core_labels,
                               f"{w.days}.calibration": w.calibration})
            document = {"mapping": self.mapping, "options": self.options, "windows": windows,
                        "abstain_below": self.abstain_below,
                        "validation": [v.as_dict() for v in self.validation],
                        "how": _how()}
            write_document(staging / "early.json", document, FORMAT, FORMAT_VERSION)
            np.savez(staging / "early.npz", **arrays)
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return folder

    @classmethod
    def load(cls, model_dir: str | Path) -> EarlyModel:
        """The saved model; a version-1 file (k-NN only) reads as its k-NN, never abstaining."""
        folder = Path(model_dir) / FOLDER
        document = read_document(folder / "early.json", FORMAT, (1, FORMAT_VERSION),
                                 what="this model has no early model", name="early model")
        assert document is not None  # required: read_document raised otherwise
        try:
            with np.load(folder / "early.npz", allow_pickle=False) as loaded:
                arrays = {name: loaded[name] for name in loaded.files}
            windows = tuple(Window(
                days=int(w["days"]), k=int(w["k"]), features=tuple(w["features"]),
                log_columns=tuple(w["log_columns"]), center=arrays[f"{w['days']}.center"],
                scale=arrays[f"{w['days']}.scale"], X=arrays[f"{w['days']}.X"],
                y=arrays[f"{w['days']}.y"], predictor=str(w.get("predictor", "knn")),
                core_labels=arrays.get(f"{w['days']}.core_labels", np.zeros(0, np.int64)),
                calibration=arrays.get(f"{w['days']}.calibration", np.zeros((0, 0))),
                abstains=bool(w.get("abstains", False))) for w in document["windows"])
            validation = tuple(Validation.from_dict(v) for v in document["validation"])
            abstain_below = float(document.get("abstain_below", 0.0))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"{folder}: cannot read the early model "
                                 f"({exc.__class__.__name__}: {exc})") from None
        return cls(windows=tuple(sorted(windows, key=lambda w: w.days)),
                   mapping=dict(document["mapping"]), validation=validation,
                   options=dict(document.get("options") or {}), abstain_below=abstain_below)

    def summary(self) -> dict[str, Any]:
        """What run.json's ``early`` block and the report show."""
        return {"days": self.days, "how": _how(), "model": f"model/{FOLDER}/early.json",
                "abstain_below": self.abstain_below,
                "validation": [v.as_dict() for v in self.validation]}


def has_early_model(model_dir: str | Path) -> bool:
    return (Path(model_dir) / FOLDER / "early.json").is_file()


def parse_days(text: str, option: str = "--days") -> list[int]:
    try:
        days = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ConfigError(f"{option} must be whole numbers of days such as 7,14,30; got "
                          f"{text!r}") from None
    if not days or days[0] < 1:
        raise ConfigError(f"{option} needs at least one window of 1 day or more; got "
                          f"{text!r}")
    return days


def fit_early(run_dir: str | Path, events: pd.DataFrame, days: list[int],
              mapping: dict[str, str] | None = None, random_state: int = 0,
              source: str = "events", options: dict[str, Any] | None = None,
              abstain_below: float | None = None) -> EarlyModel:
    """Learn each window's k-NN from a finished run's training users and validate it."""
    from personae.model import SegmentModel

    run_dir = Path(run_dir)
    model = SegmentModel.load(run_dir / "model")
    users_path = run_dir / "users_segmented.parquet"
    if not users_path.is_file():
        raise DataError("not found; is this a run folder written by 'personae run'?",
                        source=str(users_path))
    from personae.data.run_folder import load_run

    users = load_run(run_dir).users[[model.id_column_ or "row_number", "segment"]]
    return learn_early(model, users.iloc[:, 0], users["segment"].to_numpy(), events, days,
                       mapping, random_state, source, options, str(users_path),
                       abstain_below)


def learn_early(model: Any, ids: pd.Series, labels: np.ndarray, events: pd.DataFrame,
                days: list[int], mapping: dict[str, str] | None = None, random_state: int = 0,
                source: str = "events", options: dict[str, Any] | None = None,
                users_source: str = "the run", abstain_below: float | None = None
                ) -> EarlyModel:
    """``fit_early`` on a fitted SegmentModel and its users' labels, in memory (the
    pipeline stage of ``personae run --early-days``); labels are whatever the model
    answers with (``model.assign``), edge users (-1) left out. ``abstain_below``: None =
    the setting's default (``EventsConfig.early_abstain_below``)."""
    from sklearn.model_selection import train_test_split

    from personae.config import EventsConfig
    from personae.features.events_io import map_columns

    if abstain_below is None:
        abstain_below = EventsConfig().early_abstain_below
    users = pd.DataFrame({"user_id": ids.to_numpy(), "segment": np.asarray(labels)})
    mapping = map_columns({str(c): str(t) for c, t in events.dtypes.items()}, mapping or {},
                          source)
    options = {k: v for k, v in (options or {}).items() if k in OPTIONS}
    names = list(model.preprocessor_.numeric_)
    if model.preprocessor_.categorical_:
        raise ConfigError("early assignment needs a model of event features (numbers "
                          "only); this model also reads categories "
                          f"{sorted(model.preprocessor_.categorical_)}")
    starts = first_days(events, mapping)
    users = users[users["segment"] >= 0].assign(key=lambda f: f["user_id"].astype(str))
    if len(users) < 20:
        raise DataError(f"the run has {len(users)} segmented users; early assignment needs "
                        "20 or more", source=users_source)
    train, test = train_test_split(users["key"], test_size=HOLDOUT, random_state=random_state,
                                   stratify=_stratify(users["segment"]))
    train, test = set(train), set(test)
    windows, checks = [], []
    for n in days:
        log.info("early features over the first %d days", n)
        feats = align_features(window_features(events, mapping, n, starts, options), names)
        feats["key"] = feats["user_id"].astype(str)
        table = users[["key", "segment"]].merge(feats.drop(columns="user_id"), on="key")
        if len(table) < 20:
            raise DataError(f"only {len(table)} of the run's {len(users)} users have events "
                            "in this log (need 20); is it the log the run was made from?",
                            source=source)
        # the core model's labels of everyone's early features: the one assignment path
        core = model.assign(table[names], f"{source} (first {n} days)")["segment"].to_numpy()
        in_train = table["key"].isin(train).to_numpy()
        in_test = table["key"].isin(test).to_numpy()
        tr, te = table[in_train], table[in_test]
        fitted = fit_window(tr, tr["segment"].to_numpy(), n, names, random_state,
                            core=core[in_train])
        truth = te["segment"].to_numpy()
        answers = {p: fitted.predict(te, core[in_test], p)[0] for p in PREDICTORS}
        agreements = {p: float(np.mean(got == truth)) for p, got in answers.items()}
        chosen = choose(agreements)
        abstains = agreements[chosen] < abstain_below
        got = answers[chosen]
        majority = int(tr["segment"].mode().iloc[0])
        recall = {int(s): float(np.mean(got[truth == s] == s)) for s in np.unique(truth)}
        checks.append(Validation(days=n, k=fitted.k, train_users=len(tr),
                                 holdout_users=len(te), agreement=agreements["knn"],
                                 majority_baseline=float(np.mean(truth == majority)),
                                 core_model_baseline=agreements["core"], recall=recall,
                                 core_model_edge=float(np.mean(core[in_test] < 0)),
                                 blend_agreement=agreements["blend"], chosen=chosen,
                                 abstains=bool(abstains)))
        log.info("first %d days: %s agrees with %.1f%% of held-out users%s", n, chosen,
                 100 * agreements[chosen], " (abstains)" if abstains else "")
        windows.append(replace(fit_window(table, table["segment"].to_numpy(), n, names,
                                          random_state, k=fitted.k, core=core),
                               predictor=chosen, abstains=bool(abstains)))
    return EarlyModel(windows=tuple(windows), mapping=mapping, validation=tuple(checks),
                      options=options, abstain_below=abstain_below)


def early_stage(rows: pd.DataFrame, events: Any, provenance: dict[str, Any], model: Any,
                ids: pd.Series, labels: np.ndarray, random_state: int) -> EarlyModel:
    """The pipeline stage of ``personae run --events --early-days``: ``rows`` are the log's
    mapped columns as the run read them (``event_rows``: the run's features were aggregated
    in DuckDB, out of core, and never held the rows, which the windows need in memory);
    ``events`` is the run's EventsConfig."""
    mapping = dict(provenance["mapping"])
    return learn_early(model, ids, labels, rows, list(events.early_days), mapping,
                       random_state, str(provenance.get("source", "events")),
                       events.model_dump(), abstain_below=events.early_abstain_below)


def _stratify(labels: pd.Series) -> pd.Series | None:
    counts = labels.value_counts()
    return labels if (counts >= 2).all() else None


def _how() -> str:
    return __doc__.split("\n\n")[2].replace("\n", " ").replace("``", "") if __doc__ else ""


def _utc(values: pd.Series) -> pd.Series:
    times = pd.to_datetime(values, errors="coerce", utc=True)
    return times.dt.tz_localize(None)
