"""Token sequences -> one vector per user: gensim Word2Vec, or a packaged sentence model.

Word2Vec (skip-gram, negative sampling), with settings chosen for behavioural logs, where
the vocabulary is small (tens to a few thousand tokens) and every token matters:

- the training "sentence" of a user interleaves its tokens with their bigrams
  (``view``, ``view→cart``, ``cart``, ...). A mean of token vectors cannot see order (two
  users with the same events in another order get the same mean); the bigrams can, and
  they share the space of the tokens, so similar transitions get similar vectors;
- ``dimensions=32`` (small vocabularies do not fill more), ``window=5``, ``negative=10``,
  ``epochs=15``, ``sample=0`` (no down-sampling: with a handful of event types the
  frequent ones would be thrown away), tokens and bigrams seen fewer than ``min_count`` (5)
  times left out of the model;
- at most ``max_train_tokens`` (2M) training tokens: above that a seeded sample of users
  trains the vectors (then every user is embedded), so training time stays flat;
- epochs capped by corpus size: training reads at most ``max_token_passes`` (6M) tokens,
  so ``epochs = min(15, max(3, ceil(6M / training tokens)))``: 15 up to 400k training
  tokens, 3 at the 2M cap (1M planted-order events: ARI 0.95 with 3 epochs, the same
  segments as 15, in a fifth of the time; benchmarks/README.md);
- workers: one thread with the seed (exactly reproducible) while training reads at most
  2M tokens (tokens x epochs; a few seconds), two threads above that unless
  ``workers=1`` is asked for (``--exact-embeddings``): gensim's threads interleave their
  updates, so two-thread vectors vary slightly between runs while the segments do not;
- the corpus (tokens interleaved with bigram codes) and the user vectors are numpy over
  the flat sequences; only the training sample becomes Python strings (gensim needs them);
- the user vector is the plain mean of its token and bigram vectors. SIF weighting
  (Arora et al. 2017: weight ``a / (a + p(token))``, ``a = 1e-3``, then the first principal
  component of all users removed) is available as ``weighting="sif"``, but it lost on the
  planted-order benchmark on every seed (ARI 0.87-0.92 against 0.94-0.97 for the mean,
  k-means K=4): in a behavioural log the frequent tokens and transitions are the signal,
  not stop words, and the common component it removes carries order
  (benchmarks/bench_sequences.py, table in benchmarks/README.md).

A user with no known token (all unseen, or all left out of the model) gets the zero vector
and is counted in :class:`EmbeddingReport`; unseen tokens are counted, never guessed.
Models save as JSON + npz (no pickle); ``cache_dir`` keeps trained models by input hash.
"""

from __future__ import annotations

import json
import logging
import os
import time as clock
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import sparse

from personae.data.documents import read_document, write_document
from personae.errors import ConfigError, ModelFileError, NotFittedError
from personae.features.sequences import Sequences

logger = logging.getLogger(__name__)

FORMAT = "personae.sequence-embedder"
FORMAT_VERSION = 1
LEGACY_FORMATS = {"personae-sequence-embedder/1": 1}  # its name carried the version
SENTENCE_MODEL = "all-MiniLM-L6-v2 int8 onnx"  # in the cache key: other vectors, other key
BIGRAM = "\u2192"  # view\u2192cart: "->" or ">" could be part of a token (<session>)
Weighting = Literal["sif", "mean"]
MIN_EPOCHS = 3
EXACT_PASSES = 2_000_000  # token passes up to which one worker (exact) is the default


@dataclass(frozen=True)
class Word2VecConfig:
    """The Word2Vec and user-vector settings (see the module docstring for why)."""

    dimensions: int = 32
    window: int = 5
    negative: int = 10
    epochs: int = 15
    min_count: int = 5
    ngrams: bool = True
    weighting: Weighting = "mean"
    sif_a: float = 1e-3
    max_train_tokens: int = 2_000_000
    max_token_passes: int = 6_000_000
    workers: int | None = None  # None: 1 (exact) on small corpora, 2 above EXACT_PASSES
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("dimensions", "window", "negative", "epochs", "min_count",
                     "max_train_tokens", "max_token_passes", "workers"):
            value = getattr(self, name)
            if name == "workers" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"The {name!r} parameter must be an int >= 1. "
                                  f"Got {value!r} instead.")
        if self.weighting not in ("sif", "mean"):
            raise ConfigError("The 'weighting' parameter must be one of ['sif', 'mean']. "
                              f"Got {self.weighting!r} instead.")


@dataclass(frozen=True)
class EmbeddingReport:
    """How one set of users was embedded."""

    method: str
    users: int
    tokens: int
    unseen_tokens: int
    unseen_distinct: tuple[str, ...]
    users_without_vector: int
    seconds: float
    train_seconds: float = 0.0
    cached: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def lines(self) -> list[str]:
        shown = ", ".join(self.unseen_distinct[:5])
        out = [f"embedding: {self.method}, {self.users:,} users in {self.seconds:.1f}s "
               f"(training {self.train_seconds:.1f}s{', from cache' if self.cached else ''})",
               f"unseen tokens: {self.unseen_tokens:,} of {self.tokens:,}"
               + (f" ({len(self.unseen_distinct):,} distinct: {shown})" if shown else ""),
               f"users without any known token (zero vector): {self.users_without_vector:,}"]
        return out + list(self.notes)


@dataclass(frozen=True)
class Corpus:
    """Every user's training sentence as codes: user ``i`` is
    ``codes[offsets[i]:offsets[i + 1]]``, a code indexes ``names`` (the sequences'
    tokens first, then the bigrams that occur). Built with numpy from the flat sequences,
    so 10M events never become 20M Python strings; only a training sample does."""

    codes: np.ndarray
    offsets: np.ndarray
    names: np.ndarray  # object array of str
    unigrams: int  # codes below this are tokens, the others bigrams

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def sentences(self, users: np.ndarray) -> list[list[str]]:
        """The sentences of ``users`` (row numbers) as gensim reads them."""
        bounds = self.offsets
        parts = [self.codes[bounds[u]:bounds[u + 1]] for u in users.tolist()]
        flat = self.names[np.concatenate(parts)].tolist() if parts else []
        sizes = np.cumsum([0] + [len(p) for p in parts]).tolist()
        return [flat[a:b] for a, b in zip(sizes[:-1], sizes[1:], strict=True)]


def corpus(seqs: Sequences, ngrams: bool) -> Corpus:
    """Tokens interleaved with their bigrams (``view``, ``view→cart``, ``cart``):
    a user of ``L`` tokens has ``2L - 1`` (``L`` without ngrams)."""
    vocab = np.asarray(seqs.vocabulary, dtype=object)
    codes = np.asarray(seqs.codes, dtype=np.int64)
    lengths = seqs.lengths.astype(np.int64)
    if not ngrams or not len(codes):
        return Corpus(codes, seqs.offsets.astype(np.int64), vocab, len(vocab))
    v = len(vocab)
    # a bigram pairs each token with the next one of the same user
    last = np.zeros(len(codes), dtype=bool)
    last[seqs.offsets[1:][lengths > 0] - 1] = True
    first_of_pair = np.flatnonzero(~last)
    pairs = codes[first_of_pair] * v + codes[first_of_pair + 1]
    distinct, pair_code = np.unique(pairs, return_inverse=True)
    bigram_names = np.array([f"{vocab[a]}{BIGRAM}{vocab[b]}" for a, b in
                             zip((distinct // v).tolist(), (distinct % v).tolist(),
                                 strict=True)], dtype=object)
    doc_lengths = np.where(lengths > 0, 2 * lengths - 1, 0)
    offsets = np.r_[0, np.cumsum(doc_lengths)].astype(np.int64)
    user_of = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(codes)) - seqs.offsets[:-1][user_of]
    slot = offsets[:-1][user_of] + 2 * position
    out = np.empty(int(offsets[-1]), dtype=np.int64)
    out[slot] = codes
    out[slot[first_of_pair] + 1] = v + pair_code
    return Corpus(out, offsets, np.concatenate([vocab, bigram_names]), v)


def training_epochs(config: Word2VecConfig, train_tokens: int) -> int:
    """``epochs``, lowered so that training reads at most ``max_token_passes`` tokens
    (tokens x epochs), never below ``MIN_EPOCHS``: on a few hundred thousand tokens every
    token needs the 15 passes; on 2M tokens of a vocabulary of tens to thousands of tokens
    each one is seen so often that 3 passes give the same segments (measured:
    benchmarks/README.md)."""
    if train_tokens <= 0:
        return config.epochs
    fit = -(-config.max_token_passes // train_tokens)
    return int(min(config.epochs, max(MIN_EPOCHS, fit)))


def training_workers(config: Word2VecConfig, passes: int) -> int:
    """``workers`` when given; else 1 (exactly reproducible with the seed) when training
    reads at most ``EXACT_PASSES`` tokens (a few seconds: nothing to gain), and 2 threads
    above that (gensim's threads interleave updates, so the vectors then vary slightly
    from run to run; ``workers=1`` keeps them exact)."""
    if config.workers is not None:
        return config.workers
    return 1 if passes <= EXACT_PASSES else max(1, min(2, os.cpu_count() or 1))


class SequenceEmbedder:
    """Fits token vectors on sequences and turns any users' sequences into vectors."""

    def __init__(self, config: Word2VecConfig | None = None) -> None:
        self.config = config

    # ------------------------------------------------------------------ fit
    def fit(self, seqs: Sequences, cache_dir: str | Path | None = None) -> SequenceEmbedder:
        config = self.config or Word2VecConfig()
        started = clock.perf_counter()
        key = _cache_key(seqs, config)
        cached = Path(cache_dir) / f"w2v-{key}" if cache_dir is not None else None
        if cached is not None and (cached / "embedder.json").exists():
            loaded = SequenceEmbedder.load(cached)
            self.__dict__.update(loaded.__dict__)
            self.train_seconds_, self.cached_ = 0.0, True
            logger.info("word2vec: loaded from cache %s", cached)
            return self
        from gensim.models import Word2Vec

        docs = corpus(seqs, config.ngrams)
        users = _training_sample(docs.lengths, config)
        sentences = docs.sentences(users)
        self.train_users_ = len(users)
        self.train_tokens_ = int(docs.lengths[users].sum())
        self.epochs_ = training_epochs(config, self.train_tokens_)
        self.workers_ = training_workers(config, self.train_tokens_ * self.epochs_)
        logger.info("word2vec: training on %d of %d users, %d tokens, %d epochs, %d "
                    "worker(s)", len(users), len(seqs), self.train_tokens_, self.epochs_,
                    self.workers_)
        model = Word2Vec(vector_size=config.dimensions, window=config.window,
                         sg=1, hs=0, negative=config.negative, epochs=self.epochs_,
                         min_count=config.min_count, sample=0, workers=self.workers_,
                         seed=config.seed)
        model.build_vocab(sentences)
        words = list(model.wv.index_to_key)
        if not words:
            raise ConfigError(f"no token is seen {config.min_count}+ times: lower min_count "
                              "(--min-count) or give more events")
        model.train(sentences, total_examples=len(sentences), epochs=self.epochs_)
        del sentences
        self.config_ = config
        self.vocabulary_ = tuple(str(w) for w in words)
        self.vectors_ = np.asarray(model.wv.vectors, dtype=np.float32)
        counts = np.array([model.wv.get_vecattr(w, "count") for w in words], dtype=np.float64)
        self.probability_ = (counts / counts.sum()).astype(np.float64)
        self.common_ = np.zeros(config.dimensions, dtype=np.float32)
        self.center_ = np.zeros(config.dimensions, dtype=np.float32)
        self.train_seconds_, self.cached_ = clock.perf_counter() - started, False
        users = self._raw_vectors(seqs, docs)[0]
        if config.weighting == "sif" and len(users) > 1:
            _, _, vt = np.linalg.svd(users - users.mean(axis=0), full_matrices=False)
            self.common_ = vt[0].astype(np.float32)
            users = users - np.outer(users @ self.common_, self.common_)
        self.center_ = users.mean(axis=0).astype(np.float32)
        logger.info("word2vec: %d tokens x %d dimensions in %.1fs", len(words),
                    config.dimensions, self.train_seconds_)
        if cached is not None:
            self.save(cached)
        return self

    # ------------------------------------------------------------ transform
    def transform(self, seqs: Sequences) -> tuple[np.ndarray, EmbeddingReport]:
        """User vectors (users x dimensions, centred on the training users) and a report."""
        if not hasattr(self, "vectors_"):
            raise NotFittedError("SequenceEmbedder.transform called before fit; call fit "
                                 "or load a saved embedder")
        started = clock.perf_counter()
        users, unseen, total, empty = self._raw_vectors(seqs)
        users = users - np.outer(users @ self.common_, self.common_) - self.center_
        users[empty] = 0.0
        report = EmbeddingReport(
            method=f"word2vec ({self.config_.weighting}, {self.config_.dimensions} dims)",
            users=len(seqs), tokens=total, unseen_tokens=sum(unseen.values()),
            unseen_distinct=tuple(sorted(unseen, key=lambda t: (-unseen[t], t))),
            users_without_vector=int(empty.sum()),
            seconds=clock.perf_counter() - started, train_seconds=self.train_seconds_,
            cached=self.cached_,
            notes=(f"word2vec trained on {self.train_users_:,} users "
                   f"({self.train_tokens_:,} tokens and bigrams, x{self.epochs_} "
                   f"epochs, {self.workers_} worker(s); at most "
                   f"{self.config_.max_train_tokens:,} tokens, a seeded sample of users "
                   f"above that; epochs lowered to keep tokens x epochs <= "
                   f"{self.config_.max_token_passes:,}, never below {MIN_EPOCHS}; "
                   + ("exactly reproducible with the seed)" if self.workers_ == 1 else
                      "2 threads: the vectors vary slightly between runs; workers=1 "
                      "(--exact-embeddings) makes them exact)"),))
        return users.astype(np.float32), report

    def _raw_vectors(self, seqs: Sequences, docs: Corpus | None = None
                     ) -> tuple[np.ndarray, dict[str, int], int, np.ndarray]:
        """Mean (or SIF-weighted mean) of each user's known token and bigram vectors, as
        one sparse product; unseen tokens (not bigrams: a bigram not in the model is rare,
        not new) counted by name."""
        docs = docs if docs is not None else corpus(seqs, self.config_.ngrams)
        index = {t: i for i, t in enumerate(self.vocabulary_)}
        known = np.array([index.get(t, -1) for t in docs.names.tolist()], dtype=np.int64)
        column = known[docs.codes]
        user_of = np.repeat(np.arange(len(docs.lengths)), docs.lengths)
        found = column >= 0
        missing = np.bincount(docs.codes[~found], minlength=len(docs.names))
        unseen = {str(docs.names[c]): int(missing[c]) for c in
                  np.flatnonzero(missing[:docs.unigrams])}
        weights = (self.config_.sif_a / (self.config_.sif_a + self.probability_)
                   if self.config_.weighting == "sif" else np.ones(len(index)))
        counts = sparse.csr_matrix((np.ones(int(found.sum())), (user_of[found],
                                                                column[found])),
                                   shape=(len(docs.lengths), len(index)))
        weighted = counts @ sparse.diags(weights)
        n = np.asarray(counts.sum(axis=1)).ravel()
        users = np.asarray(weighted @ self.vectors_.astype(np.float64))
        empty = n == 0
        users[~empty] /= n[~empty, None]
        return users, unseen, len(docs.codes), empty

    # ------------------------------------------------------------------ I/O
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"config": asdict(self.config_),
                "vocabulary": list(self.vocabulary_), "train_seconds": self.train_seconds_,
                "train_users": self.train_users_, "train_tokens": self.train_tokens_,
                "epochs": self.epochs_, "workers": self.workers_}
        np.savez(folder / "embedder.npz", vectors=self.vectors_, probability=self.probability_,
                 common=self.common_, center=self.center_)
        write_document(folder / "embedder.json", meta, FORMAT, FORMAT_VERSION)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SequenceEmbedder:
        folder = Path(folder)
        meta = read_document(folder / "embedder.json", FORMAT, (FORMAT_VERSION,),
                             what="cannot read the sequence embedder without it",
                             aliases=LEGACY_FORMATS)
        assert meta is not None  # required: read_document raised otherwise
        try:
            with np.load(folder / "embedder.npz", allow_pickle=False) as arrays:
                loaded = {k: arrays[k] for k in ("vectors", "probability", "common", "center")}
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{folder}: cannot read the sequence embedder ({exc})") from None
        obj = cls(Word2VecConfig(**meta["config"]))
        obj.config_ = Word2VecConfig(**meta["config"])
        obj.vocabulary_ = tuple(meta["vocabulary"])
        obj.vectors_ = loaded["vectors"]
        obj.probability_ = loaded["probability"]
        obj.common_, obj.center_ = loaded["common"], loaded["center"]
        obj.train_seconds_, obj.cached_ = float(meta.get("train_seconds", 0.0)), False
        obj.train_users_ = int(meta.get("train_users", 0))
        obj.train_tokens_ = int(meta.get("train_tokens", 0))
        obj.epochs_ = int(meta.get("epochs", obj.config_.epochs))
        obj.workers_ = int(meta.get("workers", 1))
        return obj


def _training_sample(lengths: np.ndarray, config: Word2VecConfig) -> np.ndarray:
    """All users (row numbers), or a seeded random sample of them holding
    ``max_train_tokens`` tokens: a vocabulary of tens of tokens is learnt long before that,
    and the training time then stays flat while the user vectors (a sparse product) scale
    linearly."""
    if int(lengths.sum()) <= config.max_train_tokens:
        return np.arange(len(lengths))
    order = np.random.default_rng(config.seed).permutation(len(lengths))
    sizes = np.cumsum(lengths[order])
    take = int(np.searchsorted(sizes, config.max_train_tokens)) + 1
    return np.sort(order[:take])


def _cache_key(seqs: Sequences, config: Any) -> str:
    import hashlib

    from gensim import __version__ as gensim_version

    text = json.dumps([seqs.digest(), asdict(config), gensim_version], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def sentence_vectors(seqs: Sequences, cache_dir: str | Path | None = None
                     ) -> tuple[np.ndarray, EmbeddingReport]:
    """Each user's sequence as text (``view cart <session> view``), encoded by
    all-MiniLM-L6-v2 on onnxruntime (:mod:`personae.features.minilm`; the ``[sentence]``
    extra, nothing is downloaded), each distinct text once. The model reads 256 word
    pieces at most: the text holds the 128 most recent tokens (the start is cut)."""
    import hashlib

    from personae.features import minilm

    started = clock.perf_counter()
    texts = [" ".join(seqs.tokens(i)[-128:]) for i in range(len(seqs))]
    key = hashlib.sha256(("\n".join(texts) + SENTENCE_MODEL).encode()).hexdigest()[:24]
    path = Path(cache_dir) / f"sentence-{key}.npy" if cache_dir is not None else None
    cached = path is not None and path.exists()
    if path is not None and cached:
        vectors = np.load(path, allow_pickle=False)
    else:
        vectors = minilm.encode(texts)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors, allow_pickle=False)
    report = EmbeddingReport(method="sentence (all-MiniLM-L6-v2 int8 on onnxruntime, 384 dims)",
                             users=len(seqs),
                             tokens=int(seqs.lengths.sum()), unseen_tokens=0,
                             unseen_distinct=(), users_without_vector=0,
                             seconds=clock.perf_counter() - started, cached=cached,
                             notes=("sentence vectors are not kept in the model: assign "
                                    "re-encodes new users with the same packaged model",))
    return vectors, report
