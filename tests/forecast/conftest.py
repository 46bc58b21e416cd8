"""Fixtures of the forecast tests: CDNOW's sample and a run of a planted log."""

from __future__ import annotations

import pandas as pd
import pytest

from forecast.helpers import CDNOW, planted_log


@pytest.fixture(scope="session")
def cdnow_sample() -> pd.DataFrame:
    path = CDNOW / "cdnow_sample.parquet"
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    return pd.read_parquet(path)


@pytest.fixture(scope="session")
def forecast_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A run folder of the planted log (k-means, K=2), its log file and the truth."""
    from personae.config import EventsConfig, InputConfig, RunConfig
    from personae.pipeline import segment

    log, truth = planted_log()
    folder = tmp_path_factory.mktemp("forecast")
    path = folder / "log.parquet"
    log.to_parquet(path)
    config = RunConfig(input=InputConfig(path=str(path), events=EventsConfig()))
    result = segment(config=config, k=2, algorithm="kmeans", stability=False)
    result.save(folder / "run")
    return result, folder / "run", path, truth
