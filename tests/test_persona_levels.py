"""--persona-levels: the segments a team can act on, from the run to the saved model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from personae import SegmentModel, segment


def _continuum_with_far_users(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """One heavy-tailed cloud (no natural groups) and 1% of far users."""
    rng = np.random.default_rng(seed)
    spend = rng.lognormal(3.0, 1.0, n)
    visits = rng.lognormal(1.5, 0.8, n)
    recency = rng.gamma(2.0, 30.0, n)
    far = rng.choice(n, n // 100, replace=False)
    spend[far] *= 60
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "spend": spend,
                         "visits": visits, "recency_days": recency})


def test_a_continuum_gets_actionable_personas_and_says_it_is_a_continuum(tmp_path: Path
                                                                         ) -> None:
    frame = _continuum_with_far_users()
    result = segment(frame, persona_levels=True, random_state=0)
    sizes = pd.Series(result.labels[result.labels >= 0]).value_counts(normalize=True)
    assert 3 <= len(sizes) <= 8 and sizes.max() <= 0.60 and (sizes >= 0.05).sum() >= 3
    levels = result.info["levels"]
    assert levels["separation"]["verdict"] == "regions of a continuum"
    users = result.users
    assert {"broad_segment", "natural_segment"} <= set(users.columns)
    # every persona sits in exactly one broad group
    nested = users[users["segment"] >= 0].groupby("segment")["broad_segment"].nunique()
    assert (nested == 1).all()
    result.save(tmp_path / "run")
    model = SegmentModel.load(tmp_path / "run" / "model")
    assert np.array_equal(model.predict(frame), result.labels)
    assert np.array_equal(model.predict_natural(frame), users["natural_segment"].to_numpy())


def test_given_k_is_the_number_of_personas() -> None:
    result = segment(_continuum_with_far_users(900, seed=1), persona_levels=True, k=4,
                     algorithm="kmeans", stability=False)
    assert len(set(result.labels[result.labels >= 0])) == 4
