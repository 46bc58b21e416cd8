from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from personae.errors import ModelFileError
from personae.model import SegmentModel
from personae.monitor.reference import (
    OTHER,
    Reference,
    build_reference,
    category_reference,
    numeric_reference,
)


def test_decile_edges_merge_ties_and_keep_training_shares():
    values = np.concatenate([np.zeros(400), np.arange(1, 601, dtype=float)])
    ref = numeric_reference("orders", values)
    assert ref.edges[0] == 0.0 and len(ref.edges) == len(set(ref.edges)) == 6
    assert ref.shares[0] == pytest.approx(0.4)  # every zero in one bin
    assert sum(ref.shares) == pytest.approx(1.0)
    assert ref.missing_share == 0.0


def test_missing_values_get_their_own_share():
    values = np.array([1.0, 2.0, np.nan, 4.0] * 50)
    ref = numeric_reference("x", values)
    assert ref.missing_share == pytest.approx(0.25)
    assert sum(ref.shares) + ref.missing_share == pytest.approx(1.0)


def test_rare_levels_beyond_the_kept_ones_become_other():
    values = pd.Series([f"c{i}" for i in range(60)] + ["c0"] * 40)
    ref = category_reference("city", values)
    assert ref.levels[0] == "c0" and ref.levels[-1] == OTHER
    assert len(ref.levels) == 51 and sum(ref.shares) == pytest.approx(1.0)


def test_reference_round_trips_through_json_and_npz(run_a, planted):
    model = SegmentModel.load(run_a / "model")
    users = pd.read_parquet(run_a / "users_segmented.parquet")
    ref = build_reference(planted[0], users["segment"].to_numpy(), model)
    folder = run_a.parent / "copy_model"
    ref.save(folder)
    document = json.loads((folder / "reference.json").read_text())
    assert document["format"] == "personae.monitor-reference"
    back = Reference.load(folder)
    assert [f.name for f in back.numeric] == ["m0", "m1", "m2", "m3"]
    assert back.numeric[0].edges == ref.numeric[0].edges
    np.testing.assert_allclose(back.centroids, ref.centroids)
    np.testing.assert_allclose(back.numeric[2].quantiles, ref.numeric[2].quantiles)
    assert back.segment_sizes == ref.segment_sizes and sum(back.segment_sizes) == 2400
    assert back.categorical[0].levels == ("basic", "gold")
    with np.load(folder / "reference.npz", allow_pickle=False) as arrays:
        assert arrays["centroids"].dtype == np.float64


def test_missing_or_foreign_reference_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="reference.json: missing"):
        Reference.load(tmp_path)
    (tmp_path / "reference.json").write_text('{"format": "something else"}')
    with pytest.raises(ModelFileError, match="not a personae monitoring reference"):
        Reference.load(tmp_path)
    (tmp_path / "reference.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        Reference.load(tmp_path)
