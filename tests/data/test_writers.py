"""All-or-nothing writes and JSON of numpy values: the one helper for each."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from personae.data.writers import (
    atomic_file,
    file_listing,
    staged_folder,
    to_json,
    write_frame,
    write_frame_atomic,
    write_text_atomic,
)
from personae.errors import DataError


def test_a_failed_write_leaves_the_earlier_file_and_no_temporary(tmp_path: Path) -> None:
    target = write_text_atomic(tmp_path / "notes.txt", "first")
    with pytest.raises(RuntimeError, match="disk full"), atomic_file(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_frames_are_written_whole(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user_id": ["a", "b"], "segment": [0, 1]})
    written = write_frame_atomic(frame, tmp_path / "u.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(written), frame)


def test_one_frame_to_csv_and_parquet_at_once_gives_each_file_whole(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user_id": [f"u{i}" for i in range(5000)],
                          "segment": np.arange(5000) % 7, "spend": np.linspace(0, 1, 5000)})
    write_frame(frame, tmp_path / "u.csv", tmp_path / "u.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "u.parquet"), frame)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "u.csv"), frame)


texts = st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=("Cs",)),
                                     max_size=8))


@given(rows=st.lists(st.tuples(texts, st.floats(allow_nan=True, width=32),
                               st.integers(-10**12, 10**12)), max_size=40),
       slice_rows=st.integers(1, 7))
def test_a_csv_formatted_in_slices_is_the_csv_arrow_writes_whole(
        tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str | None, float, int]],
        slice_rows: int) -> None:
    # quotes, commas and line breaks in names, missing values, any number of slices
    import pyarrow as pa
    import pyarrow.csv as pacsv

    import personae.data.writers as writers

    folder = tmp_path_factory.mktemp("csv")
    frame = pd.DataFrame(rows, columns=["name, quoted \"x\"", "value", "count"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(writers, "CSV_SLICE_ROWS", slice_rows)
        digests = write_frame(frame, folder / "sliced.csv")
    pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), folder / "whole.csv")
    written = (folder / "sliced.csv").read_bytes()
    assert written == (folder / "whole.csv").read_bytes()
    assert digests == {folder / "sliced.csv": hashlib.sha256(written).hexdigest()}


def test_a_folder_that_is_not_ours_is_never_replaced(tmp_path: Path) -> None:
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("...")
    with pytest.raises(DataError, match="exists and is not an earlier personae"), \
            staged_folder(precious):
        pass
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text("{}")
    with staged_folder(model, marker="model.json") as staging:
        (staging / "model.json").write_text('{"new": true}')
    assert json.loads((model / "model.json").read_text()) == {"new": True}


def test_file_listing_names_every_file_with_size_and_sha256(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_bytes(b"bytes")
    (tmp_path / "a.txt").write_bytes(b"")
    listing = file_listing(tmp_path)
    assert [f["path"] for f in listing] == ["a.txt", "sub/b.txt"]
    assert listing[1] == {"path": "sub/b.txt", "bytes": 5,
                          "sha256": hashlib.sha256(b"bytes").hexdigest()}


@given(arrays(st.sampled_from([np.int32, np.int64, np.float64]), st.integers(0, 6),
              elements={"allow_nan": False, "allow_infinity": False, "min_value": -1e9,
                        "max_value": 1e9}))
def test_numpy_values_become_plain_json(values: np.ndarray) -> None:
    document = {"array": values, "first": values[0] if len(values) else None}
    back = json.loads(to_json(document))
    assert back["array"] == values.tolist()
    assert back["first"] == (values[0].item() if len(values) else None)


def test_what_json_cannot_hold_is_an_error() -> None:
    with pytest.raises(TypeError, match="set is not JSON"):
        to_json({"levels": {1, 2}})
