"""The one way to write and read a JSON document of a run or model folder.

Every document carries ``format`` (what it is: ``personae.run``, ``personae.levels``...) and
``format_version`` (an integer raised when its layout changes). ``read_document`` turns
every way a file can be wrong into one line naming the file:

    missing (when required)  ->  "<path>: missing (<what>)"
    not JSON                 ->  "<path>: not valid JSON (<why>: line L, column C)"
    not an object            ->  "<path>: not a JSON object (...)"
    another format           ->  "<path>: not a personae <name> file (format ...)"
    an unknown version       ->  "<path>: <name> format version N is not supported by ..."

each a ModelFileError, which the CLI prints as one line with exit code 2.

Files written before a document had a ``format`` key (levels.json, rfm.json, personas.json
of early runs...) stay readable when the reader says ``legacy=True``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from personae._version import __version__
from personae.data.writers import to_json, write_text_atomic
from personae.errors import ModelFileError

#: The key a legacy document that is a JSON list is read under (sequence_profiles.json was
#: a bare list before it had a format).
ITEMS = "items"


def stamped(document: dict[str, Any], format: str, format_version: int) -> dict[str, Any]:
    """``document`` with ``format`` and ``format_version`` first (any earlier stamp replaced)."""
    rest = {k: v for k, v in document.items() if k not in ("format", "format_version")}
    return {"format": format, "format_version": format_version, **rest}


def document_text(document: dict[str, Any], format: str, format_version: int, *,
                  nan_as_null: bool = False) -> str:
    """The JSON text of a stamped document (for writers that stage their own files)."""
    return to_json(stamped(document, format, format_version), nan_as_null=nan_as_null)


def write_document(path: str | Path, document: dict[str, Any], format: str,
                   format_version: int, *, nan_as_null: bool = False) -> Path:
    """Write ``document`` stamped with its format and version, all or nothing."""
    return write_text_atomic(path, document_text(document, format, format_version,
                                                 nan_as_null=nan_as_null))


def read_document(path: str | Path, format: str, readable_versions: Iterable[int], *,
                  required: bool = True, legacy: bool = False, what: str | None = None,
                  name: str | None = None, aliases: Mapping[str, int] | None = None
                  ) -> dict[str, Any] | None:
    """The JSON object in ``path``, checked to be a ``format`` document of a version this
    personae reads; None when the file is absent and not ``required``.

    ``legacy``: a document without a ``format`` key (written before it had one) is read as
    it is; a bare JSON list comes back as ``{"items": [...]}``. ``what`` words the
    missing-file message (``"this model keeps no monitoring reference"``), ``name`` the
    document in the others (default: the format without ``personae.``: ``segment
    model``). ``aliases``: earlier
    names of the format and the version each stands for (a name that carried its version).
    """
    path = Path(path)
    versions = tuple(readable_versions)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return None
        raise ModelFileError(f"{path}: missing ({what or 'a ' + format + ' file was expected'})"
                             ) from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a {format} file") from None
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not valid JSON (not UTF-8 text)") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc.msg}: line {exc.lineno}, "
                             f"column {exc.colno})") from None
    if legacy and isinstance(document, list):
        return {ITEMS: document}
    if not isinstance(document, dict):
        raise ModelFileError(f"{path}: not a JSON object (a {format} file holds one; found "
                             f"a {type(document).__name__})")
    found = document.get("format")
    if found is None and legacy:
        return document
    noun = name or format.removeprefix("personae.").replace("-", " ")
    if aliases and isinstance(found, str) and found in aliases:
        return {**document, "format": format, "format_version": aliases[found]}
    if found != format:
        raise ModelFileError(f"{path}: not a personae {noun} file (format {found!r})")
    version = document.get("format_version")
    if version not in versions:
        newer = isinstance(version, int) and not isinstance(version, bool) and \
            version > max(versions)
        raise ModelFileError(
            f"{path}: {noun} format version {version!r} is not supported by personae "
            f"{__version__} (reads versions {', '.join(map(str, versions))})"
            + ("; it was written by a newer personae: upgrade to read it" if newer else ""))
    return document
