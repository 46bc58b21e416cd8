"""Prometheus metrics of one app: requests, latency, assignments per segment, novel users.

Each app has its own registry (tests start several apps in one process). With
``--workers N`` every worker process counts its own requests; ``run_server`` then points
``PROMETHEUS_MULTIPROC_DIR`` at a shared folder and ``/metrics`` adds up all workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

ENDPOINTS = ("/assign", "/assign/events", "/segments", "/personas", "/health", "/ready",
             "/metrics")
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    assignments: Counter
    novel: Counter
    reloads: Counter
    model_users: Gauge
    _assigned: dict[tuple[int | None, str], Any] = field(default_factory=dict)

    def count_assigned(self, segment: int | None, source: str, count: int) -> None:
        """Users assigned to ``segment`` (the labelled child is looked up once)."""
        child = self._assigned.get((segment, source))
        if child is None:
            child = self._assigned[(segment, source)] = self.assignments.labels(str(segment),
                                                                                source)
        child.inc(count)

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def endpoint_label(path: str) -> str:
    """Known routes by name; anything else is ``other`` (no label per random path)."""
    return path if path in ENDPOINTS else "other"


def make_metrics() -> Metrics:
    registry = CollectorRegistry(auto_describe=True)
    return Metrics(
        registry=registry,
        requests=Counter("personae_requests", "HTTP requests answered",
                         ["endpoint", "status"], registry=registry),
        latency=Histogram("personae_request_seconds", "Time to answer a request",
                          ["endpoint"], buckets=BUCKETS, registry=registry),
        assignments=Counter("personae_assignments", "Users assigned, per segment and model",
                            ["segment", "source"], registry=registry),
        novel=Counter("personae_novel_users", "Users farther from every segment than "
                      "almost all training users", registry=registry),
        reloads=Counter("personae_model_reloads", "Model folder reloads", ["outcome"],
                        registry=registry),
        model_users=Gauge("personae_model_training_users", "Training users of the model "
                          "answering now", registry=registry, multiprocess_mode="max"),
    )
