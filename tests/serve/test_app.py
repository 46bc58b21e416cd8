"""The service over a real socket: routes, the same labels as `personae assign`, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from personae.cli import app as cli_app
from personae.model import SegmentModel


def _rows(frame: pd.DataFrame) -> list[dict]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: v for k, v in r.items()} for r in rows]


def test_every_training_user_gets_the_label_personae_assign_gives(serve_model, users_model,
                                                                  tmp_path):
    folder, frame = users_model
    csv = tmp_path / "users.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "assigned.csv"
    result = CliRunner().invoke(cli_app, ["assign", str(folder), str(csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    batch = pd.read_csv(out)
    # the server reads the CSV's values as a client would send them
    sent = pd.read_csv(csv)
    running = serve_model(folder)
    got = []
    with running.client() as client:
        for start in range(0, len(sent), 250):
            answer = client.post("/assign", json={"users": _rows(sent.iloc[start:start + 250])})
            assert answer.status_code == 200, answer.text
            got += answer.json()["assignments"]
    assert [a["user_id"] for a in got] == batch["user_id"].tolist()
    np.testing.assert_array_equal([a["segment"] for a in got], batch["segment"].to_numpy())
    assert len(set(batch["segment"])) == 3


def test_routes_say_which_model_answered(serve_model, users_model, tmp_path):
    folder, frame = users_model
    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    (copy / "segments.json").write_text(json.dumps([
        {"segment": 0, "persona": "Steady Savers", "size": 200, "share": 0.33},
        {"segment": 1, "persona": "Power Users", "size": 200, "share": 0.33},
        {"segment": 2, "persona": "Lapsed", "size": 200, "share": 0.34}]))
    running = serve_model(copy)
    with running.client() as client:
        assert client.get("/health").json() == {"status": "ok"}
        ready = client.get("/ready").json()
        assert ready["ready"] is True
        assert ready["features"] == ["days_since", "plan", "region", "spend", "visits"]
        model = ready["model"]
        assert len(model["hash"]) == 16 and model["version"] and model["created"]
        segments = client.get("/segments").json()
        assert [s["persona"] for s in segments["segments"]] == ["Steady Savers",
                                                                "Power Users", "Lapsed"]
        personas = client.get("/personas").json()["personas"]
        assert personas[1] == {"segment": 1, "name": "Power Users", "size": 200,
                               "share": 0.33, "key_facts": []}
        user = _rows(frame.iloc[:1])[0]
        answer = client.post("/assign", json={"users": [user]}).json()
        assert answer["model"] == model
        row = answer["assignments"][0]
        assert set(row) == {"user_id", "segment", "persona", "probability", "novel",
                            "broad_segment"}
        assert row["persona"] == ["Steady Savers", "Power Users", "Lapsed"][row["segment"]]
        assert row["probability"] is None and row["novel"] is False


def test_personas_answer_the_key_facts_of_personas_json(serve_model, events_run):
    run_dir, _ = events_run
    saved = json.loads((run_dir / "personas.json").read_text(encoding="utf-8"))["personas"]
    with serve_model(run_dir / "model").client() as client:
        answered = client.get("/personas").json()["personas"]
    assert {p["segment"]: p["key_facts"] for p in answered} == {
        p["segment"]: [f["text"] for f in p["data_says"][:5]] for p in saved}
    assert all(p["key_facts"] for p in answered if p["segment"] >= 0)


def test_names_fall_back_to_segment_numbers(serve_model, users_model):
    folder, _ = users_model
    running = serve_model(folder)
    with running.client() as client:
        names = [s["persona"] for s in client.get("/segments").json()["segments"]]
    assert names == ["segment 0", "segment 1", "segment 2"]


def test_a_far_away_user_is_novel(serve_model, users_model):
    folder, frame = users_model
    user = {**_rows(frame.iloc[:1])[0], "visits": 1e6, "spend": 1e9}
    running = serve_model(folder)
    with running.client() as client:
        row = client.post("/assign", json={"users": [user]}).json()["assignments"][0]
    assert row["novel"] is True


def test_fast_path_matrix_is_the_models_transform_bit_for_bit(users_model):
    from personae.serve.loaded import load_model

    folder, frame = users_model
    loaded = load_model(folder)
    sent = _rows(frame)
    np.testing.assert_array_equal(loaded.matrix(sent), loaded.model.transform(frame))
    labels = [a["segment"] for a in loaded.assign(sent, frame["user_id"].tolist())]
    np.testing.assert_array_equal(labels, loaded.model.predict(frame))


@pytest.mark.slow
def test_soft_and_nested_models_give_probability_and_broad_segment(users_model, tmp_path):
    from personae.serve.loaded import load_model

    _, frame = users_model
    for algorithm, key in (("gmm", "probability"), ("hierarchical", "broad_segment")):
        model = SegmentModel(algorithm=algorithm, k=3, stability=False, categorical=["region"])
        model.fit(frame).save(tmp_path / algorithm)
        loaded = load_model(tmp_path / algorithm)
        rows = loaded.assign(_rows(frame), frame["user_id"].tolist())
        np.testing.assert_array_equal([r["segment"] for r in rows], model.predict(frame))
        values = [r[key] for r in rows]
        assert all(v is not None for v in values)
        if key == "probability":
            assert all(0 < v <= 1 for v in values)
            best = model.predict_proba(frame).max(axis=1)
            np.testing.assert_allclose(values, best, atol=1e-6)


def test_a_row_copied_from_the_training_file_is_accepted(serve_model, tmp_path):
    from generated import telco_users

    frame, _ = telco_users(n=150)
    model = SegmentModel(algorithm="kmeans", k=3, features=["tenure", "TotalCharges", "Contract"],
                         stability=False).fit(frame)
    model.save(tmp_path / "model")
    csv = tmp_path / "telco.csv"
    frame.to_csv(csv, index=False)
    rows = _rows(pd.read_csv(csv).head(20))  # every column, MonthlyCharges included
    running = serve_model(tmp_path / "model")
    with running.client() as client:
        answer = client.post("/assign", json={"users": rows})
        assert answer.status_code == 200, answer.text
        assert [a["segment"] for a in answer.json()["assignments"]] == \
            model.labels_[:20].tolist()
        # a key the training file never had is still refused
        error = client.post("/assign", json={"users": [{**rows[0], "colour": "red"}]})
    assert error.status_code == 422
    assert error.json()["error"] == "users[0].colour: unknown features ['colour']"


def test_assign_answers_compact_json_model_first_with_its_length(serve_model, users_model):
    folder, frame = users_model
    running = serve_model(folder)
    with running.client() as client:
        answer = client.post("/assign", json={"users": _rows(frame.iloc[:2])})
        schema = client.get("/openapi.json").json()["paths"]["/assign"]["post"]
    assert answer.headers["content-type"] == "application/json"
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert answer.content == json.dumps(answer.json(), separators=(",", ":")).encode()
    assert list(answer.json()) == ["model", "assignments"]
    assert answer.json()["model"] == running.app.state.holder.current.info.as_dict()
    body = schema["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["users"]


@pytest.mark.parametrize("features", [["visits", "plan"], ["plan", "region"]])
def test_fast_path_matrix_with_one_numeric_column_or_none(users_model, features, tmp_path):
    from personae.serve.loaded import load_model

    _, frame = users_model
    declared = {"categorical": ["region"]} if "region" in features else {}
    model = SegmentModel(algorithm="kmeans", k=3, features=features, stability=False,
                         **declared).fit(frame)
    model.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert len(loaded.numeric) == features.count("visits")
    np.testing.assert_array_equal(loaded.matrix(_rows(frame)), model.transform(frame))
