"""One local[2] SparkSession per test module, small and quiet; skipped without pyspark/Java."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest


def _spark_or_skip() -> None:
    pytest.importorskip("pyspark", reason="the Spark engine needs personae[spark]")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("the Spark engine needs Java 17 (no java on PATH, no JAVA_HOME)")


@pytest.fixture(scope="module")
def spark(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The module's session; a module's ``SPARK_CONF`` dict adds to (or overrides) the
    settings below (the JVM is the process's, so only what a new SparkContext reads)."""
    _spark_or_skip()
    import warnings

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # pyspark's builder keeps every option it was given (one shared builder), so a key a
    # module overrides has its default here, or the next module's session inherits it
    conf = {"spark.driver.memory": "1g", "spark.driver.maxResultSize": "1g",
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "2", "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false", "spark.sql.session.timeZone": "UTC",
            **getattr(request.module, "SPARK_CONF", {})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        builder = SparkSession.builder.master("local[2]").appName("personae-tests")
        for key, value in conf.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
