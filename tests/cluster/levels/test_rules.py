"""LevelRules and AutoRules: documented settings with today's values, read without
scikit-learn."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from personae.cluster.auto_rules import AutoRules
from personae.cluster.levels import LevelRules, persona_levels
from personae.config import RunConfig

ROOT = Path(__file__).resolve().parents[3]


def test_every_rule_is_documented_with_todays_value_as_default() -> None:
    for rules in (LevelRules, AutoRules):
        for name, field in rules.model_fields.items():
            assert field.description and len(field.description) > 20, name
    assert LevelRules().model_dump() == {
        "k_range": (3, 8), "distinct_k_min": 2, "max_share": 0.6, "big_share": 0.05,
        "min_big": 3, "edge_share": 0.015, "max_far_share": 0.02, "far_iqr": 3.0,
        "far_floor": 0.1, "stable_ari": 0.8, "distinct_silhouette": 0.5, "sample": 5_000,
        "dbcv_sample": 2_000, "n_init": 4, "bootstraps": 4, "boot_fraction": 0.8,
        "detailed_target": (8, 12), "detailed_min_share": 0.005, "min_users": 30,
        "fit_rows": 20_000}
    assert AutoRules().model_dump() == {
        "rows": 2_000, "max_edge_share": 0.5, "stable_ari": 0.8, "hollow": 2.0,
        "same_segments": 0.95, "bic_slack": 30.0, "dbcv_lead": 0.1}


def test_the_rules_are_settings_of_a_run() -> None:
    config = RunConfig.model_validate({"segmentation": {"levels": {"max_share": 0.5},
                                                        "auto": {"hollow": 3}}})
    assert config.segmentation.levels == LevelRules(max_share=0.5)
    assert config.segmentation.auto == AutoRules(hollow=3.0)
    again = RunConfig.model_validate_json(config.model_dump_json())
    assert again.segmentation.levels == config.segmentation.levels


def test_bad_rules_name_the_rule_and_what_was_given() -> None:
    with pytest.raises(ValidationError, match=r"levels.k_range must be two ints with 2 <= "
                                              r"low <= high; got \(6, 3\)"):
        LevelRules(k_range=(6, 3))
    with pytest.raises(ValidationError, match=r"max_share\n.*less than or equal to 1"):
        LevelRules(max_share=1.5)
    with pytest.raises(ValidationError, match="max_edge_shares\n.*Extra inputs"):
        AutoRules(max_edge_shares=0.4)  # type: ignore[call-arg]


def test_a_tuned_rule_changes_the_personas() -> None:
    # three equal, well separated groups of 200: three personas, unless 1,000 users are
    # the fewest worth splitting
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.3, size=(200, 2)) for c in ((0, 0), (6, 0), (0, 6))])
    assert persona_levels(X, np.zeros(len(X), int)).n_personas == 3
    strict = persona_levels(X, np.zeros(len(X), int), rules=LevelRules(min_users=1_000))
    assert strict.n_personas == 1
    assert strict.why == ["only 600 users with 600 distinct rows: too few to split into "
                          "personas"]


def test_the_rules_modules_import_without_scikit_learn() -> None:
    # personae/__init__ imports the whole library; the rules alone must not need it
    code = textwrap.dedent(f"""
        import sys, types
        package = types.ModuleType("personae")
        package.__path__ = [{str(ROOT / "personae")!r}]
        sys.modules["personae"] = package
        import personae.cluster.auto_rules, personae.cluster.levels.rules
        heavy = {{"sklearn", "scipy", "pandas", "joblib", "threadpoolctl"}}
        print(sorted(heavy & {{name.split(".")[0] for name in sys.modules}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
