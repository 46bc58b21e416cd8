"""Sequences on slices of real logs (UCI clickstream, REES46 head); the sentence model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personae.features.sequence_pipeline import SequenceOptions, sequence_table
from personae.features.sequence_profiles import sequence_profiles
from personae.features.sequences import SESSION_TOKEN, sequences_from_events

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CLICKS = DATA / "uci_clickstream_eshop2008" / "e_shop_clothing_2008.parquet"
REES = DATA / "rees46_2019oct_head" / "2019-Oct_head17434.parquet"


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (expects ../shared beside the repo)")


@pytest.fixture(scope="module")
def clicks() -> pd.DataFrame:
    _need(CLICKS)
    frame = pd.read_parquet(CLICKS).iloc[:20_000]
    frame["date"] = pd.to_datetime(dict(year=frame.year, month=frame.month, day=frame.day))
    return frame


def test_clickstream_sessions_follow_the_click_number(clicks):
    seqs = sequences_from_events(clicks, user="session_id", time="date", position="order",
                                 event="page1_main_category", item="page2_clothing_model",
                                 tokens="event+item")
    expected = clicks.sort_values(["session_id", "order"]).groupby("session_id").size()
    assert seqs.ids.tolist() == expected.index.tolist()
    assert np.array_equal(seqs.lengths, expected.to_numpy())  # one day a session: no breaks
    first = clicks[clicks.session_id == seqs.ids[0]].sort_values("order")
    tokens = [t for t in seqs.tokens(0) if t != SESSION_TOKEN]
    grouped = [t for t in tokens if "<rare>" in t]
    assert len(tokens) == len(first) and len(grouped) <= len(tokens)
    assert tokens[0].split("|")[0] == str(first.page1_main_category.iloc[0])


def test_rees46_view_cart_purchase_paths():
    _need(REES)
    log = pd.read_parquet(REES)
    table = sequence_table(log, SequenceOptions(mapping={"session": "user_session"}))
    seqs = table.sequences
    assert len(seqs) == log.user_id.nunique() and set(seqs.vocabulary) >= {"view", "cart"}
    buyers = np.array(["purchase" in seqs.tokens(i) for i in range(len(seqs))])
    profiles = sequence_profiles(seqs, buyers.astype(int), table.vectors)
    assert profiles[1]["users"] == log.loc[log.event_type == "purchase", "user_id"].nunique()
    assert any("purchase" in g["ngram"] for g in profiles[1]["ngrams"])


@pytest.mark.slow
def test_sentence_model_encodes_order(tmp_path):
    from personae.features.embeddings import sentence_vectors
    from personae.features.sequences import sequences_from_lists

    seqs = sequences_from_lists([1, 2, 3], [["view", "cart", "purchase"],
                                            ["purchase", "view", "cart"],
                                            ["view", "cart", "purchase"]])
    X, report = sentence_vectors(seqs, cache_dir=tmp_path)
    assert X.shape == (3, 384) and np.allclose(X[0], X[2], atol=1e-5)
    assert not np.allclose(X[0], X[1], atol=1e-3)
    again, cached = sentence_vectors(seqs, cache_dir=tmp_path)
    assert cached.cached and np.array_equal(again, X)


def test_clickstream_run_personas_quote_real_sessions(clicks):
    """A run on the clickstream slice: the log has dates only, so the click number orders
    the events (and the report says so); each persona's typical sequence is a real session
    of the log, its clicks in order."""
    from personae.config import EventsConfig, InputConfig, RunConfig, SequencesConfig
    from personae.pipeline import segment

    mapping = {"user": "session_id", "time": "date", "event": "page1_main_category",
               "position": "order"}
    config = RunConfig(input=InputConfig(events=EventsConfig(mapping=mapping),
                                         sequences=SequencesConfig()))
    log = clicks[["session_id", "date", "order", "page1_main_category"]]
    result = segment(log, config=config, algorithm="kmeans", k=4, random_state=0)
    lines = result.info["input"]["report"]
    assert any("ties:" in line and "the position column 'order'" in line for line in lines)
    for persona in result.personas["personas"]:
        story = persona["sequence"]
        session = log[log.session_id == story["typical_user"]].sort_values("order")
        clicks_in_order = session.page1_main_category.astype(str).tolist()
        assert story["typical"] == clicks_in_order[:len(story["typical"])]
        assert story["sentences"] and persona["narrative"].count("of them") >= 1
