"""A run shows itself in a notebook: personas, sizes, facts and the report's map as an
offline Plotly figure (``_repr_html_``), the whole report inline (``show``), and a short
``repr`` for terminals."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from generated import blob_users
from personae import load_run, segment
from personae.report.notebook import notebook_html


def _map_spec(shown: str) -> dict:
    found = re.search(r'<script type="application/json" id="personae-map-\w+-spec">(.*?)'
                      r"</script>", shown, re.S)
    assert found is not None, "no map figure in the output"
    return json.loads(found.group(1))


def _points(values) -> int:
    """How many values a Plotly array holds (a list, or the typed array plotly writes)."""
    if isinstance(values, dict):
        return len(base64.b64decode(values["bdata"])) // np.dtype(values["dtype"]).itemsize
    return len(values)


@pytest.fixture(scope="module")
def result():
    frame, _ = blob_users(n=900, k=3, n_features=3, seed=5)
    return segment(frame, k=3, algorithm="kmeans", stability=False, random_state=0)


def test_a_result_and_its_saved_run_show_personas_and_an_offline_map(result,
                                                                     tmp_path: Path) -> None:
    names = [p["name"] for p in result.personas["personas"]]
    assert repr(result) == (f"SegmentationResult(source='DataFrame', users=900, segments=3, "
                            f"algorithm='kmeans', personas={names!r})")
    shown = result._repr_html_()
    assert shown.startswith('<div class="personae-run"')
    assert "3 personas of 900 users from DataFrame (kmeans)" in shown
    for name in names:
        assert f"<b>{html.escape(name)}</b>" in shown
    assert shown.count("33.3%") == 3  # three planted groups of 300
    # each persona's card, folded: its narrative and its empathy map, hypotheses marked
    cards = re.findall(r'<details class="personae-card".*?</details>', shown, re.S)
    assert len(cards) == 3
    for card, persona in zip(cards, result.personas["personas"], strict=True):
        assert html.escape(persona["narrative"]) in card
        assert "Says <span" in card and "(hypothesis)" in card and "Does <span" in card
        assert "(measured)" in card
    # the map: every sampled user, one trace per persona, drawn by plotly.js inlined here
    spec = _map_spec(shown)
    assert sorted(t["name"] for t in spec["data"]) == sorted(html.escape(n) for n in names)
    assert sum(_points(t["x"]) for t in spec["data"]) == len(result.user_map)
    assert "plotly.js v" in shown and not re.search(r"<script[^>]*\ssrc=", shown)  # offline
    saved = load_run(result.save(tmp_path / "run"))._repr_html_()
    assert all(f"<b>{html.escape(name)}</b>" in saved for name in names)
    assert _map_spec(saved)["data"] == spec["data"]


def test_show_displays_the_report_in_a_frame_of_its_own(result, tmp_path: Path,
                                                        monkeypatch) -> None:
    """A result shows the report built from memory; a loaded run shows the report.html it
    saved, and says how to write one when it has none."""
    display = pytest.importorskip("IPython.display", reason="IPython comes with [dev]")
    from personae.errors import ModelFileError
    from personae.report import write_report

    shown: list = []
    monkeypatch.setattr(display, "display", shown.append)
    result.show()
    run = load_run(result.save(tmp_path / "run"))
    with pytest.raises(ModelFileError, match=r"report.html: missing; write it with "
                                             r"'personae report .*run'"):
        run.show()
    write_report(result, run.path)
    run.show()
    assert len(shown) == 2
    for frame in shown:
        [srcdoc] = re.findall(r'<iframe srcdoc="([^"]*)"', frame.data)  # one attribute, whole
        report = html.unescape(srcdoc)
        assert report.startswith("<!DOCTYPE html>") and report.rstrip().endswith("</html>")
        assert all(p["name"] in report for p in result.personas["personas"])
    assert html.unescape(re.findall(r'srcdoc="([^"]*)"', shown[1].data)[0]) == \
        (run.path / "report.html").read_text(encoding="utf-8")


def test_names_and_facts_are_escaped_and_no_map_is_drawn_without_one() -> None:
    personas = {"personas": [{"segment": 0, "name": "Big <b>spenders</b> & co", "size": 4,
                              "share": 0.0004, "data_says": [{"text": "spend > 5 & <10"}]}]}
    shown = notebook_html(personas, None, 4, "a <title>")
    assert "Big &lt;b&gt;spenders&lt;/b&gt; &amp; co" in shown
    assert "spend &gt; 5 &amp; &lt;10" in shown and "a &lt;title&gt;" in shown
    assert "<0.1%" not in shown and "&lt;0.1%" in shown and "<script" not in shown
    drawn = notebook_html(personas, pd.DataFrame(
        {"x": [0.0, 1.0], "y": [1.0, 0.0], "segment": [0, 0], "method": "PCA",
         "seconds": 0.1}), 4, "t")
    assert "</script>" not in _map_spec(drawn)["data"][0]["name"]
    assert _map_spec(drawn)["data"][0]["name"] == "Big &lt;b&gt;spenders&lt;/b&gt; &amp; co"
