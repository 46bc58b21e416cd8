"""report.html and personas.json from a saved run folder (no browser needed here)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

from personae.cli import app
from personae.report import build_report, write_report

HOSTILE = "<script>alert(1)</script>"


def test_one_persona_card_per_segment(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    document = json.loads((run_dir / "personas.json").read_text(encoding="utf-8"))
    segments = sorted(pd.read_parquet(run_dir / "users_segmented.parquet")["segment"].unique())
    assert [p["segment"] for p in document["personas"]] == segments
    assert html.count('class="card persona-card"') == len(segments)
    names = [p["name"] for p in document["personas"]]
    assert len(set(names)) == len(names)
    # the big spenders: frequent, recent and higher spending, the archetype's rule (#25)
    assert "Loyal High-Value Users" in names
    assert "archetype: frequency or active_days high and recency_days low" in html


def test_self_contained_and_small(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert len(html.encode("utf-8")) < 6_000_000
    plotly_js = get_plotlyjs().replace("</script", "<\\/script")
    assert plotly_js in html  # inlined, from the installed plotly package
    ours = html.replace(plotly_js, "")
    assert not re.search(r"<script[^>]+src=", ours)
    assert "<link" not in ours and not re.search(r"(src|href)=\"https?:", ours)
    assert "Plotly.newPlot" in ours


def test_hostile_names_are_escaped_everywhere(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert HOSTILE not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # in the figures' JSON, '<' is written as \u003c so no tag can close the <script>
    assert "\\u0026lt;script\\u0026gt;" in html


def test_rerender_is_deterministic(run_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(run_dir, tmp_path / "run")
    before = (copy / "personas.json").read_text(encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(copy), "--map", "none", "--semantics",
                                      str(run_dir.parent / "semantics.yaml")])
    assert result.exit_code == 0, result.output
    assert (copy / "personas.json").read_text(encoding="utf-8") == before
    html = (copy / "report.html").read_text(encoding="utf-8")
    assert "The map was switched off for this report (--map none)." in html


def test_without_events_the_report_says_so(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "No event log was recorded for this run" in html
    assert 'id="plot-funnels"' not in html


def test_journeys_from_an_event_log(run_dir: Path) -> None:
    users = pd.read_parquet(run_dir / "users_segmented.parquet")["user_id"].head(60)
    events = pd.DataFrame({
        "user": [u for u in users for _ in range(3)],
        "time": list(range(3)) * len(users),
        "event": ["page_view", "add_to_cart", "purchase"] * len(users),
    })
    html, _ = build_report(run_dir, map_method="none", events=events)
    assert 'id="plot-funnels"' in html and "Most common paths" in html
    assert "page_view &gt; add_to_cart &gt; purchase" in html


def test_bad_semantics_file_is_one_line(run_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("frequency:\n  colour: red\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(run_dir), "--semantics", str(bad)])
    assert result.exit_code == 2
    assert "unknown keys ['colour']" in result.output


def test_old_profiles_are_recomputed(run_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(run_dir, tmp_path / "old")
    profiles = pd.read_csv(copy / "segment_profiles.csv")
    profiles.iloc[:, :11].to_csv(copy / "segment_profiles.csv", index=False)
    path = write_report(copy, map_method="none")
    assert "were recomputed from users_segmented and the saved model" in \
        path.read_text(encoding="utf-8")


def test_not_a_run_folder(tmp_path: Path) -> None:
    from personae.errors import ModelFileError

    with pytest.raises(ModelFileError, match=r"not a personae run folder \(no run.json\)"):
        build_report(tmp_path)


def test_optional_parts_of_other_algorithms(run_dir: Path, tmp_path: Path) -> None:
    """Edge users (-1), GMM memberships, hierarchy levels and algorithm choice, when present."""
    copy = shutil.copytree(run_dir, tmp_path / "density")
    users = pd.read_parquet(copy / "users_segmented.parquet")
    users.loc[users.index[:40], "segment"] = -1
    users.insert(2, "probability", 0.9)
    users.insert(3, "second_segment", (users["segment"] + 1) % 3)
    users.insert(4, "mixed", users.index % 4 == 0)
    users.insert(5, "level_1", users["segment"].clip(lower=0) // 2)
    users.to_parquet(copy / "users_segmented.parquet")
    pd.read_csv(copy / "segment_profiles.csv").iloc[:, :11].to_csv(
        copy / "segment_profiles.csv", index=False)
    info = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    info["algorithm"] = {"name": "hdbscan", "params": {"min_cluster_size": 25},
                         "why": "best DBCV & stability"}
    (copy / "run.json").write_text(json.dumps(info), encoding="utf-8")
    pd.DataFrame({"algorithm": ["kmeans", "hdbscan"], "score": [0.4, 0.6]}).to_csv(
        copy / "algorithm_selection.csv", index=False)
    html = write_report(copy, map_method="pca").read_text(encoding="utf-8")
    personas = json.loads((copy / "personas.json").read_text(encoding="utf-8"))["personas"]
    assert personas[0]["segment"] == -1 and personas[0]["name"] == "Edge Users"
    assert html.count('class="card persona-card"') == 4
    assert "best DBCV &amp; stability" in html and "hdbscan (min_cluster_size=25)" in html
    assert "Algorithms compared (algorithm_selection.csv)" in html
    assert "Taxonomy (hierarchical levels)" in html
    assert "of this group also behaves like" in html
    assert "median probability of the assigned segment 0.90" in html


def test_run_ends_with_the_report(tmp_path: Path, make_users) -> None:
    data = tmp_path / "users.csv"
    make_users(300).drop(columns=[HOSTILE]).to_csv(data, index=False)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(data), "--out", str(out), "--k", "3",
                                      "--report-map", "none"])
    assert result.exit_code == 0, result.output
    assert "report.html" in result.stdout and (out / "report.html").is_file()
    personas = json.loads((out / "personas.json").read_text(encoding="utf-8"))["personas"]
    assert len(personas) == 3


def test_a_segment_whose_stability_was_not_measured_shows_as_such() -> None:
    from personae.report.figures import segment_stability

    figure = segment_stability({"per_segment_jaccard": {"0": 0.93, "1": None},
                                "threshold": 0.6, "how": "5 refits"}, {0: "Regulars"})
    assert figure is not None
    bar = figure.figure.data[0]
    assert list(bar.text) == ["0.93", "not measured"]
    assert list(bar.y) == [0.93, 0.0]


def test_a_transaction_log_shows_lifecycle_journeys(tmp_path: Path) -> None:
    """No event column (a shop's order lines): the journeys are first order, second, ...
    with the gaps and where each persona stops, as `make demo` shows them."""
    from personae.config import EventsConfig, InputConfig, RunConfig
    from personae.pipeline import segment

    rng = np.random.default_rng(3)
    rows = []
    for u in range(240):
        orders = 1 if u % 2 else 6  # one-timers and regulars
        day = 0.0
        for n in range(orders):
            day += float(rng.uniform(20, 40)) if n else float(rng.uniform(0, 30))
            for line in range(1 + u % 3):
                rows.append((f"u{u}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=day),
                             f"o{u}-{n}", f"p{line}", 1 + line, 2.5))
    log = pd.DataFrame(rows, columns=["customer_id", "order_date", "order_id", "sku",
                                      "quantity", "price"])
    result = segment(log, config=RunConfig(input=InputConfig(events=EventsConfig())), k=2,
                     stability=False)
    assert result.journeys is not None and result.journeys["kind"] == "lifecycle"
    result.save(tmp_path / "run")  # the report of the saved folder reads journeys.json
    html, _ = build_report(tmp_path / "run", map_method="none")
    assert "1st order" in html and "Where they stop" in html and "median gap before" in html
