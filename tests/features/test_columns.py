"""Every input column is accounted for: it drives, describes, or is left out with a reason,
in run.json and in the report (a telco table's MonthlyCharges once went nowhere)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generated import telco_users
from personae.features.columns import column_roles
from personae.model import SegmentModel
from personae.pipeline import SegmentationResult, segment
from personae.report import write_report


@pytest.fixture(scope="module")
def telco_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SegmentationResult, Path]:
    frame, _ = telco_users()
    result = segment(frame, random_state=0)  # auto: persona levels, roles decide the split
    folder = tmp_path_factory.mktemp("telco") / "run"
    result.save(folder)
    write_report(result, folder)
    return result, folder


def test_every_telco_column_has_a_role_and_a_reason_in_run_json(telco_run):
    result, folder = telco_run
    columns = json.loads((folder / "run.json").read_text(encoding="utf-8"))["columns"]
    assert list(columns) == list(telco_users()[0].columns)
    assert {name: entry["role"] for name, entry in columns.items()} == {
        "customerID": "id", "gender": "drive", "tenure": "drive", "MonthlyCharges": "drive",
        "TotalCharges": "drive", "Contract": "drive", "InternetService": "drive",
        "Churn": "drive", "Country": "left out", "signup_month": "describe"}
    assert columns["Country"]["reason"] == "dropped by the cleaner: constant column"
    assert columns["signup_month"]["reason"].startswith("timing only")
    # the money column drives the split: the model reads it
    assert "MonthlyCharges" in result.model.feature_names


def test_the_report_lists_every_column_and_describes_the_describing_ones(telco_run):
    result, folder = telco_run
    html = (folder / "report.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="columns">'):]
    section = section[:section.index("</section>")]
    for name in telco_users()[0].columns:
        assert f"<td>{name}</td>" in section
    assert "<th>signup_month</th>" in section  # the per-persona table of describing columns
    assert section.count("<td>median ") == len(result.personas["personas"])


def test_columns_outside_the_asked_features_are_left_out_with_the_reason():
    frame, _ = telco_users(n=120)
    model = SegmentModel(algorithm="kmeans", k=3, features=["tenure", "MonthlyCharges"],
                         stability=False)
    model.fit(frame)
    roles = column_roles(model.preprocessor_, asked=["tenure", "MonthlyCharges"],
                         by_role=True)
    assert roles["tenure"] == {"role": "drive", "reason": "asked for (segmentation.features)"}
    assert roles["Contract"] == {"role": "left out", "reason": "not among the feature columns "
                                                             "asked for (segmentation.features)"}
    assert roles["customerID"]["role"] == "id"
    assert list(roles) == list(frame.columns)


def test_a_model_file_from_before_input_columns_still_loads(tmp_path: Path):
    frame, _ = telco_users(n=120)
    SegmentModel(algorithm="kmeans", k=3, features=["tenure", "Contract"],
                 stability=False).fit(frame).save(
        tmp_path / "model")
    document = json.loads((tmp_path / "model" / "model.json").read_text(encoding="utf-8"))
    assert document["preprocessor"].pop("input_columns") == list(frame.columns)
    (tmp_path / "model" / "model.json").write_text(json.dumps(document), encoding="utf-8")
    loaded = SegmentModel.load(tmp_path / "model")
    # it knew only the columns it used
    assert loaded.preprocessor_.input_columns_ == ["customerID", "tenure", "Contract"]
