"""Run the app under uvicorn: one process, or ``workers`` processes sharing the port."""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import tempfile
from typing import Any

from personae.errors import ConfigError
from personae.serve.app import ServeConfig, create_app

log = logging.getLogger(__name__)


def run_server(config: ServeConfig, host: str = "127.0.0.1", port: int = 8000,
               workers: int = 1, log_level: str = "warning", access_log: bool = False) -> None:
    """Serve until interrupted. The model folder is loaded (and checked) before binding."""
    import uvicorn

    one_thread_per_worker()
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1; got {workers}")
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be in 0..65535; got {port}")
    if workers == 1:
        app = create_app(config)
        gc.freeze()  # the model and the app live as long as the process: keep them out of
        # every collection (a full one walked them all, in the p99 of single requests)
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log)
        return
    create_app(config)  # fail here, once, on a bad model folder
    metrics_dir = tempfile.mkdtemp(prefix="personae-metrics-")
    os.environ["PERSONAE_SERVE_CONFIG"] = json.dumps(config.__dict__)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run("personae.serve.server:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_level=log_level, access_log=access_log,
                    timeout_worker_healthcheck=60)  # a worker loads the model first
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def one_thread_per_worker() -> None:
    """One BLAS / OpenMP thread per server process: requests are small, and a pool of
    threads per request costs more than it saves (use ``--workers`` for more cores)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def app_from_env() -> Any:
    """The app for ``uvicorn --factory`` worker processes (``personae serve --workers N``):
    the settings come in ``PERSONAE_SERVE_CONFIG`` (JSON), written by ``run_server``."""
    one_thread_per_worker()
    settings = json.loads(os.environ["PERSONAE_SERVE_CONFIG"])
    app = create_app(ServeConfig(**settings))
    gc.freeze()  # as run_server does for one worker
    return app
