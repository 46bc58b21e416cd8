"""The Apache Spark engine: the same features and the same run when one machine is not
enough. pyspark is imported only inside this package (``pip install 'personae[spark]'``).

- :func:`from_events` / :func:`write_events_features`: per-user event features in Spark SQL,
  with the definitions of :mod:`personae.features.events`;
- :func:`segment_spark` / :func:`run`: K and the algorithm chosen on a driver sample by
  personae's own rules, K-means refined over everyone in Spark, the same run folder and
  model format.
"""

from __future__ import annotations

from personae.spark.events import from_events, write_events_features
from personae.spark.session import DEFAULT_MASTER, spark_session

__all__ = ["DEFAULT_MASTER", "from_events", "spark_session", "write_events_features"]
