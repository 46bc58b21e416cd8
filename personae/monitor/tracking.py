"""Run history in MLflow (optional extra ``personae[mlflow]``): a local folder by default,
a tracking server when asked.

``track_run`` logs a finished run folder (params from its config, metrics: segment sizes
and shares, silhouette and the other K-selection figures, stability; artifacts: run.json,
segment_profiles.csv, personas.json, report.html, the model folder; tags: personae version
and a hash of the input). ``track_monitor`` logs a monitor or compare folder (PSI and effect
per feature, drift counts, segment shares and PSI, novel and stayed shares; artifacts:
the whole folder, monitor.html included). Batches are split to MLflow's limits (1,000
metrics, 100 params, 100 tags a call).

Where: ``--track`` alone is the store MLflow itself would use (``default_store``:
``MLFLOW_TRACKING_URI``, else MLflow's default, ``sqlite:///mlflow.db`` in the working
directory since 3.7); ``--track FOLDER`` is a local store (a path or a ``file:`` URI;
nothing leaves the machine; ``--track mlflow`` is a folder named ``mlflow``), and
``--tracking-uri URI`` is any store MLflow takes (``http://host:5000``, ``sqlite:///x.db``,
``databricks``): data leaves the machine only through it, or through a server URI the user
set in ``MLFLOW_TRACKING_URI`` for MLflow itself; never by personae's default. A database
URI (``sqlite:///mlflow.db``, MLflow's default store since 3.7) needs sqlalchemy and alembic,
which the extra installs beside mlflow-skinny (the full ``mlflow`` package pins
``pyarrow<26``, older than the lock's, and adds a server, pandas and matplotlib).
MLflow 3 keeps the file store in maintenance mode and refuses it unless
``MLFLOW_ALLOW_FILE_STORE`` is true; personae sets it only while its own logging call runs
and restores it afterwards.

Limits: MLflow takes at most 100 params and 100 tags and 1,000 metrics a call, a param value
of 6,000 characters and a tag of 8,000; longer values are cut with a note saying so (the
whole config is in the run.json artifact).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from personae._version import __version__
from personae.errors import ConfigError

log = logging.getLogger(__name__)

EXPERIMENT = "personae"
MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
CUT = " ... (cut at MLflow's limit; run.json holds it whole)"
HASH_BYTES = 1 << 20
NEEDS_MLFLOW = "--track needs MLflow: pip install 'personae[mlflow]'"


def _client(uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigError(NEEDS_MLFLOW) from None
    return MlflowClient(tracking_uri=uri)


def check_store(where: str | Path | None = None, server: str | None = None) -> str:
    """The store's URI (``where``: a local folder, ``--track``; ``server``: any MLflow
    tracking URI, ``--tracking-uri``), after checking that MLflow is installed: call it
    before the work, so a bad option writes nothing."""
    if (where is None) == (server is None):
        raise ConfigError("give --track FOLDER (a local MLflow store) or --tracking-uri URI "
                          "(a tracking server), not both" if where is not None else
                          "no MLflow store: give --track FOLDER or --tracking-uri URI")
    uri = store_uri(where) if where is not None else server_uri(str(server))
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise ConfigError(NEEDS_MLFLOW) from None
    if uri.split(":", 1)[0].split("+", 1)[0] in SQL_SCHEMES and not _sql_store_installed():
        raise ConfigError(f"--tracking-uri {uri}: MLflow's SQL store needs sqlalchemy and "
                          "alembic: pip install 'personae[mlflow]'")
    return uri


def default_store() -> str:
    """The store MLflow itself would log to here: ``MLFLOW_TRACKING_URI`` when set, else its
    default (since MLflow 3.7 ``sqlite:///mlflow.db`` in the working directory)."""
    try:
        import mlflow
    except ImportError:
        raise ConfigError(NEEDS_MLFLOW) from None
    return str(mlflow.get_tracking_uri())


# MLflow's database stores (its DATABASE_ENGINES): sqlite:///mlflow.db is its default
# since 3.7; mlflow-skinny serves them only with sqlalchemy and alembic beside it.
SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def _sql_store_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) for name in ("sqlalchemy", "alembic"))


def store_uri(where: str | Path) -> str:
    """A local folder as a ``file:`` URI; a server's URI is refused (it takes
    ``--tracking-uri``, so data leaves the machine only when asked in so many words)."""
    text = str(where)
    if text.startswith("file:"):
        return text
    if _is_uri(text):
        raise ConfigError(f"--track takes a local folder (or a file: URI); got {text!r}: "
                          "for a tracking server use --tracking-uri")
    return Path(text).resolve().as_uri()


def server_uri(uri: str) -> str:
    """An MLflow tracking URI as given (a plain path is a local folder)."""
    if not uri.strip():
        raise ConfigError("--tracking-uri is empty; give e.g. http://localhost:5000")
    return uri if _is_uri(uri) or uri == "databricks" else store_uri(uri)


def _is_uri(text: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text)) or text.startswith("file:")


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - len(CUT)] + CUT


@contextmanager
def _file_store_allowed() -> Iterator[None]:
    previous = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = previous


def file_hash(path: str | Path) -> str | None:
    """sha256 of the first MiB and the size of a file (cheap, and enough to tell inputs
    apart); None when it is not a file."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        digest.update(handle.read(HASH_BYTES))
    digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()[:16]


def _metric_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", text)[:250]


def _numbers(prefix: str, values: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in values.items():
        if isinstance(value, bool):
            value = float(value)
        if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
            out[_metric_name(f"{prefix}{key}")] = float(value)
    return out


def _log(uri: str, run_name: str, params: dict[str, Any], metrics: dict[str, float],
         tags: dict[str, str], artifacts: list[tuple[Path, str | None]]) -> str:
    from mlflow.exceptions import MlflowException

    try:
        return _log_batches(uri, run_name, params, metrics, tags, artifacts)
    except MlflowException as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"MLflow store {uri}: {message}") from None


def _log_batches(uri: str, run_name: str, params: dict[str, Any],
                 metrics: dict[str, float], tags: dict[str, str],
                 artifacts: list[tuple[Path, str | None]]) -> str:
    from mlflow.entities import Metric, Param, RunTag

    with _file_store_allowed():
        client = _client(uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        experiment_id = experiment.experiment_id if experiment is not None else \
            client.create_experiment(EXPERIMENT)
        run = client.create_run(experiment_id, run_name=run_name)
        run_id = run.info.run_id
        stamp = int(run.info.start_time)
        items = [Param(k, _cut(str(v), MAX_PARAM_VALUE)) for k, v in params.items()]
        for start in range(0, len(items), MAX_PARAMS):
            client.log_batch(run_id, params=items[start:start + MAX_PARAMS])
        points = [Metric(k, v, stamp, 0) for k, v in metrics.items()]
        for start in range(0, len(points), MAX_METRICS):
            client.log_batch(run_id, metrics=points[start:start + MAX_METRICS])
        labels = [RunTag(k, _cut(str(v), MAX_TAG_VALUE)) for k, v in tags.items()]
        for start in range(0, len(labels), MAX_TAGS):
            client.log_batch(run_id, tags=labels[start:start + MAX_TAGS])
        for path, folder in artifacts:
            if path.is_dir():
                client.log_artifacts(run_id, str(path), folder)
            elif path.is_file():
                client.log_artifact(run_id, str(path), folder)
        client.set_terminated(run_id)
    log.info("tracked %s as MLflow run %s in %s", run_name, run_id, uri)
    return str(run_id)


def track_run(run_dir: str | Path, where: str | Path) -> str:
    """Log a finished run folder to ``where`` (a local folder or a ``check_store`` URI);
    returns the MLflow run id."""
    from personae.data.run_folder import load_run

    folder = Path(run_dir)
    info = load_run(folder).info
    segments = info.get("segments", {})
    metrics = _numbers("", {"users": info.get("input", {}).get("users"),
                            "segments": segments.get("k"),
                            "edge_users": segments.get("edge_users"),
                            "novel_users": segments.get("novel_users")})
    for i, (size, share) in enumerate(zip(segments.get("sizes", []),
                                          segments.get("shares", []), strict=False)):
        metrics.update(_numbers(f"segment_{i}.", {"size": size, "share": share}))
    metrics.update(_numbers("", info.get("metrics") or {}))
    stability = info.get("stability") or {}
    metrics.update(_numbers("stability.", {k: v for k, v in stability.items()
                                           if not isinstance(v, (list, dict))}))
    levels = info.get("levels") or {}  # persona levels: how many, how stable, separated
    metrics.update(_numbers("levels.", {
        "personas": levels.get("personas"), "stability_ari": levels.get("stability_ari"),
        **{f"separation.{k}": v for k, v in (levels.get("separation") or {}).items()}}))
    config = info.get("config", {})
    # run.json's config has sections; the segmentation settings are the run's parameters
    flat = {**{f"{section}.{k}": v for section in ("input", "report")
               for k, v in (config.get(section) or {}).items()},
            **(config.get("segmentation") or {})}
    params = {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in flat.items()}
    params["algorithm"] = info.get("algorithm", {}).get("name")
    params["features_used"] = ",".join(info.get("features_used", []))
    source = info.get("input", {}).get("source", "")
    tags = {"personae.kind": "run", "personae.version": __version__,
            "personae.input": source, "personae.input_hash": file_hash(source) or "n/a"}
    artifacts: list[tuple[Path, str | None]] = [
        (folder / name, None) for name in ("run.json", "segment_profiles.csv",
                                           "k_selection.csv", "personas.json", "report.html")]
    artifacts.append((folder / "model", "model"))
    return _log(_uri(where), f"run {folder.name}", params, metrics, tags, artifacts)


def _uri(where: str | Path) -> str:
    """A URI ``check_store`` returned, or a local folder."""
    text = str(where)
    return text if _is_uri(text) or text == "databricks" else store_uri(text)


def track_monitor(result: Any, out_dir: str | Path, where: str | Path) -> str:
    """Log a monitor or compare result (and its written folder); returns the run id."""
    summary = result.summary
    metrics = _numbers("", {"new_users": summary.get("new_users"),
                            "reference_users": summary.get("reference_users"),
                            "novel_share": summary.get("novel_share"),
                            "stayed_share": summary.get("stayed_share"),
                            "users_in_both": summary.get("users_in_both"),
                            "segment_psi": result.shift.psi,
                            "retrain": result.governance.retrain,
                            "suggestions": len(result.governance.suggestions)})
    metrics.update(_numbers("drift_count.", summary.get("drift_counts", {})))
    for row in result.drift.itertuples():
        metrics.update(_numbers(f"feature.{row.feature}.", {"psi": row.psi,
                                                           "effect": row.effect}))
    for row in result.segment_shift.itertuples():
        metrics.update(_numbers(f"segment_{row.segment}.", {"share": row.new_share,
                                                            "share_change": row.share_change}))
    refit = summary.get("refit")
    if refit:  # monitor --refit: what a retrain would change
        metrics.update(_numbers("refit.", {k: refit.get(k) for k in (
            "segments", "stayed_share", "segment_psi", "retrain")}))
        metrics.update(_numbers("refit.fate.", refit.get("fates", {})))
    kind = summary.get("kind", "monitor")
    params = {k: summary[k] for k in ("run", "new_input", "run_a", "run_b", "events",
                                      "reference") if k in summary}
    source = summary.get("new_input") or summary.get("run_b") or ""
    tags = {"personae.kind": kind, "personae.version": __version__,
            "personae.input": str(source),
            "personae.input_hash": file_hash(source) or "n/a",
            "personae.retrain": "yes" if result.governance.retrain else "no"}
    return _log(_uri(where), f"{kind} {Path(out_dir).name}", params, metrics, tags,
                [(Path(out_dir), None)])
