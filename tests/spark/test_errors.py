"""Spark's failures reach the user as one line that keeps the Java cause: a real failure of
the driver's result limit (this module's session allows 64 KiB of task results), and the
texts of the failures too costly to provoke here (a heap that runs out kills the JVM)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personae.errors import DataError
from personae.spark.errors import JVM_OUT_OF_MEMORY, jvm_death, one_line

pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning")

SPARK_CONF = {"spark.driver.maxResultSize": "64k"}

CALL = "An error occurred while calling o326.collectToPython.\n"
TASK_OOM = (CALL + ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 "
            "in stage 41.0 failed 1 times, most recent failure: Lost task 3.0 in stage 41.0 "
            "(TID 377) (10.0.0.5 executor driver): java.lang.OutOfMemoryError: Java heap "
            "space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n\tat org.apache."
            "spark.unsafe.map.BytesToBytesMap.growAndRehash(BytesToBytesMap.java:886)\n\n"
            "Driver stacktrace:\n\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndepe"
            "ndentStages(DAGScheduler.scala:2856)\nCaused by: java.lang.OutOfMemoryError: Java "
            "heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n")
NO_SPACE = (CALL + ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 "
            "in stage 7.0 failed 1 times, most recent failure: Lost task 0.0 in stage 7.0 (TID "
            "12) (host executor driver): java.io.IOException: No space left on device\n\tat "
            "java.base/java.io.FileOutputStream.writeBytes(Native Method)\n\nDriver stacktrace:"
            "\nCaused by: java.io.IOException: No space left on device\n\tat java.base/java.io."
            "FileOutputStream.writeBytes(Native Method)\n")


def _log(n_users: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(n_users), 3)
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90 * 86_400,
                                                                      len(users)), unit="s")
    return pd.DataFrame({"user_id": users, "time": times,
                         "event": rng.choice(["view", "purchase"], len(users)),
                         "value": rng.uniform(1, 50, len(users)).round(2)})


def test_a_result_over_the_driver_limit_names_the_limit_and_the_setting(spark) -> None:
    """The features of 1,000 users (some 150 KiB) do not come back under a 64 KiB limit;
    the one-line error says so, not just "An error occurred while calling ..."."""
    from personae.spark import from_events

    with pytest.raises(DataError, match=r"^<DataFrame>: Spark failed: Total size of serialized "
                       r"results of \d+ tasks? \([\d.]+ KiB\) is bigger than spark\.driver\."
                       r"maxResultSize \(64\.0 KiB\) \(in \w+\); give the driver more "
                       r"memory: spark\.driver\.memory / spark\.driver\.maxResultSize "
                       r"\(--spark-conf KEY=VALUE\)$"):
        from_events(_log(1_000), spark=spark)
    assert spark.range(3).count() == 3  # a failed job, not a dead session


@pytest.mark.parametrize(("text", "expected"), [
    (TASK_OOM, "OutOfMemoryError: Java heap space (in collectToPython); give the driver more "
               "memory: spark.driver.memory / spark.driver.maxResultSize (--spark-conf "
               "KEY=VALUE)"),
    (NO_SPACE, "IOException: No space left on device (in collectToPython)"),
    (CALL + ": org.apache.spark.SparkException: Job 4 cancelled because SparkContext was shut "
            "down\n\tat org.apache.spark.scheduler.DAGScheduler.cleanUpAfterSchedulerStop(DAG"
            "Scheduler.scala:1295)\n",
     "Job 4 cancelled because SparkContext was shut down (in collectToPython)"),
])
def test_the_one_line_is_the_root_java_cause(text: str, expected: str) -> None:
    assert one_line(RuntimeError(text)) == expected


def test_a_dead_jvm_is_told_by_its_exit_code() -> None:
    assert jvm_death(JVM_OUT_OF_MEMORY).startswith(
        "the Spark JVM ran out of memory (java.lang.OutOfMemoryError: Java heap space, exit "
        "code 52); give the driver more memory")
    assert jvm_death(1) == "the Spark JVM stopped (exit code 1); Spark's log above says why"


def test_a_callers_session_gets_personae_sql_settings_and_then_its_own_back(spark) -> None:
    from personae.spark.session import SQL_CONF, WINDOW_BUFFER_ROWS, spark_session

    key = "spark.sql.windowExec.buffer.in.memory.threshold"
    spark.conf.set(key, "4096")
    with spark_session(spark) as session:
        assert session is spark and SQL_CONF[key] == str(WINDOW_BUFFER_ROWS)
        assert {k: spark.conf.get(k) for k in SQL_CONF} == SQL_CONF
    assert spark.conf.get(key) == "4096"
