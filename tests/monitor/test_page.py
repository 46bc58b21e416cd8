"""monitor.html: offline, escaped, and drawn by a real browser (headless Debian Chromium)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from personae.monitor import monitor
from personae.monitor.page import render, sankey
from personae.monitor.transitions import transitions

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def page_folder(run_a: Path, planted, tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = planted[0].copy()
    frame["m1"] += 2.0
    frame["plan"] = frame["plan"].replace("gold", "platinum")
    result = monitor(run_a, frame)
    result.summary["notes"].append(HOSTILE)
    return result.save(tmp_path_factory.mktemp("page") / "mon")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (make browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_sankey_ribbons_carry_every_user_in_both():
    import numpy as np
    import pandas as pd

    table = transitions(pd.Series(range(10)), np.array([0] * 6 + [1] * 4),
                        pd.Series(range(10)), np.array([0] * 5 + [1] * 5))
    drawn = sankey(table, {0: "A", 1: "B"})
    assert drawn is not None and sum(r["users"] for r in drawn["ribbons"]) == 10
    assert [n["users"] for n in drawn["nodes"]] == [6, 4, 5, 5]
    assert sankey(table.iloc[0:0], {}) is None


def test_the_page_escapes_what_the_data_says(page_folder: Path):
    html = (page_folder / "monitor.html").read_text(encoding="utf-8")
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html and "https://" not in html


def test_monitor_page_renders_in_chromium(page_folder: Path, browser: Any, tmp_path: Path):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((page_folder / "monitor.html").as_uri())
    page.wait_for_load_state("load")
    assert page.locator("#retrain").inner_text() == "Retrain: yes"
    rows = page.locator("#drift-table tbody tr")
    assert rows.count() == 5
    top = {rows.nth(i).locator("td").first.inner_text() for i in range(2)}
    assert top == {"m1", "plan"} and "significant" in rows.nth(1).inner_text()
    assert HOSTILE in page.locator("#summary").inner_text()  # shown as text, never run
    assert page.locator("#sankey path").count() >= 3
    assert page.locator("#sankey rect").count() == 6
    box = page.locator("#sankey").bounding_box()
    assert box is not None and box["height"] > 200
    assert dialogs == [] and errors == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in requests), requests
    page.screenshot(path=str(tmp_path / "monitor.png"), full_page=True)
    page.close()


def test_render_needs_no_transitions(run_a, planted):
    result = monitor(run_a, planted[0].drop(columns=["user_id"]))
    assert result.transitions is None
    assert 'id="sankey"' not in render(result)
    assert any("no transitions" in n for n in result.summary["notes"])
