from __future__ import annotations

import numpy as np
import pandas as pd

from personae.monitor.governance import SegmentState, govern, segment_suggestions


def _state(centroids, sizes, reference_shares, bimodality=None, reference_bc=None):
    k = len(sizes)
    return SegmentState(
        segments=list(range(k)), names={0: "Loyal regulars"}, sizes=np.asarray(sizes),
        reference_shares=np.asarray(reference_shares, dtype=float),
        centroids=np.asarray(centroids, dtype=float), space_sd=np.ones(2),
        space_features=["orders", "spend"],
        bimodality=np.asarray(bimodality if bimodality is not None else [0.3] * k),
        reference_bimodality=np.asarray(reference_bc if reference_bc is not None
                                        else [0.3] * k))


def test_two_near_identical_segments_are_suggested_for_merging():
    state = _state([[0.0, 0.0], [0.05, -0.1], [3.0, 3.0]], [300, 300, 400],
                   [0.3, 0.3, 0.4])
    merges = [s for s in segment_suggestions(state) if s["action"] == "merge"]
    assert [m["segments"] for m in merges] == [[0, 1]]
    assert "Loyal regulars and segment 1 no longer differ" in merges[0]["reason"]
    assert "spend" in merges[0]["reason"]


def test_distinct_segments_of_stable_size_get_no_suggestion():
    state = _state([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]], [300, 300, 400], [0.3, 0.3, 0.4])
    result = govern(state, pd.DataFrame({"feature": ["orders"], "psi": [0.01]}), 0.0, 0.0,
                    0.95)
    assert result.suggestions == [] and result.retrain is False
    assert result.retrain_reasons == ["no threshold crossed"]


def test_growth_bimodality_and_size_floor_give_split_and_sunset():
    state = _state([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]], [700, 296, 4], [0.3, 0.3, 0.4],
                   bimodality=[0.3, 0.8, 0.3], reference_bc=[0.3, 0.35, 0.3])
    by_action = {(s["action"], tuple(s["segments"])) for s in segment_suggestions(state)}
    assert by_action == {("split", (0,)), ("split", (1,)), ("sunset", (2,))}


def test_retrain_reasons_name_each_crossed_threshold():
    state = _state([[0.0, 0.0], [2.0, 0.0]], [500, 500], [0.5, 0.5])
    drift = pd.DataFrame({"feature": ["a", "b", "c", "d", "e"],
                          "psi": [0.3, 0.15, 0.12, 0.11, 0.01]})
    result = govern(state, drift, 0.2, 0.08, 0.5)
    text = " | ".join(result.retrain_reasons)
    assert result.retrain is True
    for part in ("drifted significantly (PSI >= 0.25): a", "3 features drifted moderately",
                 "PSI 0.200 >= 0.1", "8.0% of the users are novel", "only 50.0%"):
        assert part in text
