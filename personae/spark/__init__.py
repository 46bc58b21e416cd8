"""The Apache Spark engine: the same features and the same run when one machine is not
enough. pyspark is imported only inside this package (``pip install 'personae[spark]'``).

- :func:`from_events` / :func:`write_events_features`: per-user event features in Spark SQL,
  with the definitions of :mod:`personae.features.events`;
- :func:`run`: K and the algorithm chosen on a driver sample by personae's own rules, the
  full fit over everyone in pyspark.ml (KMeans, GaussianMixture) or as Spark aggregations
  (persona levels), profiles from every user, the same run folder and model format.

These are what ``engine="spark"`` calls (``personae features/run --engine spark``); the
embedded entry points are ``personae.features.from_events`` and ``personae.segment``.
"""

from __future__ import annotations

from personae.spark.events import from_events, write_events_features
from personae.spark.run import SparkRun, run
from personae.spark.session import DEFAULT_MASTER, spark_session

__all__ = ["DEFAULT_MASTER", "SparkRun", "from_events", "run", "spark_session",
           "write_events_features"]
