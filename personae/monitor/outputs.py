"""Write a monitor/compare result into a folder that appears complete or not at all."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from personae.data.writers import write_frame
from personae.errors import DataError
from personae.monitor.page import write_page

MARKER = "monitor.json"


def write_outputs(result: Any, out: str | Path) -> Path:
    """drift.csv, segment_shift.csv, transitions.csv + transition_matrix.csv (users in
    both), segment_matching.csv (compare), governance.json, monitor.json and
    monitor.html."""
    out = Path(out)
    if out.exists() and not (out.is_dir() and (not any(out.iterdir())
                                               or (out / MARKER).is_file())):
        raise DataError("exists and is not an earlier personae monitor folder; choose "
                        "another --out or remove it", source=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        result.drift.to_csv(staging / "drift.csv", index=False)
        result.segment_shift.to_csv(staging / "segment_shift.csv", index=False)
        if result.transitions is not None:
            write_frame(result.transitions, staging / "transitions.csv")
            result.transition_matrix.to_csv(staging / "transition_matrix.csv", index=False)
        if result.matching is not None:
            result.matching.fates.to_csv(staging / "segment_matching.csv", index=False)
        _write_json(staging / "governance.json", result.governance.as_dict())
        _write_json(staging / MARKER, {**result.summary,
                                       "segment_shift": result.shift.as_dict(),
                                       "matching_thresholds": result.matching.thresholds
                                       if result.matching is not None else None})
        write_page(result, staging / "monitor.html")
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(retired / out.name)
            staging.rename(out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out


def _write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(_clean(document), indent=2, ensure_ascii=False),
                    encoding="utf-8")


def _clean(value: Any) -> Any:
    """Strict JSON: numpy scalars to Python, NaN and infinities to null."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
