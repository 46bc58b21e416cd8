"""The SparkSession personae works in: the caller's, or one it starts and stops itself.

Every Spark computation of personae runs with the SQL settings of ``SQL_CONF``: the
session time zone UTC (times are UTC in the embedded engine too), and a window buffer that
holds a user's events in memory up to ``WINDOW_BUFFER_ROWS`` (see there); a caller's
session gets its previous settings back.

A session personae starts on a local master gets a driver heap of half the machine's
memory (``spark.driver.memory``, Spark's own default is 1 GiB): in local mode the driver
JVM runs every task, so its heap is all the memory the engine has, and a 1 GiB heap on a
machine of 24 GiB fails long before the machine is full. The caller's ``conf`` (the
API's ``spark_conf``, the CLI's ``--spark-conf KEY=VALUE``) overrides it and any other
setting; a session the caller gives (or one already active) is used as it is.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from personae.errors import ConfigError
from personae.spark.errors import jvm_exit_code, one_line

logger = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
# The session window (one window per user in time order) buffers each user's events; past
# Spark's default of 4,096 rows it moves them into a sorter that must take execution
# memory, and when the same task's per-session hash aggregate holds all of it (that map
# does not give memory back) the task fails: "SparkOutOfMemoryError: Unable to acquire
# 16384 bytes of memory, got 0" at 100M events (1M users, 4 GiB driver, local[2]). Kept
# in the heap instead, a user of a million events takes some 60 MB per task; past that
# Spark's sorter (and its risk) is back.
WINDOW_BUFFER_ROWS = 1_000_000
SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.windowExec.buffer.in.memory.threshold": str(WINDOW_BUFFER_ROWS),
}
_CONF = {
    **SQL_CONF,
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    # the Python workers run the same interpreter (and personae) as the driver
    "spark.pyspark.python": sys.executable,
    "spark.pyspark.driver.python": sys.executable,
}


def local_driver_memory() -> str:
    """Half of this machine's physical memory in whole GiB (at least 1): the driver heap
    of a local session personae starts (see the module docstring)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(1, total // 2 // 2**30)}g"


def session_conf(master: str, conf: dict[str, str] | None = None) -> dict[str, str]:
    """The settings of a session personae starts on ``master``: its defaults, the local
    driver heap, then the caller's ``conf`` over both."""
    defaults = dict(_CONF)
    if master.startswith("local"):
        defaults["spark.driver.memory"] = local_driver_memory()
    return {**defaults, **(conf or {})}


def parse_conf(pairs: list[str] | None, option: str = "--spark-conf") -> dict[str, str]:
    """``["spark.driver.memory=8g", ...]`` as a dict; a ConfigError names a bad pair."""
    conf: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{option} must be KEY=VALUE (e.g. spark.driver.memory=8g). "
                              f"Got {pair!r} instead.")
        conf[key.strip()] = value.strip()
    return conf


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
    running), else a new one on ``master`` with :func:`session_conf` (``conf`` over
    personae's defaults) that is stopped on the way out."""
    require_pyspark()
    from pyspark.sql import SparkSession

    if spark is None:
        spark = SparkSession.getActiveSession()
        if spark is not None:
            logger.info("using the active SparkSession (%s)", spark.sparkContext.master)
    if spark is not None:
        previous = {key: spark.conf.get(key, None) for key in SQL_CONF}
        for key, value in SQL_CONF.items():
            spark.conf.set(key, value)
        try:
            yield spark
        finally:
            for key, value in previous.items():
                if value is None:
                    spark.conf.unset(key)
                else:
                    spark.conf.set(key, value)
        return
    _check_java()
    # the Python workers must run this interpreter (with personae and pandas), not python3
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    url = master or DEFAULT_MASTER
    builder = SparkSession.builder.master(url).appName("personae")
    settings = session_conf(url, conf)
    for key, value in settings.items():
        builder = builder.config(key, value)
    logger.info("starting Spark on %s (driver memory %s)", url,
                settings.get("spark.driver.memory", "Spark's default"))
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: a bad master URL, no Java...
        raise ConfigError(f"cannot start Spark on master {master or DEFAULT_MASTER!r}: "
                          f"{one_line(exc)}") from None
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        _stop(session)


def _stop(session: Any) -> None:
    """Stop a session personae started; one whose JVM died (the error being raised says
    why) has nothing left to stop, and asking it would replace that error."""
    if jvm_exit_code(wait_s=0) is not None:
        logger.info("the Spark JVM has stopped")
        return
    session.stop()
    logger.info("stopped Spark")


def to_pandas(frame: Any) -> Any:
    """``frame.toPandas()`` without the deprecation warnings pyspark's own conversion code
    raises under pandas 3 (they are about pyspark, not about the data)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message=".*copy keyword is deprecated")
        # said again as the error it precedes, which spark_errors makes one line
        warnings.filterwarnings("ignore", message="toPandas attempted Arrow optimization",
                                category=UserWarning)
        return frame.toPandas()


def from_pandas(spark: Any, frame: Any) -> Any:
    """``spark.createDataFrame(frame)``, quiet in the same way as :func:`to_pandas`."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message=".*copy keyword is deprecated")
        return spark.createDataFrame(frame)
