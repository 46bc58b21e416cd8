"""Known answers: a feature moved by one SD drifts significantly; the rest stay stable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitor.helpers import planted_users
from personae.errors import DataError
from personae.monitor._adapter import load_run
from personae.monitor.drift import category_drift, feature_drift, jensen_shannon
from personae.monitor.monitor import run_reference
from personae.monitor.reference import category_reference, numeric_reference


@pytest.fixture(scope="module")
def reference(run_a):
    return run_reference(load_run(run_a))[0]


def test_unchanged_data_does_not_drift(reference, planted):
    drift = feature_drift(reference, planted[0])
    assert (drift["psi"] == 0).all() and (drift["verdict"] == "stable").all()
    assert drift.loc[drift["kind"] == "numeric", "effect"].abs().max() == pytest.approx(0)


def test_planted_one_sd_shift_is_significant_and_only_it(reference):
    fresh, _ = planted_users(seed=7)
    fresh["m2"] += planted_sd(reference, "m2")
    drift = feature_drift(reference, fresh).set_index("feature")
    assert drift.loc["m2", "verdict"] == "significant"
    assert drift.loc["m2", "effect"] == pytest.approx(1.0, abs=0.1)  # Wasserstein in SDs
    others = drift.drop(index="m2")
    assert (others["verdict"] == "stable").all(), others
    assert drift.index[0] == "m2"  # most drifted first


def planted_sd(reference, name):
    return next(f.sd for f in reference.numeric if f.name == name)


def test_new_missing_values_and_category_levels_count_as_drift():
    values = np.arange(1000, dtype=float)
    from personae.monitor.drift import numeric_drift

    ref = numeric_reference("x", values)
    later = values.copy()
    later[:300] = np.nan
    row = numeric_drift(ref, later, 1000)
    assert row["new_missing"] == pytest.approx(0.3) and row["psi"] > 0.25
    cats = category_reference("plan", pd.Series(["a"] * 50 + ["b"] * 50))
    row = category_drift(cats, pd.Series(["a"] * 50 + ["c"] * 50), 100)
    assert row["psi"] > 0.25 and row["top_bin_change"].startswith(("b:", "(new level)"))
    assert row["effect"] == pytest.approx(0.5, abs=0.01)


def test_jensen_shannon_is_zero_for_same_and_one_for_disjoint():
    assert jensen_shannon(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


def test_a_model_column_missing_from_the_new_data_is_named(reference, planted):
    with pytest.raises(DataError, match="new.csv: column 'm1' used by the model is missing"):
        feature_drift(reference, planted[0].drop(columns=["m1"]), "new.csv")


def test_text_that_is_not_a_number_names_its_row(reference, planted):
    bad = planted[0].astype({"m0": object})
    bad.loc[5, "m0"] = "lots"
    with pytest.raises(DataError, match=r"new.csv: column 'm0', row 6: 'lots' is not a number"):
        feature_drift(reference, bad, "new.csv")


def test_sorted_quantiles_equal_numpys():
    from personae.monitor.drift import sorted_quantiles
    from personae.monitor.reference import QUANTILE_GRID

    values = np.random.default_rng(3).lognormal(size=12_345)
    np.testing.assert_allclose(sorted_quantiles(values), np.quantile(values, QUANTILE_GRID))


def test_bin_counts_match_searchsorted_with_ties_on_the_edges():
    from personae.monitor.drift import bin_counts

    values = np.array([0, 0, 0, 1, 2, 2, 3, 5, 8, 8, 9], dtype=float)
    edges = (0.0, 2.0, 8.0)
    expected = np.bincount(np.searchsorted(np.asarray(edges), values, side="left"),
                           minlength=4)
    np.testing.assert_array_equal(bin_counts(edges, values), expected)
    assert bin_counts((), values).tolist() == [11.0]
