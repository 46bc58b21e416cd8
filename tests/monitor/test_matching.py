"""Known answers: unchanged segments survive with their ids; a planted split and a planted
merge are named exactly; a new group emerges; an emptied one disappears."""

from __future__ import annotations

import numpy as np

from personae.monitor.matching import centroid_distance, match_segments, overlap_counts

SD = np.ones(2)


def _match(old_labels, new_labels, old_centres, new_centres):
    old_s = sorted(set(old_labels.tolist()))
    new_s = sorted(set(new_labels.tolist()))
    counts = overlap_counts(old_labels, new_labels, old_s, new_s)
    distance = centroid_distance(np.asarray(old_centres, float), np.asarray(new_centres,
                                                                            float), SD)
    return match_segments(old_s, new_s, distance, counts)


def test_unchanged_segments_survive_with_the_same_ids_even_when_relabelled():
    old = np.repeat([0, 1, 2], 100)
    new = np.repeat([2, 0, 1], 100)  # the refit numbered them differently
    m = _match(old, new, [[0, 0], [5, 0], [0, 5]], [[5, 0], [0, 5], [0, 0]])
    assert (m.fates["fate"] == "survives").all()
    assert m.ids == {2: 0, 0: 1, 1: 2}
    assert m.fates["new_segments"].tolist() == ["2", "0", "1"]


def test_planted_split_is_named_as_a_split():
    old = np.repeat([0, 1, 2], 100)
    new = np.repeat([0, 3, 1, 2], [55, 45, 100, 100])  # old 0 -> new 0 and 3
    m = _match(old, new, [[0, 0], [5, 0], [0, 5]],
               [[0, -1], [5, 0], [0, 5], [0, 1]])
    fates = m.fates.set_index("old_segment")
    assert fates.loc[0, "fate"] == "splits into" and fates.loc[0, "new_segments"] == "0;3"
    assert fates.loc[1, "fate"] == fates.loc[2, "fate"] == "survives"
    assert "emerges" not in set(m.fates["fate"])
    assert m.ids[0] == 0 and m.ids[3] == 3  # the larger part keeps the id


def test_planted_merge_is_named_as_absorption():
    old = np.repeat([0, 1, 2], 100)
    new = np.repeat([0, 1, 1], 100)  # old 1 and 2 become new 1
    m = _match(old, new, [[0, 0], [5, 0], [0, 5]], [[0, 0], [2.5, 2.5]])
    fates = m.fates.set_index("old_segment")
    assert fates.loc[0, "fate"] == "survives"
    assert fates.loc[1, "fate"] == fates.loc[2, "fate"] == "absorbed into"
    assert fates.loc[1, "new_segments"] == fates.loc[2, "new_segments"] == "1"
    assert len(m.fates) == 3


def test_a_merge_into_one_of_the_two_keeps_that_one_alive():
    old = np.repeat([0, 1, 2], 100)
    new = np.repeat([0, 1, 1], 100)  # old 2 moves onto old 1
    m = _match(old, new, [[0, 0], [5, 0], [0, 5]], [[0, 0], [5, 0.1]])
    fates = m.fates.set_index("old_segment")["fate"].to_dict()
    assert fates == {0: "survives", 1: "survives", 2: "absorbed into"}
    assert m.ids == {0: 0, 1: 1}


def test_a_persona_whose_users_moved_survives_by_its_centroid():
    old = np.repeat([0, 1], 100)
    new = np.repeat([0, 1], 100)
    new[100:190] = 0  # most of old 1's users now behave like segment 0 ...
    m = _match(old, new, [[0, 0], [5, 0]], [[0.5, 0], [5.2, 0]])  # ... but 1 is still there
    fates = m.fates.set_index("old_segment")
    assert fates.loc[1, "fate"] == "survives" and fates.loc[1, "new_segments"] == "1"
    assert fates.loc[1, "users_followed"] == 0.1 and m.ids == {0: 0, 1: 1}


def test_a_new_group_emerges_and_an_emptied_one_disappears():
    old = np.repeat([0, 1, 2], 100)
    new = np.repeat([0, 1, 2], 100)
    new[200:] = np.repeat([0, 1, 3], [34, 33, 33])  # old 2 scatters; none keeps half
    m = _match(old, new, [[0, 0], [5, 0], [0, 5]], [[0, 0], [5, 0], [9, 9]])
    fates = m.fates
    assert fates.loc[fates["old_segment"] == 2, "fate"].item() == "disappears"
    assert fates.loc[fates["fate"] == "emerges", "new_segments"].tolist() == ["3"]


def test_without_common_users_centroids_decide():
    distance = centroid_distance(np.array([[0.0, 0.0], [5.0, 5.0]]),
                                 np.array([[5.1, 5.0], [0.1, 0.0], [20.0, 0.0]]), SD)
    m = match_segments([0, 1], [0, 1, 2], distance, None)
    assert m.ids[1] == 0 and m.ids[0] == 1 and m.ids[2] == 2
    assert m.fates["fate"].tolist() == ["survives", "survives", "emerges"]
