"""Spark's failures as personae's one-line errors, with the cause the user can act on.

A Java failure reaches Python as a ``Py4JJavaError`` whose first line names only the call
("An error occurred while calling o326.collectToPython"); the cause is further down, in
the Java stack trace: the last "Caused by:", or the scheduler's "Job aborted due to stage
failure: ..." around a failed task's own error. A JVM that died (in local mode a task's
``OutOfMemoryError`` stops the whole driver, exit code 52) answers with "SparkContext was
shut down" or a refused connection instead; its exit code says why.
"""

from __future__ import annotations

import logging
import re
import time as clock
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from personae.errors import DataError

logger = logging.getLogger(__name__)

JVM_OUT_OF_MEMORY = 52  # SparkExitCode.OOM: the uncaught-exception handler's exit on OOM
_JVM_EXIT_WAIT_S = 5.0
_MEMORY_HINT = ("; give the driver more memory: spark.driver.memory / "
                "spark.driver.maxResultSize (--spark-conf KEY=VALUE)")


def one_line(exc: BaseException) -> str:
    """The first meaningful line of a (possibly Java) exception: a Python worker's error,
    else the root cause of a Java one (what py4j puts first, "An error occurred while
    calling o326.collectToPython", names only the call), else the first line."""
    text = str(getattr(exc, "desc", None) or exc).strip()
    # a Python worker's traceback: its last "SomeError: message" line says what happened
    raised = re.findall(r"^\s*((?:[\w.]+)(?:Error|Exception): .+)$", text, re.MULTILINE) \
        if "Traceback (most recent call last)" in text else []
    if raised:
        return raised[-1].strip()[:300]
    cause = java_cause(text)
    if cause:
        return cause[:300]
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return type(exc).__name__


_PY4J_CALL = re.compile(r"^An error occurred while calling [\w.]+\.(\w+)\.?$")
_JAVA_LINE = re.compile(r"^(Caused by: |: )?([\w$]+(?:\.[\w$]+)+): (.+)$")
# what the scheduler wraps around a failed task's own error
_STAGE_FAILURE = re.compile(r"^Job aborted due to stage failure: (?:Task \S+ in stage \S+ "
                            r"failed \d+ times?, most recent failure: Lost task [^)]*\)"
                            r"(?: \([^)]*\))?: )?")
_MEMORY_CAUSES = ("OutOfMemoryError", "spark.driver.maxResultSize")


def java_cause(text: str) -> str | None:
    """The root Java cause in the text of a Py4JJavaError: the last "Caused by:" of its
    stack trace, else the exception itself (a failed task's own error without the
    scheduler's wrapping), with the call it came from and, for the driver's memory limits,
    the settings that raise them; None when the text holds no Java exception line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    thrown = [m for m in map(_JAVA_LINE.match, lines) if m]
    if not thrown:
        return None
    root = ([m for m in thrown if m.group(1) == "Caused by: "] or thrown)[-1]
    name, message = root.group(2), _STAGE_FAILURE.sub("", root.group(3))
    # Spark's own exception says what happened; another class's name is part of the cause
    cause = message if name == "org.apache.spark.SparkException" else \
        f"{name.rsplit('.', 1)[-1]}: {message}"
    call = _PY4J_CALL.match(lines[0])
    if call is not None:
        cause += f" (in {call.group(1)})"
    if any(marker in cause for marker in _MEMORY_CAUSES):
        cause += _MEMORY_HINT
    return cause


@contextmanager
def spark_errors(source: str) -> Iterator[None]:
    """Spark's analysis and execution errors, and a JVM that died under them, as one-line
    DataErrors naming the source."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    try:
        yield
    except (PySparkException, Py4JError, ConnectionError) as exc:
        died = jvm_exit_code()
        if died is not None:
            raise DataError(f"Spark failed: {jvm_death(died)}", source=source) from None
        if isinstance(exc, ConnectionError):
            raise  # not Spark's: the JVM is alive
        raise DataError(f"Spark failed: {one_line(exc)}", source=source) from None


def jvm_death(code: int) -> str:
    """What a Spark JVM's exit code says, as the message's cause."""
    if code == JVM_OUT_OF_MEMORY:
        return ("the Spark JVM ran out of memory (java.lang.OutOfMemoryError: Java heap "
                f"space, exit code {code}){_MEMORY_HINT}")
    return f"the Spark JVM stopped (exit code {code}); Spark's log above says why"


def jvm_exit_code(wait_s: float = _JVM_EXIT_WAIT_S) -> int | None:
    """The exit code of the JVM pyspark started in this process when it has stopped (it
    may still be running its shutdown hooks: wait up to ``wait_s``), else None, also when
    the JVM is not pyspark's child (a gateway given by PYSPARK_GATEWAY_PORT)."""
    from pyspark import SparkContext

    gateway: Any = SparkContext._gateway
    process = getattr(gateway, "proc", None)
    if process is None:
        return None
    if process.poll() is None and _context_alive():
        return None  # a failed job, not a dead JVM
    deadline = clock.monotonic() + wait_s
    while process.poll() is None and clock.monotonic() < deadline:
        clock.sleep(0.1)
    return process.poll()


def _context_alive() -> bool:
    from pyspark import SparkContext

    context: Any = SparkContext._active_spark_context
    if context is None:
        return False
    try:
        return not bool(context._jsc.sc().isStopped())
    except Exception:  # noqa: BLE001 - any failure to ask means the JVM is gone
        return False
