"""The registry of clustering algorithms personae can fit, save and apply to new users.

Every algorithm is a small class with one contract (``_base.Segmenter``): ``fit(X)``
learns state and sets ``labels_`` (through ``predict``, so fit and predict agree);
``predict(X)`` gives new users a segment; ``to_state`` / ``from_state`` round-trip the
learned state through JSON parameters and numpy arrays (no pickle). Segments are numbered
by size, largest first; ``-1`` marks edge users (noise) of the density methods.

    >>> from personae.cluster import make_segmenter
    >>> seg = make_segmenter("gmm", random_state=0).fit(X)
    >>> seg.labels_, seg.predict_proba(X), seg.resolved_params_, seg.why_
"""

from __future__ import annotations

import importlib
from typing import Any

from personae.errors import ConfigError

# name -> (module, class): a class is imported when first asked for, so loading a K-means
# model imports kmeans.py alone, not the density and hierarchy methods' libraries.
REGISTRY: dict[str, tuple[str, str]] = {
    "kmeans": ("personae.cluster.kmeans", "KMeansSegmenter"),
    "minibatch": ("personae.cluster.kmeans", "MiniBatchSegmenter"),
    "gmm": ("personae.cluster.mixture", "GaussianMixtureSegmenter"),
    "dbscan": ("personae.cluster.density", "DBSCANSegmenter"),
    "hdbscan": ("personae.cluster.density", "HDBSCANSegmenter"),
    "hierarchical": ("personae.cluster.hierarchy", "HierarchicalSegmenter"),
    "meanshift": ("personae.cluster.density", "MeanShiftSegmenter"),
    "kprototypes": ("personae.cluster.categorical", "KPrototypesSegmenter"),
    "bisecting": ("personae.cluster.bisecting", "BisectingSegmenter"),
}


def algorithm_names() -> list[str]:
    """Every algorithm name ``--algorithm`` accepts, ``auto`` last."""
    return [*REGISTRY, "auto"]


def algorithm_class(name: str) -> type[Any]:
    try:
        module, cls = REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown algorithm {name!r}; choose one of "
                          f"{', '.join(algorithm_names())}") from None
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def make_segmenter(name: str, **params: Any) -> Any:
    """An unfitted segmenter of the named algorithm; parameters are checked at ``fit``."""
    return algorithm_class(name)(**params)


def describe(name: str) -> dict[str, str]:
    """Parameter -> what it accepts, for help texts and error messages."""
    cls = algorithm_class(name)
    return {key: f"{spec.allowed()}; {spec.help}".rstrip("; ")
            for key, spec in cls.param_table().items()}


def parse_params(name: str, pairs: list[str] | None) -> dict[str, Any]:
    """``["eps=0.4", "min_samples=5"]`` -> typed parameters of ``name`` (``ConfigError`` lists
    the allowed ones on an unknown name or a value of the wrong type)."""
    if not pairs:
        return {}
    if name == "auto":
        raise ConfigError("--param needs a named --algorithm (auto chooses its own "
                          "parameters); got --algorithm auto")
    cls = algorithm_class(name)
    table = cls.param_table()
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--param takes KEY=VALUE; got {pair!r}")
        if key not in table or key == "k_range":
            allowed = ", ".join(sorted(k for k in table if k != "k_range"))
            raise ConfigError(f"{name} has no parameter {key!r}; its parameters are {allowed}")
        out[key] = table[key].parse(name, key, text)
    return out
