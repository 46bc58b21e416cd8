"""Features: clean user tables and derive per-user behaviour from event logs.

``from_events`` is imported on first use, so ``import personae`` stays light (no DuckDB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from personae.features.events import EventFeatures, from_events, write_features

__all__ = ["EventFeatures", "from_events", "write_features"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from personae.features import events

        return getattr(events, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
