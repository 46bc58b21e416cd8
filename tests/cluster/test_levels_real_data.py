"""Persona levels on small slices of real behavioural data (the issue's reproductions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personae import SegmentModel
from personae.cluster.levels import persona_levels
from personae.features import from_events
from personae.features.semantics import feature_roles

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
RETAIL = DATA / "online_retail_ii" / "online_retail_ii_2009_2010.parquet"
HILLSTROM = DATA / "hillstrom" / "hillstrom.parquet"


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (expects ../shared beside the repo)")


def _matrix(table: pd.DataFrame) -> np.ndarray:
    model = SegmentModel(k=3, algorithm="kmeans", id_column="user_id").fit(table)
    return model.transform(table)


def _actionable(labels: np.ndarray) -> tuple[float, int]:
    counts = pd.Series(labels[labels >= 0]).value_counts() / len(labels)
    return float(counts.max()), int((counts >= 0.05).sum())


@pytest.mark.slow
def test_online_retail_events_get_actionable_personas_not_98_2():
    _need(RETAIL)
    lines = pd.read_parquet(RETAIL)
    ids = lines["Customer ID"].dropna().drop_duplicates().sample(800, random_state=0)
    features = from_events(lines[lines["Customer ID"].isin(ids)]).frame
    roles = feature_roles([c for c in features.columns if c != "user_id"])
    table = features[["user_id", *roles.drive]]
    lv = persona_levels(_matrix(table), np.zeros(len(table), int))
    largest, big = _actionable(lv.persona)
    assert largest <= 0.60 and big >= 3
    assert lv.separation.verdict == "regions of a continuum"
    assert lv.edge.mean() <= 0.03


@pytest.mark.slow
def test_hillstrom_customer_features_get_a_few_personas_not_19():
    _need(HILLSTROM)
    raw = pd.read_parquet(HILLSTROM).sample(3_000, random_state=0)
    table = raw[["recency", "history", "mens", "womens", "newbie", "channel"]].copy()
    table.insert(0, "user_id", np.arange(len(table)))
    lv = persona_levels(_matrix(table), np.zeros(len(table), int))
    largest, big = _actionable(lv.persona)
    assert 3 <= lv.n_personas <= 8 and largest <= 0.60 and big >= 3
    assert 2 <= len(set(lv.persona_to_broad.values())) <= 3
