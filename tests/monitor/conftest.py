"""A run folder fitted once per module on planted users."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import personae
from monitor.helpers import planted_users


@pytest.fixture(scope="package")
def planted() -> tuple[pd.DataFrame, np.ndarray]:
    return planted_users()


@pytest.fixture(scope="package")
def run_a(tmp_path_factory: pytest.TempPathFactory,
          planted: tuple[pd.DataFrame, np.ndarray]) -> Path:
    folder = tmp_path_factory.mktemp("runs") / "run_a"
    personae.segment(planted[0], k=3, algorithm="kmeans").save(folder)
    return folder
