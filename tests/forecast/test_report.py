"""The report shows each persona's forecast on its card and the held-out check."""

from __future__ import annotations

import html as html_text
import json
import re

from personae.report import write_report


def test_cards_and_the_forecast_section_quote_the_run(forecast_run):
    _, run_dir, _, _ = forecast_run
    html = write_report(run_dir).read_text(encoding="utf-8")
    text = html_text.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))
    personas = json.loads((run_dir / "personas.json").read_text())["personas"]
    for persona in personas:
        f = persona["forecast"]
        assert (f"{f['users_at_risk']:,} at risk ({f['at_risk_share'] * 100:.0f}%); expected "
                f"{f['expected_events']:,.0f} purchase days") in text
    check = json.loads((run_dir / "run.json").read_text())["forecast"]["holdout"]
    assert f"per-user correlation with what they did {check['correlation']:.2f}" in text
    assert "the last third of the log's span held out" in text
    assert 'href="#forecast"' in html and 'id="plot-forecast_holdout"' in html
    # which repeat-event model, both likelihoods, and whether the at-risk flag meant anything
    block = json.loads((run_dir / "run.json").read_text())["forecast"]
    assert f"Parameters: {block['model']} r " in text
    assert all(f"{name} {ll:,.1f}" in text for name, ll in block["log_likelihoods"].items())
    flagged = check["at_risk"]
    assert f"at risk on {check['calibration_end']}: {flagged['users']:,} users" in text
    assert flagged["users"] > 0 and "came back in the held-out days" in text
