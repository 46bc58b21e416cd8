"""One run folder shared by the report tests: three known groups, a hostile column name."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from personae.features.semantics import Semantics
from personae.pipeline import segment
from personae.report import write_report

HOSTILE = "<script>alert(1)</script>"
HOSTILE_LEVEL = "<img src=x onerror=alert(2)>"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SEMANTICS_YAML = """\
coupon_uses:
  label: Coupons used
  unit: coupons
  high: hunt for coupons
  low: ignore coupons
  themes: [price sensitivity]
  pain_when: high
"""


def three_groups(n: int = 900, seed: int = 0) -> pd.DataFrame:
    """Big spenders, lapsed one-timers and coupon hunters (a third each)."""
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1, 2], n // 3)
    spend = rng.lognormal(np.array([8.0, 5.0, 6.0])[group], 0.3)
    orders = rng.poisson(np.array([12, 1, 4])[group]) + 1
    recency = rng.gamma(2.0, np.array([10, 150, 40])[group])
    coupons = rng.poisson(np.array([0.2, 0.3, 6.0])[group])
    level = np.where(group == 2, HOSTILE_LEVEL, rng.choice(["web", "app"], size=n))
    return pd.DataFrame({
        "user_id": [f"u{i:04d}" for i in range(n)],
        "monetary_total": spend.round(2), "frequency": orders, "recency_days": recency.round(),
        "coupon_uses": coupons, HOSTILE: level,
    })


def kmeans_run(frame: pd.DataFrame, k: int = 3) -> Any:
    """segment() with K-means and a fixed K: the report tests need a run, not a search."""
    return segment(frame, k=k, algorithm="kmeans", random_state=0)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report") / "run"
    kmeans_run(three_groups()).save(folder)
    semantics_file = folder.parent / "semantics.yaml"
    semantics_file.write_text(SEMANTICS_YAML, encoding="utf-8")
    write_report(folder, semantics=Semantics.from_yaml(semantics_file))
    return folder


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (make browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def make_users() -> Any:
    return three_groups
