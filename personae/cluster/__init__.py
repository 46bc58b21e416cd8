"""Clustering: one registry of algorithms, the choice among them, and their validation.

    >>> from personae.cluster import make_segmenter, choose_algorithm, bootstrap_stability
    >>> seg = make_segmenter("hdbscan").fit(X)          # labels_: -1 = edge users
    >>> seg.resolved_params_, seg.why_                    # automatic values, and why
"""

from personae.cluster.algorithms import (
    algorithm_class,
    algorithm_names,
    describe,
    make_segmenter,
    parse_params,
)
from personae.cluster.auto import AlgorithmChoice, choose_algorithm
from personae.cluster.hierarchy import taxonomy
from personae.cluster.validate import (
    Stability,
    balance,
    bootstrap_stability,
    dbcv,
    gaussian_bic,
    hollowness,
    quality,
)

__all__ = [
    "AlgorithmChoice",
    "Stability",
    "algorithm_class",
    "algorithm_names",
    "balance",
    "bootstrap_stability",
    "choose_algorithm",
    "dbcv",
    "describe",
    "gaussian_bic",
    "hollowness",
    "make_segmenter",
    "parse_params",
    "quality",
    "taxonomy",
]
