"""What the report adds to a run: report.html size, build time and browser render time.

    .venv/bin/python benchmarks/bench_report.py                # 1M users, PCA map
    .venv/bin/python benchmarks/bench_report.py --sizes 100k,1M --umap

Data: generated retail-like users (spend, orders, recency, basket, returns, a channel
category) in 5 groups, written to benchmarks/.data. The segmentation is K-means with K=5
(the report does not depend on how K was found). The report is then built from the saved
run folder alone, as `personae report RUN_DIR` does, and opened in headless Debian
Chromium; "render" is the time from navigation until every chart has drawn its SVG.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def generate(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(5, size=n, p=[0.35, 0.25, 0.2, 0.12, 0.08])
    return pd.DataFrame({
        "user_id": np.arange(n),
        "monetary_total": rng.lognormal(np.array([5.0, 7.5, 6.0, 8.5, 4.5])[group], 0.5),
        "frequency": rng.poisson(np.array([1, 6, 3, 15, 1])[group]) + 1,
        "recency_days": rng.gamma(2.0, np.array([120, 20, 50, 8, 200])[group]),
        "items_per_order": rng.lognormal(np.array([2.0, 3.0, 2.5, 4.0, 1.5])[group], 0.4),
        "return_share": rng.beta(1, np.array([30, 30, 30, 30, 4])[group]),
        "channel": np.where(rng.random(n) < np.array([0.2, 0.6, 0.4, 0.8, 0.1])[group],
                            "app", "web"),
    })


def run_folder(n: int, label: str) -> tuple[Path, float]:
    from personae import pipeline
    from personae.model import SegmentModel

    folder = DATA / f"report_run_{label}"
    if (folder / "run.json").exists():
        return folder, float("nan")
    frame = generate(n)
    started = time.perf_counter()
    if "algorithm" in inspect.signature(pipeline.segment).parameters:
        result = pipeline.segment(frame, k=5, algorithm="kmeans", random_state=0)
    else:
        original = pipeline.SegmentModel
        pipeline.SegmentModel = partial(SegmentModel, algorithm="kmeans")  # type: ignore
        try:
            result = pipeline.segment(frame, k=5, random_state=0)
        finally:
            pipeline.SegmentModel = original  # type: ignore[misc]
    result.save(folder)
    return folder, time.perf_counter() - started


def render_seconds(path: Path) -> tuple[float, int, int]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        started = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_function("[...document.querySelectorAll('div.plot')].every("
                               "d => d.querySelector('svg.main-svg'))", timeout=60_000)
        seconds = time.perf_counter() - started
        plots = page.locator("div.plot").count()
        browser.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    return seconds, plots, len(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M", help=f"comma-separated: {', '.join(SIZES)}")
    parser.add_argument("--umap", action="store_true", help="also time the UMAP map")
    args = parser.parse_args()
    from personae.report import write_report

    rows = []
    for label in args.sizes.split(","):
        folder, run_s = run_folder(SIZES[label], label)
        for method in ("pca", "umap") if args.umap else ("pca",):
            started = time.perf_counter()
            path = write_report(folder, map_method=method)  # type: ignore[arg-type]
            report_s = time.perf_counter() - started
            render_s, plots, _ = render_seconds(path)
            rows.append({"users": label, "run (segment+save) s": round(run_s, 1),
                         "map": method, "report build s": round(report_s, 1),
                         "report.html MB": round(path.stat().st_size / 1e6, 2),
                         "personas.json kB": round((folder / "personas.json").stat().st_size
                                                   / 1e3, 1),
                         "charts": plots, "browser render s": round(render_s, 2)})
            print(pd.DataFrame(rows[-1:]).to_string(index=False), file=sys.stderr, flush=True)
    print(pd.DataFrame(rows).to_markdown(index=False) if _has_tabulate()
          else pd.DataFrame(rows).to_string(index=False))


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
