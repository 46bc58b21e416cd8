"""Monitoring and governance: drift against a model's training reference, segment shifts,
transitions, matching segments across refits, and merge/split/sunset/retrain suggestions."""

from personae.monitor.drift import feature_drift
from personae.monitor.governance import Governance
from personae.monitor.matching import Matching, match_segments
from personae.monitor.monitor import MonitorResult, compare, monitor
from personae.monitor.reference import Reference, build_reference

__all__ = [
    "Governance",
    "Matching",
    "MonitorResult",
    "Reference",
    "build_reference",
    "compare",
    "feature_drift",
    "match_segments",
    "monitor",
]
