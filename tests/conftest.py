"""Shared fixtures: generated users with a known number of segments, and real data paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from generated import blob_users

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def blobs() -> tuple[pd.DataFrame, np.ndarray]:
    return blob_users()


@pytest.fixture
def blobs_csv(tmp_path: Path, blobs: tuple[pd.DataFrame, np.ndarray]) -> Path:
    path = tmp_path / "users.csv"
    blobs[0].to_csv(path, index=False)
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
