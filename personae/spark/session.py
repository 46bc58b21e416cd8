"""The SparkSession personae works in: the caller's, or one it starts and stops itself.

Every Spark computation of personae runs with the session time zone set to UTC (times are
UTC in the embedded engine too); a caller's session gets its previous setting back.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from personae.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    # the Python workers run the same interpreter (and personae) as the driver
    "spark.pyspark.python": sys.executable,
    "spark.pyspark.driver.python": sys.executable,
}


def require_pyspark() -> Any:
    """The pyspark module, or a ConfigError saying how to install it."""
    try:
        import pyspark
    except ImportError:
        raise ConfigError("the Spark engine needs pyspark: pip install 'personae[spark]'"
                          ) from None
    return pyspark


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return
    if shutil.which("java") is None:
        raise ConfigError("the Spark engine needs Java 17 or newer: install a JDK or set "
                          "JAVA_HOME")


@contextmanager
def spark_session(spark: Any = None, master: str | None = None,
                  conf: dict[str, str] | None = None) -> Iterator[Any]:
    """Yield a session: ``spark`` when given (left running), else an active one (left
    running), else a new one on ``master`` that is stopped on the way out."""
    require_pyspark()
    from pyspark.sql import SparkSession

    if spark is None:
        spark = SparkSession.getActiveSession()
        if spark is not None:
            logger.info("using the active SparkSession (%s)", spark.sparkContext.master)
    if spark is not None:
        previous = spark.conf.get("spark.sql.session.timeZone", None)
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        try:
            yield spark
        finally:
            if previous is not None:
                spark.conf.set("spark.sql.session.timeZone", previous)
        return
    _check_java()
    # the Python workers must run this interpreter (with personae and pandas), not python3
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master or DEFAULT_MASTER).appName("personae")
    for key, value in {**_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    logger.info("starting Spark on %s", master or DEFAULT_MASTER)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: a bad master URL, no Java...
        raise ConfigError(f"cannot start Spark on master {master or DEFAULT_MASTER!r}: "
                          f"{one_line(exc)}") from None
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
        logger.info("stopped Spark")


def one_line(exc: BaseException) -> str:
    """The first meaningful line of a (possibly Java) exception."""
    text = str(getattr(exc, "desc", None) or exc).strip()
    # a Python worker's traceback: its last "SomeError: message" line says what happened
    raised = re.findall(r"^\s*((?:[\w.]+)(?:Error|Exception): .+)$", text, re.MULTILINE)
    if raised:
        return raised[-1].strip()[:300]
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return type(exc).__name__


@contextmanager
def spark_errors(source: str) -> Iterator[None]:
    """Spark's analysis and execution errors as one-line DataErrors naming the source."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        yield
    except (PySparkException, Py4JJavaError) as exc:
        raise DataError(f"Spark failed: {one_line(exc)}", source=source) from None


def to_pandas(frame: Any) -> Any:
    """``frame.toPandas()`` without the deprecation warnings pyspark's own conversion code
    raises under pandas 3 (they are about pyspark, not about the data)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message=".*copy keyword is deprecated")
        return frame.toPandas()


def from_pandas(spark: Any, frame: Any) -> Any:
    """``spark.createDataFrame(frame)``, quiet in the same way as :func:`to_pandas`."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message=".*copy keyword is deprecated")
        return spark.createDataFrame(frame)
