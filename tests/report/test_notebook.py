"""A run shows itself in a notebook: personas, sizes, facts and a small map (``_repr_html_``),
and a short ``repr`` for terminals."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from generated import blob_users
from personae import load_run, segment
from personae.report.notebook import MAP_POINTS, notebook_html


def test_a_result_and_its_saved_run_show_their_personas_inline(tmp_path: Path) -> None:
    frame, truth = blob_users(n=900, k=3, n_features=3, seed=5)
    result = segment(frame, k=3, algorithm="kmeans", stability=False, random_state=0)
    names = [p["name"] for p in result.personas["personas"]]
    assert repr(result) == (f"SegmentationResult(source='DataFrame', users=900, segments=3, "
                            f"algorithm='kmeans', personas={names!r})")
    shown = result._repr_html_()
    assert shown.startswith('<div class="personae-run"')
    assert "3 personas of 900 users from DataFrame (kmeans)" in shown
    for name in names:
        assert f"<b>{name}</b>" in shown
    assert shown.count("33.3%") == 3  # three planted groups of 300
    assert "<script" not in shown  # renders offline, in any viewer
    assert len(re.findall("<circle ", shown)) == min(len(result.user_map), MAP_POINTS)
    saved = load_run(result.save(tmp_path / "run"))._repr_html_()
    assert all(f"<b>{name}</b>" in saved for name in names) and "<svg" in saved


def test_names_and_facts_are_escaped_and_no_map_is_drawn_without_one() -> None:
    personas = {"personas": [{"segment": 0, "name": "Big <b>spenders</b> & co", "size": 4,
                              "share": 0.0004, "data_says": [{"text": "spend > 5 & <10"}]}]}
    shown = notebook_html(personas, None, "a <title>")
    assert "Big &lt;b&gt;spenders&lt;/b&gt; &amp; co" in shown
    assert "spend &gt; 5 &amp; &lt;10" in shown and "a &lt;title&gt;" in shown
    assert "<0.1%" not in shown and "&lt;0.1%" in shown and "<svg" not in shown
    assert "<svg" in notebook_html(personas, pd.DataFrame(
        {"x": [0.0, 1.0], "y": [1.0, 0.0], "segment": [0, 0], "method": "pca"}), "t")
