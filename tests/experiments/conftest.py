"""Fixtures: a generated run folder and experiment with a planted uplift per segment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from experiments.planted import planted, write_run


@pytest.fixture
def planted_run(tmp_path: Path) -> Callable[..., tuple[Path, pd.DataFrame]]:
    def make(seed: int = 0, **kwargs: object) -> tuple[Path, pd.DataFrame]:
        options = {"n_per_segment": {0: 3000, 1: 3000, 2: 3000},
                   "base": {0: 0.2, 1: 0.2, 2: 0.3},
                   "uplift": {0: 0.10, 1: 0.0, 2: -0.06}, **kwargs}
        users, experiment = planted(seed=seed, **options)  # type: ignore[arg-type]
        return write_run(tmp_path / f"run{seed}", users), experiment
    return make
