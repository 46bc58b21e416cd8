"""Word2Vec user vectors: the planted order is recovered, counts are not enough; I/O."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

import personae
from personae.errors import ConfigError, ModelFileError, NotFittedError
from personae.features import from_events
from personae.features.embeddings import (
    BIGRAM,
    EXACT_PASSES,
    MIN_EPOCHS,
    SequenceEmbedder,
    Word2VecConfig,
    corpus,
    training_epochs,
    training_workers,
)
from personae.features.planted import planted_order_log
from personae.features.sequence_pipeline import (
    SequenceOptions,
    embed_new,
    save_sequence_model,
    sequence_table,
)
from personae.features.sequence_profiles import profile_lines, sequence_profiles
from personae.features.sequences import sequences_from_events, sequences_from_lists


@pytest.fixture(scope="module")
def planted():
    log, truth = planted_order_log(users_per_group=60, groups=4, sessions=3, noise=0.1, seed=3)
    return log, truth


def _ari(truth: pd.Series, ids, labels) -> float:
    return adjusted_rand_score(truth.loc[np.asarray(ids)].to_numpy(), labels)


def _kmeans(X: np.ndarray) -> np.ndarray:
    return KMeans(4, n_init=10, random_state=0).fit_predict(StandardScaler().fit_transform(X))


def test_embedding_recovers_the_order_that_counts_cannot_see(planted):
    log, truth = planted
    seqs = sequences_from_events(log)
    X, report = SequenceEmbedder().fit(seqs).transform(seqs)
    assert X.shape == (240, 32) and report.unseen_tokens == 0
    assert _ari(truth, seqs.ids, _kmeans(X)) >= 0.8
    counts = from_events(log).frame
    rfm = counts.drop(columns="user_id").loc[:, lambda f: f.nunique() > 1].to_numpy(float)
    assert _ari(truth, counts["user_id"], _kmeans(rfm)) < 0.1
    unordered = SequenceEmbedder(Word2VecConfig(ngrams=False)).fit(seqs).transform(seqs)[0]
    assert np.allclose(unordered[truth.loc[seqs.ids].to_numpy() == 0].std(axis=0), 0,
                       atol=0.05) or _ari(truth, seqs.ids, _kmeans(unordered)) < 0.3


@pytest.mark.parametrize("representation", ["embedding", "hybrid"])
def test_segment_recovers_the_groups_alone_and_hybrid(planted, representation):
    log, truth = planted
    table = sequence_table(log, SequenceOptions(representation=representation),
                           features=from_events(log).frame)
    result = personae.segment(table.frame, id_column="user_id", algorithm="kmeans", k=4)
    assert _ari(truth, result.ids, result.labels) >= 0.8
    if representation == "hybrid":
        assert any(c.startswith("share_event") or c == "recency_days"
                   for c in table.frame.columns)
        assert "each block weighs its column count" in table.notes[0]


def test_seed_reproduces_and_the_cache_returns_the_same_vectors(planted, tmp_path):
    seqs = sequences_from_events(planted[0])
    a = SequenceEmbedder(Word2VecConfig(seed=5)).fit(seqs, cache_dir=tmp_path)
    b = SequenceEmbedder(Word2VecConfig(seed=5)).fit(seqs)
    assert np.array_equal(a.transform(seqs)[0], b.transform(seqs)[0])
    cached = SequenceEmbedder(Word2VecConfig(seed=5)).fit(seqs, cache_dir=tmp_path)
    assert cached.cached_ and np.array_equal(cached.vectors_, a.vectors_)
    assert len(list(tmp_path.iterdir())) == 1


def test_new_users_embed_the_same_way_and_unseen_tokens_are_counted(planted, tmp_path):
    log, _ = planted
    table = sequence_table(log, SequenceOptions())
    (tmp_path / "model").mkdir()
    save_sequence_model(table, tmp_path / "model")
    again, report = embed_new(tmp_path / "model", log)
    assert np.allclose(again.set_index("user_id").loc[table.frame["user_id"]].to_numpy(),
                       table.frame.drop(columns="user_id").to_numpy(), atol=1e-5)
    new = pd.DataFrame({"user_id": [1, 1, 2], "timestamp": pd.to_datetime(
        ["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:00"]),
        "event_type": ["view", "refund", "refund"]})
    frame, report = embed_new(tmp_path / "model", new)
    assert report.unseen_tokens == 2 and report.unseen_distinct == ("refund",)
    assert report.users_without_vector == 1
    assert np.allclose(frame.iloc[1, 1:].to_numpy(float), 0)


def test_embedder_errors():
    with pytest.raises(NotFittedError, match="transform called before fit"):
        SequenceEmbedder().transform(sequences_from_lists([1], [["a"]]))
    with pytest.raises(ConfigError, match="The 'dimensions' parameter must be an int >= 1"):
        Word2VecConfig(dimensions=0)
    with pytest.raises(ConfigError, match="no token is seen 5\\+ times"):
        SequenceEmbedder().fit(sequences_from_lists([1, 2], [["a"], ["b"]]))
    with pytest.raises(ModelFileError, match="cannot read the sequence embedder"):
        SequenceEmbedder.load("/nonexistent-folder")
    with pytest.raises(ConfigError, match="--embedding-share must be a number in"):
        SequenceOptions(embedding_share=1.0)


def test_profiles_name_the_planted_order(planted):
    log, truth = planted
    table = sequence_table(log, SequenceOptions())
    labels = truth.loc[table.sequences.ids].to_numpy()
    profiles = sequence_profiles(table.sequences, labels, table.vectors)
    first = profiles[0]  # group 0: search, view, view, cart, purchase
    assert first["start"][0]["token"] == "search" and first["end"][0]["token"] == "purchase"
    assert first["ngrams"][0]["lift"] > 2 and first["ngrams"][0]["users"] >= 5
    assert first["medoids"][0]["tokens"][:5] == ["search", "view", "view", "cart", "purchase"]
    assert first["length"]["median"] == 17  # 3 sessions x 5 events + 2 <session>
    assert "over-represented" in profile_lines(profiles)[1]


def test_large_logs_train_on_a_seeded_sample_of_users(planted):
    seqs = sequences_from_events(planted[0])
    emb = SequenceEmbedder(Word2VecConfig(max_train_tokens=2_000)).fit(seqs)
    X, report = emb.transform(seqs)
    assert 2_000 <= emb.train_tokens_ < 2_100 and emb.train_users_ < len(seqs)
    assert X.shape[0] == len(seqs) and "a seeded sample of users" in report.notes[0]


def _interleaved(tokens: list[str]) -> list[str]:
    """The training sentence written out by hand: token, bigram, token, ..."""
    out: list[str] = []
    for a, b in zip(tokens, tokens[1:], strict=False):
        out += [a, f"{a}{BIGRAM}{b}"]
    return out + tokens[-1:]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["view", "cart", "buy", "<session>"]), max_size=6),
                min_size=1, max_size=8))
def test_the_numpy_corpus_is_tokens_interleaved_with_bigrams(lists):
    seqs = sequences_from_lists(list(range(len(lists))), lists)
    docs = corpus(seqs, ngrams=True)
    assert docs.sentences(np.arange(len(lists))) == [_interleaved(t) for t in lists]
    assert corpus(seqs, ngrams=False).sentences(np.arange(len(lists))) == lists
    assert seqs.take(np.arange(len(lists))[::-1]).as_lists() == lists[::-1]


def test_epochs_fall_with_corpus_size_and_workers_follow_the_stated_rule():
    config = Word2VecConfig()
    assert training_epochs(config, 100_000) == 15
    assert training_epochs(config, 1_000_000) == 6
    assert training_epochs(config, 2_000_000) == MIN_EPOCHS == 3
    assert training_epochs(config, 50_000_000) == 3  # never below the floor
    assert training_workers(config, EXACT_PASSES) == 1  # small: exactly reproducible
    assert training_workers(config, EXACT_PASSES + 1) == min(2, os.cpu_count() or 1)
    assert training_workers(Word2VecConfig(workers=1), 10 * EXACT_PASSES) == 1
    with pytest.raises(ConfigError, match="The 'workers' parameter must be an int >= 1"):
        Word2VecConfig(workers=0)


def test_a_one_event_user_is_its_token_and_a_user_with_no_known_token_is_counted(planted):
    log, _ = planted
    extra = pd.DataFrame({"user_id": [900, 901, 901], "timestamp": pd.to_datetime(
        ["2024-03-01 10:00", "2024-03-01 10:00", "2024-03-01 10:01"]),
        "event_type": ["cart", "refund", "refund"], "value": 0.0})
    seqs = sequences_from_events(pd.concat([log, extra], ignore_index=True), min_count=1)
    embedder = SequenceEmbedder().fit(seqs)
    X, report = embedder.transform(seqs)
    one = int(np.flatnonzero(seqs.ids == 900)[0])
    cart = embedder.vectors_[embedder.vocabulary_.index("cart")]
    assert np.allclose(X[one], cart - embedder.center_, atol=1e-5)
    # refund is seen twice: below Word2Vec's min_count of 5, so user 901 has no known token
    none = int(np.flatnonzero(seqs.ids == 901)[0])
    assert np.allclose(X[none], 0) and report.users_without_vector == 1
    assert "refund" in report.unseen_distinct and report.unseen_tokens == 2
    assert "users without any known token (zero vector): 1" in report.lines()
