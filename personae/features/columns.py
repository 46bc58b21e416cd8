"""Where each input column went: it drives the segments, describes them, or was left out.

run.json's ``columns`` block and the report's column table are made here, so that no
column of the input can disappear without a word: every one gets a role and a reason.

- ``id``: the users' id.
- ``drive``: the model reads it; it makes the split.
- ``describe``: kept beside the segments (users_segmented, the report's per-persona
  values) but not used to split them (:func:`~personae.features.semantics.feature_roles`).
- ``left out``: neither; the reason says why (the cleaner dropped it, or it was not among
  the columns asked for).
"""

from __future__ import annotations

from typing import Any

from personae.features.semantics import Semantics, feature_roles
from personae.features.table import TablePreprocessor

ROLES = ("id", "drive", "describe", "left out")


def column_roles(preprocessor: TablePreprocessor, *, asked: list[str] | None,
                 by_role: bool, semantics: Semantics | None = None,
                 missing: dict[str, float] | None = None) -> dict[str, dict[str, str]]:
    """Per input column (in input order): ``{"role": ..., "reason": ...}``.

    ``asked``: the feature columns the user named (``segmentation.features``), if any;
    ``by_role``: the drive columns were chosen by :func:`feature_roles` (persona levels
    without ``features``), which is asked again here for its reasons, with the same
    ``missing`` shares.
    """
    id_column = preprocessor.id_column
    columns = [c for c in preprocessor.input_columns_ if c != id_column]
    roles = feature_roles(columns, semantics, missing=missing) \
        if by_role and asked is None else None
    used = {*preprocessor.numeric_, *preprocessor.categorical_}
    dropped = {d.column: d.detail for d in preprocessor.decisions_ if d.action == "dropped"}
    out: dict[str, dict[str, str]] = {}
    for name in preprocessor.input_columns_:
        if name == id_column:
            out[name] = {"role": "id", "reason": "the users' id"}
        elif name in used:
            out[name] = {"role": "drive", "reason": _drive_reason(name, asked, roles)}
        elif name in dropped:
            out[name] = {"role": "left out", "reason": f"dropped by the cleaner: "
                                                       f"{dropped[name]}"}
        elif roles is not None and name in roles.describe:
            out[name] = {"role": "describe", "reason": f"{roles.reasons[name]}; described "
                                                       "per persona, not used to split"}
        else:
            out[name] = {"role": "left out",
                         "reason": "not among the feature columns asked for "
                                   "(segmentation.features)"}
    return out


def _drive_reason(name: str, asked: list[str] | None, roles: Any) -> str:
    if asked is not None:
        return "asked for (segmentation.features)"
    if roles is not None:
        return str(roles.reasons[name])
    return "a usable column (without persona levels every usable column drives)"


def described(roles: dict[str, dict[str, str]]) -> list[str]:
    """The columns that describe the personas without driving the split, in input order."""
    return [name for name, entry in roles.items() if entry["role"] == "describe"]
