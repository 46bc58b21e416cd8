"""Distinguishing features: effect sizes and corrected tests against scipy's own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from personae.features.table import TablePreprocessor
from personae.profile.segments import (
    PROFILE_COLUMNS,
    benjamini_hochberg,
    distinguishing,
    model_space,
    segment_profiles,
)


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, np.ndarray, TablePreprocessor]:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], [200, 150, 50])
    frame = pd.DataFrame({
        "user_id": np.arange(400),
        "a": rng.normal(np.array([0.0, 1.0, 0.05])[labels], 1.0),
        "b": rng.normal(0.0, 1.0, 400),  # no difference anywhere
        "plan": np.where(labels == 2, "pro", rng.choice(["free", "basic"], 400)),
    })
    pre = TablePreprocessor(id_column="user_id", log_transform=False).fit(frame)
    return frame, labels, pre


def test_welch_and_cohens_d_match_scipy(table) -> None:
    frame, labels, pre = table
    profiles = segment_profiles(pre.clean(frame), labels, pre)
    assert list(profiles.columns) == PROFILE_COLUMNS
    scaled = model_space(pre.clean(frame), pre)["a"].to_numpy()
    inside, rest = scaled[labels == 1], scaled[labels != 1]
    row = profiles[(profiles["segment"] == 1) & (profiles["feature"] == "a")].iloc[0]
    expected_p = stats.ttest_ind(inside, rest, equal_var=False).pvalue
    pooled = np.sqrt(((len(inside) - 1) * inside.var(ddof=1) + (len(rest) - 1)
                      * rest.var(ddof=1)) / (len(scaled) - 2))
    assert row["p_value"] == pytest.approx(expected_p, rel=1e-6)
    assert row["effect_size"] == pytest.approx((inside.mean() - rest.mean()) / pooled, rel=1e-6)
    assert row["rest_mean"] == pytest.approx(frame["a"][labels != 1].mean())
    assert row["test"] == "Welch t"


def test_categories_get_share_difference_lift_and_a_proportion_test(table) -> None:
    frame, labels, pre = table
    profiles = segment_profiles(pre.clean(frame), labels, pre)
    row = profiles[(profiles["segment"] == 2) & (profiles["feature"] == "plan=pro")].iloc[0]
    rest_share = (frame["plan"][labels != 2] == "pro").mean()
    assert row["effect_size"] == pytest.approx(1.0 - rest_share)
    assert row["lift"] == pytest.approx(1.0 / rest_share) if rest_share else np.isnan(row["lift"])
    assert row["test"] == "two-proportion z"
    assert row["distinguishing"]


def test_corrected_for_the_number_of_comparisons(table) -> None:
    frame, labels, pre = table
    profiles = segment_profiles(pre.clean(frame), labels, pre)
    np.testing.assert_allclose(profiles["p_adjusted"],
                               stats.false_discovery_control(profiles["p_value"]), rtol=1e-9)
    assert (profiles["p_adjusted"] >= profiles["p_value"]).all()
    # no difference in b: never distinguishing
    assert not profiles.loc[profiles["feature"] == "b", "distinguishing"].any()


def test_benjamini_hochberg_by_hand() -> None:
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5])),
                               [0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_distinguishing_strongest_first(table) -> None:
    frame, labels, pre = table
    profiles = segment_profiles(pre.clean(frame), labels, pre)
    top = distinguishing(profiles, 1)
    assert top["feature"].iloc[0] == "a"
    assert top["distinguishing"].all()
