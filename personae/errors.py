"""Errors personae raises on purpose.

    PersonaeError              root: anything personae says is wrong
    ├── DataError              bad input data: names the file, the column and, where known, the row
    ├── ConfigError            a bad parameter: names it, what is allowed, what was received
    ├── ModelFileError         a model folder that cannot be read or is of an unknown version
    └── NotFittedError         predict/save called before fit

The CLI turns each into one line on stderr and exit code 2.
"""

from __future__ import annotations

from typing import Any


class PersonaeError(Exception):
    """Root of every error personae raises on purpose."""


class DataError(PersonaeError, ValueError):
    """Bad input data. The message names the file, the column and, where known, the row."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self.source = source
        self.column = column
        self.row = row
        where = []
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        parts = [str(source)] if source else []
        if where:
            parts.append(", ".join(where))
        super().__init__(": ".join([*parts, message]))


class ConfigError(PersonaeError, ValueError):
    """A parameter out of range or of the wrong type."""


class ModelFileError(PersonaeError):
    """A model folder that is missing, corrupt or of a format this version does not read."""


class NotFittedError(PersonaeError):
    """A model used before it was fitted."""


def shown(value: Any) -> str:
    """A value from the data as a message quotes it: numpy scalars as the Python value they
    hold (``17850``, ``'a'``), never their repr (``np.int64(17850)``)."""
    import numpy as np  # here, not at the top: the command line's --help needs no numpy

    return repr(value.item() if isinstance(value, np.generic) else value)
