"""JSON documents of a run or model: stamped on write, one reader, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from personae.data.documents import document_text, read_document, write_document
from personae.errors import ModelFileError

FORMAT = "personae.levels"


def test_a_written_document_carries_its_format_and_version_and_reads_back(
        tmp_path: Path) -> None:
    path = write_document(tmp_path / "levels.json",
                          {"format": "stale", "n_personas": np.int64(4), "far": [0.5, 1.5]},
                          FORMAT, 1)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert list(saved)[:2] == ["format", "format_version"]
    assert saved["format"] == FORMAT and saved["format_version"] == 1
    assert read_document(path, FORMAT, (1,)) == {"format": FORMAT, "format_version": 1,
                                                "n_personas": 4, "far": [0.5, 1.5]}
    assert json.loads(document_text({"a": 1}, FORMAT, 2)) == {
        "format": FORMAT, "format_version": 2, "a": 1}


@pytest.mark.parametrize(("content", "message"), [
    (None, r"levels\.json: missing \(a personae\.levels file was expected\)$"),
    ("{not json", r"levels\.json: not valid JSON \(Expecting property name enclosed in double "
                  r"quotes: line 1, column 2\)$"),
    (b"\xff\xfe", r"levels\.json: not valid JSON \(not UTF-8 text\)$"),
    ("[1, 2]", r"levels\.json: not a JSON object \(a personae\.levels file holds one; found "
               r"a list\)$"),
    ('{"format": "personae.rfm", "format_version": 1}',
     r"levels\.json: not a personae levels file \(format 'personae\.rfm'\)$"),
    ('{"format": "personae.levels", "format_version": 7}',
     r"levels\.json: levels format version 7 is not supported by personae \S+ \(reads "
     r"versions 1\); it was written by a newer personae: upgrade to read it$"),
    ('{"format": "personae.levels"}',
     r"levels\.json: levels format version None is not supported by personae \S+ \(reads "
     r"versions 1\)$"),
])
def test_each_way_a_document_is_wrong_is_one_line_naming_the_file(
        tmp_path: Path, content: str | bytes | None, message: str) -> None:
    path = tmp_path / "levels.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelFileError, match=message) as raised:
        read_document(path, FORMAT, (1,))
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)


def test_documents_written_before_they_had_a_format_stay_readable(tmp_path: Path) -> None:
    old = tmp_path / "levels.json"
    old.write_text('{"n_personas": 3}', encoding="utf-8")
    assert read_document(old, FORMAT, (1,), legacy=True) == {"n_personas": 3}
    with pytest.raises(ModelFileError, match=r"not a personae levels file \(format None\)"):
        read_document(old, FORMAT, (1,))
    bare = tmp_path / "profiles.json"
    bare.write_text('[{"segment": 0}]', encoding="utf-8")
    assert read_document(bare, "personae.sequence-profiles", (1,), legacy=True) == {
        "items": [{"segment": 0}]}


def test_an_optional_document_may_be_absent_and_an_old_name_may_stand_for_a_version(
        tmp_path: Path) -> None:
    assert read_document(tmp_path / "rfm.json", "personae.rfm", (1,), required=False) is None
    path = tmp_path / "embedder.json"
    path.write_text('{"format": "personae-sequence-embedder/1", "vocabulary": ["a"]}',
                    encoding="utf-8")
    document = read_document(path, "personae.sequence-embedder", (1,),
                             aliases={"personae-sequence-embedder/1": 1})
    assert document == {"format": "personae.sequence-embedder", "format_version": 1,
                        "vocabulary": ["a"]}
