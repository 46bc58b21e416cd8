"""The pure-Python edge of the Spark engine (no JVM needed): time formats, quoting, errors."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personae.errors import ConfigError
from personae.spark.errors import one_line
from personae.spark.events_read import _STRPTIME, java_pattern, lit, q

_BACK = {v: k for k, v in _STRPTIME.items()}
_LETTERS = sorted(set(_BACK), key=len, reverse=True)


def _back_to_strptime(pattern: str) -> str:
    """Read a Java pattern made by java_pattern back into strptime (quotes are literals)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = i + 1
            text = []
            while True:
                if pattern[end] == "'" and pattern[end + 1:end + 2] == "'":
                    text.append("'")
                    end += 2
                elif pattern[end] == "'":
                    break
                else:
                    text.append(pattern[end])
                    end += 1
            out.append("".join(text).replace("%", "%%"))
            i = end + 1
            continue
        for letters in _LETTERS:
            if pattern.startswith(letters, i):
                out.append("%" + _BACK[letters])
                i += len(letters)
                break
        else:
            out.append(pattern[i].replace("%", "%%"))
            i += 1
    return "".join(out)


_directive = st.sampled_from([f"%{c}" for c in _STRPTIME])
_literal = st.text(alphabet="-/: .,Tat'x", min_size=1, max_size=3)


@given(st.lists(st.tuples(_directive, _literal), min_size=1, max_size=6))
def test_java_pattern_keeps_every_directive_and_literal(pairs: list[tuple[str, str]]) -> None:
    """Directives with separators between them (adjacent ones, like %y%Y, would run
    together in any Java pattern) come back in order, and the literals unchanged."""
    fmt = "".join(d + sep for d, sep in pairs)
    assert _back_to_strptime(java_pattern(fmt)) == fmt


def test_common_formats() -> None:
    assert java_pattern("%d/%m/%Y %H:%M") == "dd/MM/yyyy HH:mm"
    assert java_pattern("%Y-%m-%dT%H:%M:%S") == "yyyy-MM-dd'T'HH:mm:ss"
    with pytest.raises(ConfigError, match="%Q is not supported by the Spark engine"):
        java_pattern("%Y %Q")


@given(st.text(max_size=20))
def test_quoting_round_trips_through_an_escape_reader(text: str) -> None:
    quoted = q(text)
    assert quoted.startswith("`") and quoted.endswith("`")
    assert quoted[1:-1].replace("``", "`") == text
    literal = lit(text)
    body = literal[1:-1]
    assert re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL) == text
    assert not re.search(r"(?<!\\)'", body)  # every quote inside is escaped


def test_one_line_takes_the_python_error_of_a_worker_traceback() -> None:
    text = ("An exception was thrown from the Python worker:\nTraceback (most recent call "
            "last):\n  File \"x.py\", line 1\nValueError: bad thing\n SQLSTATE: 38000")
    assert one_line(RuntimeError(text)) == "ValueError: bad thing"
    assert one_line(RuntimeError("\n\nfirst\nsecond")) == "first"


def test_a_local_session_gets_half_the_memory_and_the_callers_conf_wins() -> None:
    import os

    from personae.spark.session import parse_conf, session_conf

    half = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2 // 2**30
    assert session_conf("local[2]")["spark.driver.memory"] == f"{max(half, 1)}g"
    assert "spark.driver.memory" not in session_conf("spark://cluster:7077")
    given = parse_conf(["spark.driver.memory=3g", " spark.sql.shuffle.partitions = 8 "])
    assert given == {"spark.driver.memory": "3g", "spark.sql.shuffle.partitions": "8"}
    conf = session_conf("local[*]", given)
    assert conf["spark.driver.memory"] == "3g" and conf["spark.sql.session.timeZone"] == "UTC"
    with pytest.raises(ConfigError, match=r"--spark-conf must be KEY=VALUE \(e\.g\. "
                       r"spark\.driver\.memory=8g\)\. Got 'spark\.driver\.memory' instead\."):
        parse_conf(["spark.driver.memory"])
