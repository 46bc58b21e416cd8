"""Clustering: one registry of algorithms, the choice among them, and their validation.

    >>> from personae.cluster import make_segmenter, choose_algorithm, bootstrap_stability
    >>> seg = make_segmenter("hdbscan").fit(X)          # labels_: -1 = edge users
    >>> seg.resolved_params_, seg.why_                    # automatic values, and why

Names load on first use: ``personae.config`` reads the rules modules
(``personae.cluster.auto_rules``, ``personae.cluster.levels.rules``) without importing
scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from personae._lazy import lazy_names

if TYPE_CHECKING:
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

_HOMES = {
    "algorithm_class": "personae.cluster.algorithms",
    "algorithm_names": "personae.cluster.algorithms",
    "describe": "personae.cluster.algorithms",
    "make_segmenter": "personae.cluster.algorithms",
    "parse_params": "personae.cluster.algorithms",
    "AlgorithmChoice": "personae.cluster.auto",
    "choose_algorithm": "personae.cluster.auto",
    "taxonomy": "personae.cluster.hierarchy",
    "Stability": "personae.cluster.validate",
    "balance": "personae.cluster.validate",
    "bootstrap_stability": "personae.cluster.validate",
    "dbcv": "personae.cluster.validate",
    "gaussian_bic": "personae.cluster.validate",
    "hollowness": "personae.cluster.validate",
    "quality": "personae.cluster.validate",
}

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


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
