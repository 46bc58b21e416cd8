"""A saved mapping read against a new export of the same log: the roles whose columns are
gone (``Customer ID`` in the run, ``CustomerID`` in the export) are found by name again, as
``personae run`` finds them, and the caller says which columns were used."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from personae.errors import DataError
from personae.features.events_io import describe, map_columns, resolve_source


def remap(source: Any, saved: Mapping[str, str], given: Mapping[str, str] | None = None,
          table: str | None = None) -> tuple[dict[str, str], str | None]:
    """The role -> column mapping to read ``source`` with: ``saved`` (the run's) where its
    columns exist, ``given`` (the user's own, never second-guessed) over it, and the other
    roles detected by name; with a note naming what was detected. When detection cannot
    find the user or time either, the error is the one the saved mapping gives."""
    given = dict(given or {})
    con = duckdb.connect(":memory:")
    try:
        src = resolve_source(con, source, table)
        columns = describe(con, src)
    finally:
        con.close()
    wanted = {**saved, **given}
    gone = {role: column for role, column in saved.items()
            if column not in columns and role not in given}
    if not gone:
        return wanted, None
    kept = {role: column for role, column in wanted.items() if role not in gone}
    try:
        mapping = map_columns(columns, kept, src.label)
    except DataError:
        map_columns(columns, wanted, src.label)  # the saved mapping's own message
        raise
    # roles the run did not read stay unread: an order column found now would count orders
    mapping = {role: column for role, column in mapping.items() if role in wanted}
    found = [f"{role}={mapping[role]!r}" for role in gone if role in mapping]
    lost = [role for role in gone if role not in mapping]
    note = (f"the run's columns {', '.join(repr(c) for c in gone.values())} are not in "
            f"{src.label}; detected by name instead: {', '.join(found) or 'none'}"
            + (f" ({', '.join(lost)}: no such column, left out)" if lost else ""))
    return mapping, note
