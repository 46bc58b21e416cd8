"""A picture of a run's persona cards for the README: headless Debian Chromium via Playwright.

    .venv/bin/python scripts/screenshot_report.py demo-output/report.html docs/report.png
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def screenshot(report: Path, picture: Path, width: int = 1280) -> None:
    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("Debian's chromium is not installed (make browser installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(report.resolve().as_uri())
        page.wait_for_load_state("load")
        page.add_style_tag(content="nav { display: none !important; }")  # sticky: over cards
        page.locator("#personas").screenshot(path=str(picture))
        browser.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    screenshot(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"wrote {sys.argv[2]}")
