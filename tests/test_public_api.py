from __future__ import annotations

import personae


def test_public_api_is_exactly_all() -> None:
    public = {name for name in dir(personae) if not name.startswith("_")}
    modules = {"choose", "cli", "cluster", "data", "describe", "errors", "features", "inputs",
               "model", "pipeline", "result",
               "profile", "report", "config", "serve", "monitor", "experiments", "spark",
               "forecast",
               "datasets"}
    assert public - modules == set(personae.__all__) - {"__version__"}
    assert personae.__all__ == sorted(personae.__all__)


def test_errors_share_one_root() -> None:
    for name in ("DataError", "ConfigError", "ModelFileError", "NotFittedError"):
        assert issubclass(getattr(personae, name), personae.PersonaeError)
