"""Each segment's median per column, computed by one sort of the users: what pandas'
grouped median gives, missing values and empty segments included."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from personae.profile.segments import _medians

values = st.one_of(st.just(float("nan")), st.floats(-1e6, 1e6), st.integers(-3, 3).map(float))


@given(rows=st.lists(st.tuples(st.integers(0, 4), values, values), min_size=1, max_size=60))
def test_segment_medians_are_pandas_grouped_medians(rows: list[tuple[int, float, float]]
                                                    ) -> None:
    frame = pd.DataFrame(rows, columns=["segment", "visits", "spend"])
    codes, uniques = pd.factorize(frame["segment"], sort=True)
    features = frame[["visits", "spend"]]
    expected = features.groupby(codes).median().to_numpy()
    assert np.array_equal(_medians(features, codes, len(uniques)), expected, equal_nan=True)
