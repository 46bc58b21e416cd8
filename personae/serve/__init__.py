"""Real-time assignment over HTTP (the ``[serve]`` extra: FastAPI, uvicorn,
prometheus_client). FastAPI is imported only in this package.

    >>> from personae.serve import ServeConfig, create_app, run_server
    >>> run_server(ServeConfig(model_dir="runs/first/model"), port=8000)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from personae.serve.app import ServeConfig, create_app
    from personae.serve.server import run_server

__all__ = ["ServeConfig", "create_app", "run_server"]


def __getattr__(name: str) -> Any:
    if name in ("ServeConfig", "create_app"):
        from personae.serve import app

        return getattr(app, name)
    if name == "run_server":
        from personae.serve.server import run_server

        return run_server
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
