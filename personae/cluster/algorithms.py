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

from typing import Any

from personae.cluster._base import Segmenter
from personae.cluster.bisecting import BisectingSegmenter
from personae.cluster.categorical import KPrototypesSegmenter
from personae.cluster.density import DBSCANSegmenter, HDBSCANSegmenter, MeanShiftSegmenter
from personae.cluster.hierarchy import HierarchicalSegmenter
from personae.cluster.kmeans import KMeansSegmenter, MiniBatchSegmenter
from personae.cluster.mixture import GaussianMixtureSegmenter
from personae.errors import ConfigError

REGISTRY: dict[str, type[Segmenter]] = {cls.name: cls for cls in (
    KMeansSegmenter, MiniBatchSegmenter, GaussianMixtureSegmenter, DBSCANSegmenter,
    HDBSCANSegmenter, HierarchicalSegmenter, MeanShiftSegmenter, KPrototypesSegmenter,
    BisectingSegmenter)}


def algorithm_names() -> list[str]:
    """Every algorithm name ``--algorithm`` accepts, ``auto`` last."""
    return [*REGISTRY, "auto"]


def algorithm_class(name: str) -> type[Any]:
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown algorithm {name!r}; choose one of "
                          f"{', '.join(algorithm_names())}") from None


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
