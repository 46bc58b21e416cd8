"""Bad requests get one JSON object naming the field: 422, 413, 401, 404; never a traceback."""

from __future__ import annotations

import pytest

USER = {"user_id": "x1", "visits": 2.0, "spend": 60.0, "days_since": 3.0, "plan": "free",
        "region": 2}


@pytest.fixture
def client(serve_model, users_model):
    folder, _ = users_model
    running = serve_model(folder, max_users=50, max_body_bytes=20_000)
    with running.client() as c:
        yield c


@pytest.mark.parametrize("body, field, words", [
    ({"users": [{**USER, "colour": "red"}]}, "users[0].colour", "unknown features"),
    ({"users": [{k: v for k, v in USER.items() if k != "spend"}]}, "users[0].spend",
     "missing features"),
    ({"users": [{**USER, "spend": "12abc"}]}, "users[0].spend", "'12abc' is not a number"),
    ({"users": [{**USER, "spend": [1]}]}, "users[0].spend", "expected a number"),
    ({"users": [{k: v for k, v in USER.items() if k != "user_id"}]}, "users[0].user_id",
     "every user needs a user_id"),
    ({"users": []}, "users", "at least 1 item"),
    ({"people": [USER]}, "users", "Field required"),
    ({"users": [USER], "extra": 1}, "extra", "Extra inputs"),
    ({"users": "everyone"}, "users", "valid array"),  # JSON words
])
def test_bad_assign_requests_name_the_field(client, body, field, words):
    answer = client.post("/assign", json=body)
    assert answer.status_code == 422
    error = answer.json()
    assert error["field"] == field
    assert words in error["error"]
    assert "Traceback" not in answer.text


def test_unknown_features_list_the_known_ones(client):
    error = client.post("/assign", json={"users": [{**USER, "colour": "red"}]}).json()
    assert error["known_features"] == ["days_since", "plan", "region", "spend", "visits"]


def test_null_values_are_imputed_as_in_training(client):
    answer = client.post("/assign", json={"users": [{**USER, "spend": None, "plan": None}]})
    assert answer.status_code == 200


def test_body_that_is_not_json(client):
    answer = client.post("/assign", content=b"{not json",
                         headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["error"] == "body: the body is not valid JSON"


def test_over_the_limits_is_413(client):
    many = client.post("/assign", json={"users": [USER] * 51})
    assert many.status_code == 413
    assert many.json() == {"error": "51 users in one request; at most 50", "field": "users",
                           "limit": 50}
    big = client.post("/assign", content=b"x" * 20_001,
                      headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.json()["field"] == "body"

    def chunks():  # no content-length: counted as it arrives
        for _ in range(30):
            yield b" " * 1000

    streamed = client.post("/assign", content=chunks(),
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_unknown_route_and_method(client):
    assert client.get("/nothing").json() == {"error": "Not Found"}
    assert client.get("/assign").status_code == 405


def test_token(serve_model, users_model):
    folder, _ = users_model
    running = serve_model(folder, token="s3cret")
    with running.client() as c:
        assert c.get("/health").status_code == 200 and c.get("/ready").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            answer = c.post("/assign", json={"users": [USER]}, headers=headers)
            assert answer.status_code == 401
            assert answer.json()["field"] == "Authorization"
        assert c.get("/metrics").status_code == 401
        ok = c.post("/assign", json={"users": [USER]},
                    headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_a_bug_while_assigning_is_one_json_500_and_the_service_keeps_answering(
        serve_model, users_model, monkeypatch):
    folder, _ = users_model
    running = serve_model(folder)
    loaded = running.app.state.holder.current

    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("planted")

    with running.client() as c:
        monkeypatch.setattr(loaded, "assign", broken)
        answer = c.post("/assign", json={"users": [USER]})
        assert answer.status_code == 500
        assert answer.json()["error"].startswith("internal error (ZeroDivisionError)")
        assert "Traceback" not in answer.text
        monkeypatch.undo()
        assert c.post("/assign", json={"users": [USER]}).status_code == 200
        metrics = c.get("/metrics").text
    assert 'personae_requests_total{endpoint="/assign",status="500"} 1.0' in metrics


@pytest.mark.parametrize("size", [5_000_000, 50_000_000])
def test_a_python_client_posting_over_the_limit_reads_the_413(serve_model, users_model, size):
    """urllib sends the whole body before it reads the answer: a server that answers and
    closes at once resets its connection ("Connection reset by peer"). The rest of the body
    is read and dropped up to the stated cap first, as nginx's lingering close does."""
    import json
    import urllib.error
    import urllib.request

    from personae.serve.app import DRAIN_BYTES

    folder, _ = users_model
    running = serve_model(folder, max_body_bytes=20_000)
    request = urllib.request.Request(f"{running.url}/assign", data=b" " * size,
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert size <= 20_000 + DRAIN_BYTES  # within the cap: every client reads the answer
    assert refused.value.code == 413
    assert json.loads(refused.value.read()) == {
        "error": f"request body of {size:,} bytes is over the limit of 20,000",
        "field": "body", "limit": 20_000}
