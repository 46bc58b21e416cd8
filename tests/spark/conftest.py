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
def spark() -> Iterator[Any]:
    _spark_or_skip()
    import warnings

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = (SparkSession.builder.master("local[2]").appName("personae-tests")
                   .config("spark.driver.memory", "1g")
                   .config("spark.sql.shuffle.partitions", "4")
                   .config("spark.default.parallelism", "2")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.session.timeZone", "UTC")
                   .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
