"""What a fit runs before clustering: the K values worth trying, the algorithm and its
parameters (as given, or chosen by ``auto``), and the id-hash order every sample is drawn
from."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from personae.cluster._base import MIN_SEGMENT_USERS
from personae.cluster.algorithms import algorithm_class
from personae.config import SegmentSettings
from personae.errors import DataError

if TYPE_CHECKING:  # the comparison is imported by choose(): assigning users never runs it
    from concurrent.futures import Executor

    from personae.cluster.auto import AlgorithmChoice

log = logging.getLogger(__name__)


def sample_rows(ids: pd.Series, size: int, random_state: int) -> np.ndarray:
    """Row positions of a sample chosen by a hash of each user's id, not by row position.

    The same users are drawn whatever the order of the rows, so a shuffled file gives the
    same segments.
    """
    key = f"personae{random_state:08d}"[-16:].rjust(16, "0")
    hashes = pd.util.hash_pandas_object(ids, index=False, hash_key=key).to_numpy()
    if size >= len(ids):
        return np.argsort(hashes, kind="stable")
    chosen = np.argpartition(hashes, size)[:size]
    return chosen[np.argsort(hashes[chosen], kind="stable")]


def k_candidates(k: int | str, k_range: tuple[int, int], n_users: int, source: str
                 ) -> list[int]:
    """The K values a fit may choose among. A segment of a handful of users is no base for
    a persona, and the stability check refits on half the users: every K tried leaves
    MIN_SEGMENT_USERS users per segment on average."""
    if isinstance(k, int):
        if k * MIN_SEGMENT_USERS > n_users:
            raise DataError(f"K={k} needs at least {k * MIN_SEGMENT_USERS} users "
                            f"({MIN_SEGMENT_USERS} per segment); the input has {n_users}",
                            source=source)
        return [k]
    low, high = k_range
    if low * MIN_SEGMENT_USERS > n_users:
        raise DataError(f"{n_users} users are too few to segment: {low} segments of at "
                        f"least {MIN_SEGMENT_USERS} users need {low * MIN_SEGMENT_USERS}",
                        source=source)
    return list(range(low, min(high, n_users // MIN_SEGMENT_USERS) + 1))


def choose(cfg: SegmentSettings, sample: np.ndarray, k_values: list[int], preprocessor: Any,
           helper: Executor | None = None
           ) -> tuple[str, dict[str, Any], AlgorithmChoice | None]:
    """The algorithm and its parameters: as given, or compared by ``auto`` on ``sample``
    (the model matrix's first ``cfg.auto.rows`` users in the id-hash order; then also what
    the comparison found), with ``helper`` when given (``comparison_helper``)."""
    n_clusters = k_values[0] if isinstance(cfg.k, int) else None
    k_range = (k_values[0], k_values[-1])
    blocks = categorical_blocks(preprocessor)
    extra = {"kprototypes": {"categorical_blocks": blocks}}
    choice: AlgorithmChoice | None = None
    name = cfg.algorithm
    params = dict(cfg.params or {})
    if name == "auto":
        from personae.cluster.auto import CANDIDATES, candidates_for
        from personae.cluster.auto import choose_algorithm as compare_algorithms

        share = len(preprocessor.categorical_) / max(preprocessor.n_features_in_, 1)
        candidates = candidates_for(share) if blocks else CANDIDATES
        log.info("choosing among %s on %d users", ", ".join(candidates),
                 len(sample))
        choice = compare_algorithms(
            sample, candidates=candidates, k_range=k_range,
            n_clusters=n_clusters, extra=extra, random_state=cfg.random_state,
            numeric_columns=np.arange(len(preprocessor.numeric_)), rules=cfg.auto,
            helper=helper)
        name = choice.name
        # The winner keeps the K it found on the sample (no second K search).
        params.update(choice.params)
    cls = algorithm_class(name)
    if cls.uses_k:
        params.setdefault("n_clusters", n_clusters)
        params.setdefault("k_range", k_range)
    params.setdefault("random_state", cfg.random_state)
    params.update(extra.get(name, {}))
    return name, params, choice


def categorical_blocks(preprocessor: Any) -> list[list[int]]:
    """``[start, stop)`` of each category's one-hot block in the preprocessed matrix."""
    blocks, position = [], len(preprocessor.numeric_)
    for name in sorted(preprocessor.categorical_):
        width = len(preprocessor.categorical_[name]) + 1
        blocks.append([position, position + width])
        position += width
    return blocks
