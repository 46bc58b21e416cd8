"""The report in a real browser (headless Debian Chromium driven by Playwright)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from personae.report import build_report

HOSTILE = "<script>alert(1)</script>"


def with_events(run_dir: Path, folder: Path) -> tuple[Path, dict[str, Any]]:
    """The same run's report with journeys from a small event log, in ``folder`` (built
    without the run's semantics file, so names come from the column names)."""
    users = pd.read_parquet(run_dir / "users_segmented.parquet")["user_id"]
    steps = ["session_start", "page_view", "add_to_cart", "purchase"]
    events = pd.DataFrame([(u, t, steps[t]) for i, u in enumerate(users)
                           for t in range(1 + i % 4)], columns=["user", "time", "event"])
    html, document = build_report(run_dir, events=events)
    path = folder / "report_with_events.html"
    path.write_text(html, encoding="utf-8")
    return path, document


@pytest.mark.parametrize("events", [False, True], ids=["table", "events"])
def test_report_renders_in_chromium(run_dir: Path, browser: Any, tmp_path: Path,
                                    events: bool) -> None:
    saved = json.loads((run_dir / "personas.json").read_text(encoding="utf-8"))
    report, document = with_events(run_dir, tmp_path) if events else \
        (run_dir / "report.html", saved)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    plots = page.locator("div.plot")
    assert plots.count() >= 4 + int(events)
    assert plots.count() == page.locator("script[type='application/json']").count()
    assert page.locator("#plot-funnels").count() == int(events)
    page.wait_for_function(
        "[...document.querySelectorAll('div.plot')].every(d => d.querySelector('svg.main-svg'))",
        timeout=20_000)
    # every chart drew marks, not only an empty frame
    for i in range(plots.count()):
        assert plots.nth(i).locator("g.trace, g.hm, image").count() > 0, \
            plots.nth(i).get_attribute("id")
    personas = document["personas"]
    cards = page.locator("article.persona-card")
    assert cards.count() == len(personas)
    assert sum(p["segment"] >= 0 for p in personas) == 3  # three blobs; edge users apart
    assert [cards.nth(i).locator("h3").inner_text() for i in range(cards.count())] == \
        [p["name"] for p in personas]
    # the hostile column name is shown as text and never runs
    assert HOSTILE in page.locator("#meanings").inner_text()
    assert dialogs == []
    assert errors == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in requests), requests
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    page.close()


def test_print_shows_one_card_per_page(run_dir: Path, browser: Any) -> None:
    page = browser.new_page()
    page.goto((run_dir / "report.html").as_uri())
    page.emulate_media(media="print")
    page.evaluate("document.body.classList.add('cards-only')")
    assert page.locator("#overview").is_hidden()
    assert page.locator("article.persona-card").first.evaluate(
        "e => getComputedStyle(e).breakAfter") == "page"
    page.close()


@pytest.mark.parametrize("width", [390, 1366], ids=["phone", "desktop"])
def test_the_report_leads_with_the_persona_gallery(run_dir: Path, browser: Any,
                                                  width: int) -> None:
    """A designer first meets the personas (name, share, one line, the strongest facts, a
    link to the card), then the cards, journeys and opportunities; the method comes last.
    The header, the gallery and the cards count the same personas, edge users apart, and
    nothing is wider than a phone's screen."""
    document = json.loads((run_dir / "personas.json").read_text(encoding="utf-8"))
    personas = [p for p in document["personas"] if not p["edge_users"]]
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto((run_dir / "report.html").as_uri())
    page.wait_for_load_state("load")
    sections = page.eval_on_selector_all("main > section", "s => s.map(e => e.id)")
    assert sections[:3] == ["gallery", "personas", "journeys"]
    assert sections.index("opportunities") < sections.index("overview") < \
        sections.index("method")
    assert page.locator("h1").inner_text().startswith(f"{len(personas)} personas of ")
    assert f"The {len(personas)} personas at a glance" in page.locator("#gallery h2").inner_text()
    tiles = page.locator("#gallery a.tile")
    assert tiles.count() == len(document["personas"])  # the edge users' tile last
    first = personas[0]
    tile = tiles.first
    assert tile.locator("b").inner_text() == first["name"]
    assert tile.get_attribute("href") == f"#persona-{first['segment']}"
    assert first["line"] in tile.inner_text()
    assert tile.locator("li").count() == min(3, len(first["data_says"]))
    assert tile.is_visible()
    tile.click()
    page.wait_for_function(f"location.hash === '#persona-{first['segment']}'")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.close()


def test_the_notebook_view_draws_its_map_offline_in_chromium(run_dir: Path, browser: Any,
                                                             tmp_path: Path) -> None:
    """What Jupyter shows for a loaded run (``_repr_html_``), in a page of its own: the map
    is drawn by the plotly.js inside the output, with nothing fetched."""
    from personae import load_run

    run = load_run(run_dir)
    page_file = tmp_path / "cell.html"
    page_file.write_text(f"<!DOCTYPE html><html><body>{run._repr_html_()}</body></html>",
                         encoding="utf-8")
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    page.wait_for_function("document.querySelector('div[id^=personae-map-] svg.main-svg')",
                           timeout=20_000)
    traces = page.locator("div[id^=personae-map-] g.trace")
    assert traces.count() == len({s.segment for s in run.segments})
    assert errors == [] and requests == [page_file.as_uri()]
