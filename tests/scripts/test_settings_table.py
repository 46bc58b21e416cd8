"""The README's settings tables are generated from the models: every setting, its default
and what it sets, nested sections walked."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "settings_table.py"
spec = importlib.util.spec_from_file_location("settings_table", SCRIPT)
assert spec is not None and spec.loader is not None
settings_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(settings_table)


UNDESCRIBED: set[str] = set()


def test_the_readme_holds_the_generated_settings_tables() -> None:
    text = settings_table.README.read_text(encoding="utf-8")
    assert settings_table.readme_section(text) == settings_table.section(), \
        "README.md is out of date: run python scripts/settings_table.py"


def test_a_nested_setting_added_later_appears_with_its_default() -> None:
    class Inner(BaseModel):
        quantile: float = Field(0.999, description="of the distances")

    class Outer(BaseModel):
        kind: Literal["a", "b"] = Field("a", description="which")
        inner: Inner = Field(Inner(), description="a section")
        optional: Inner | None = Field(None, description="absent by default")

    assert settings_table.settings_table(Outer).splitlines()[2:] == [
        "| `kind` | `a` | which (one of a, b) |",
        "| `inner` | (section) | a section |",
        "| `inner.quantile` | `0.999` | of the distances |",
        "| `optional` | none | absent by default |",
        "| `optional.quantile` | `0.999` | of the distances |",
    ]


def test_every_setting_of_a_run_says_what_it_sets() -> None:
    from personae.config import RunConfig, UpliftSettings

    rows = [re.match(r"\| `([^`]+)` \| [^|]* \| (.*) \|$", line)
            for model in (RunConfig, UpliftSettings)
            for line in settings_table.settings_table(model).splitlines()[2:]]
    assert all(rows)
    assert {row.group(1) for row in rows if row and not row.group(2)} == UNDESCRIBED
