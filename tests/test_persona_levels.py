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


def _two_groups_and_identical_users(n: int = 1_500) -> pd.DataFrame:
    """Three groups of users; the third are ``n`` identical rows (one-visit users, say)."""
    rng = np.random.default_rng(0)
    spread = np.vstack([rng.lognormal([3, 1, 2], 0.5, size=(n, 3)),
                        rng.lognormal([5, 2, 1], 0.5, size=(n, 3))])
    identical = np.tile([[37.3, 1.0, 0.0]], (n, 1))
    frame = pd.DataFrame(np.vstack([spread, identical]), columns=["spend", "visits", "minutes"])
    frame.insert(0, "user_id", [f"u{i}" for i in range(len(frame))])
    return frame


def test_identical_users_stay_in_their_persona_in_the_run_and_the_saved_model(
        tmp_path: Path) -> None:
    # their persona's far limit was ~0 (levels.json far_distance 6e-05): placed again by
    # the saved centres (rounded to 6 decimals) every one of them became an edge user
    frame = _two_groups_and_identical_users()
    identical = frame.index >= 3_000
    result = segment(frame, persona_levels=True, algorithm="kmeans", stability=False,
                     random_state=0)
    persona = result.labels[identical]
    assert persona.min() >= 0 and len(set(persona)) == 1
    assert (result.labels == -1).mean() <= 0.02  # the edge rule's cap holds
    result.save(tmp_path / "run")
    model = SegmentModel.load(tmp_path / "run" / "model")
    assert np.array_equal(model.predict(frame), result.labels)
    far = model.levels_["far_distance"][int(persona[0])]
    assert far > 1e-4  # a limit a saved model can place the persona's own members inside
