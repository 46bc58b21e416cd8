"""Write outputs so that a file or folder appears complete or not at all (the one place
that knows how), and turn numpy values into JSON."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from personae.errors import DataError

RUN_MARKER = "run.json"


@contextmanager
def staged_folder(out: str | Path, marker: str = RUN_MARKER,
                  what: str = "run") -> Iterator[Path]:
    """Yield an empty staging folder beside ``out``; move it to ``out`` only on success.

    An existing ``out`` is replaced only if it is empty or an earlier personae output (it
    has ``marker``: run.json, model.json): a typo in --out must not wipe someone's folder.
    """
    out = Path(out)
    if out.exists() and not _replaceable(out, marker):
        raise DataError(f"exists and is not an earlier personae {what} folder; choose "
                        "another --out or remove it", source=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield staging
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


def _replaceable(out: Path, marker: str) -> bool:
    return out.is_dir() and (not any(out.iterdir()) or (out / marker).is_file())


def write_frame(frame: pd.DataFrame, *paths: Path) -> dict[Path, str]:
    """CSV or Parquet by each path's suffix, through Arrow (pandas' own CSV writer is ~10x
    slower); the sha256 of each file written, for a run folder's listing: a CSV's taken
    from its bytes on their way out (reading 2 GB of users back cost seconds), a Parquet
    file's read back (a fifth of the bytes). Several paths: the frame is converted once and
    the files are written side by side."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if len(paths) == 1:
        return {paths[0]: _write_table(table, paths[0])}
    with ThreadPoolExecutor(len(paths)) as pool:
        return dict(zip(paths, pool.map(lambda path: _write_table(table, path), paths),
                        strict=True))


def _write_table(table: pa.Table, path: Path) -> str:
    if path.suffix.lower() == ".parquet":
        # Arrow writes Parquet in many small pieces: through a Python object each would wait
        # for the GIL (4x slower beside the report being built); hashing it back is cheap.
        # Dictionaries for the columns that repeat (labels, names, ids), not for measured
        # numbers, where one fills up and is dropped for every column chunk: 1M users'
        # table in 0.48 -> 0.22 s, and 66 MB instead of 75.
        pq.write_table(table, path, use_dictionary=[
            field.name for field in table.schema if not pa.types.is_floating(field.type)])
        return file_sha256(path)
    with path.open("wb") as raw:
        out = _Hashing(raw)
        _write_csv(table, out)
        return out.digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Arrow formats a CSV in one thread (floats dominate: 1.5 s for 1M users x 15 columns), so
# slices of this many rows are formatted by CSV_THREADS threads and written in order; at
# most CSV_THREADS + 1 formatted slices (~20 MB each) wait in memory.
CSV_SLICE_ROWS = 100_000
CSV_THREADS = 2


def _write_csv(table: pa.Table, out: _Hashing) -> None:
    """``table`` as Arrow writes it in one piece, byte for byte (the header once)."""
    def formatted(start: int) -> pa.Buffer:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table.slice(start, CSV_SLICE_ROWS), sink,
                        pacsv.WriteOptions(include_header=start == 0))
        return sink.getvalue()

    starts = range(0, max(table.num_rows, 1), CSV_SLICE_ROWS)
    with ThreadPoolExecutor(CSV_THREADS) as pool:
        waiting: deque[Future[pa.Buffer]] = deque()
        for start in starts:
            waiting.append(pool.submit(formatted, start))
            if len(waiting) > CSV_THREADS:
                out.write(waiting.popleft().result())
        while waiting:
            out.write(waiting.popleft().result())


class _Hashing:
    """A binary file that hashes what is written to it, in big pieces (hashlib releases
    the GIL on them)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        return self.raw.write(view)

    def flush(self) -> None:
        self.raw.flush()

    def close(self) -> None:  # the caller closes the file it opened
        self.closed = True


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; it becomes ``path`` only on success,
    so a failure leaves no partial file (and an earlier ``path`` untouched)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix,
                                     dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def write_frame_atomic(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write one table file (CSV or Parquet by suffix) all or nothing."""
    with atomic_file(path) as temporary:
        write_frame(frame, temporary)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_file(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def jsonable(value: Any) -> Any:
    """``json.dumps(default=jsonable)``: numpy numbers and arrays, paths; else an error."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, pd.Timestamp)):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def strict(value: Any) -> Any:
    """Strict JSON values: numpy scalars plain, NaN and infinities null (JSON has none)."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(document: Any, indent: int = 2, *, nan_as_null: bool = False) -> str:
    """JSON text of ``document``. Python's reader takes NaN and Infinity back (model files
    round-trip them); ``nan_as_null`` writes strict JSON for other readers (browsers,
    other languages), where they become null."""
    if nan_as_null:
        return json.dumps(strict(document), indent=indent, ensure_ascii=False,
                          default=jsonable, allow_nan=False)
    return json.dumps(document, indent=indent, ensure_ascii=False, default=jsonable)


def file_listing(folder: Path, known: dict[str, dict[str, Any]] | None = None
                 ) -> list[dict[str, Any]]:
    """Every file under ``folder`` (relative path, bytes, sha256), in path order. ``known``:
    entries of an earlier listing by path, reused for files whose size has not changed (so
    re-listing after a report is written does not hash the users tables again)."""
    def entry(path: Path) -> dict[str, Any]:
        name = path.relative_to(folder).as_posix()
        earlier = (known or {}).get(name)
        if earlier is not None and earlier.get("bytes") == path.stat().st_size:
            return earlier
        return {"path": name, "bytes": path.stat().st_size, "sha256": file_sha256(path)}

    # the users tables are most of the bytes; hashlib releases the GIL, so two at a time
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(entry, sorted(p for p in folder.rglob("*") if p.is_file())))
