"""Feature semantics: built-in meanings, the user's YAML file, the plain fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from personae.errors import DataError
from personae.features.semantics import BUILTIN, Semantics, fallback_meaning


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "semantics.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_user_file_wins_over_builtin_and_fallback(tmp_path: Path) -> None:
    semantics = Semantics.from_yaml(write(tmp_path, """
frequency:
  label: Visits
  unit: visits
  high: visit often
  low: visit rarely
  themes: [engagement]
  pain_when: low
monthly_spend:
  label: Monthly spend
  themes: value
"""))
    assert semantics.describe("frequency").label == "Visits"
    assert semantics.describe("frequency").source == "user"
    spend = semantics.describe("monthly_spend")
    assert spend.themes == ("value",) and spend.high == "have high monthly spend"
    assert semantics.describe("recency_days") == BUILTIN["recency_days"]
    assert semantics.describe("n_logins").source == "fallback"


def test_fallback_from_the_column_name() -> None:
    meaning = fallback_meaning("cartAbandonCount")
    assert meaning.label == "Cart abandon count"
    assert "risk" in meaning.themes and meaning.pain_when == "high"
    assert meaning.low == "have low cart abandon count"


def test_one_hot_columns_are_described_from_their_parent() -> None:
    meaning = Semantics().describe("country=France")
    assert meaning.label == "Country: France" and meaning.unit == "share"


@pytest.mark.parametrize(("text", "match"), [
    ("frequency: [1, 2]\n", r"semantics.yaml: column 'frequency': expected a mapping"),
    ("frequency:\n  colour: red\n", r"unknown keys \['colour'\]; allowed: \['high'"),
    ("frequency:\n  pain_when: sometimes\n", r"pain_when must be 'high' or 'low', got 'sometimes'"),
    ("- a\n- b\n", r"expected a mapping of column name -> meaning"),
    ("frequency: {label: [unclosed\n", r"not valid YAML"),
    ("frequency:\n  themes: 5\n", r"themes must be a word or a list of words .*got 5"),
    ("frequency:\n  label: [a, b]\n", r"column 'frequency': label must be text"),
])
def test_bad_yaml_is_refused_with_the_place(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        Semantics.from_yaml(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope.yaml: semantics file not found"):
        Semantics.from_yaml(tmp_path / "nope.yaml")


def test_empty_file_means_no_user_meanings(tmp_path: Path) -> None:
    assert Semantics.from_yaml(write(tmp_path, "")).user == {}
