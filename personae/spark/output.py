"""Writing a Spark DataFrame as one .parquet or .csv file, all or nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from personae.errors import ConfigError, DataError


def write_single_file(frame: Any, target: Path) -> Path:
    """Write ``frame`` as the single file ``target`` (.parquet or .csv) through a temporary
    folder beside it: the rows stream from the executors, nothing is collected, and
    ``target`` appears only once complete. The rows keep the frame's order."""
    # the JVM resolves relative paths against its own working directory, fixed when it
    # started, not the Python process's (a notebook or test that changed directory since)
    target = Path(target).absolute()
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ConfigError(f"The output path must end in .parquet or .csv. Got {str(target)!r}.")
    if not target.parent.exists():
        raise DataError("output folder does not exist", source=str(target.parent))
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        out = tmp / "parts"
        writer = frame.coalesce(1).write.mode("overwrite")
        if suffix == ".parquet":
            writer.parquet(str(out))
        else:
            writer.option("header", "true").csv(str(out))
        parts = sorted(out.glob(f"part-*{suffix}")) or sorted(out.glob("part-*"))
        if len(parts) != 1:
            raise DataError(f"Spark wrote {len(parts)} part files, expected 1", source=str(out))
        os.replace(parts[0], target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
