"""K-means over everyone in Spark, started from the centroids the embedded model found on
the driver sample; and the users' labels by the embedded model itself, on the executors.

The model travels to the executors as its saved files (model.json, arrays.npz...) and
is rebuilt there with :meth:`SegmentModel.load`: the preprocessor that scales a user and
the rule that labels them are the embedded engine's own code, so a Spark run's labels are
those ``SegmentModel.load(run/model).predict`` gives.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.spark import adapter

logger = logging.getLogger(__name__)

_LOADED: dict[str, Any] = {}  # per Python worker: model files digest -> SegmentModel


@dataclass(frozen=True)
class Refined:
    """Centroids in segment order (largest first), sizes, inertia, how it went."""

    centers: np.ndarray
    sizes: np.ndarray
    inertia: float
    iterations: int
    converged: bool
    method: str
    shift_history: tuple[float, ...]


def model_on_worker(files: dict[str, bytes]) -> Any:
    digest = hashlib.sha1(b"".join(name.encode() + files[name] for name in sorted(files))
                          ).hexdigest()
    model = _LOADED.get(digest)
    if model is None:
        folder = Path(tempfile.mkdtemp(prefix="personae-spark-model-"))
        try:
            model = adapter.load_model_files(files, folder / "model")
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # the arrays are in memory now
        _LOADED.clear()
        _LOADED[digest] = model
    return model


def scaled_vectors(users: Any, files: dict[str, bytes], id_column: str) -> Any:
    """(id, x array<float>) for every user: the model's preprocessor on the executors."""
    id_type = users.schema[id_column].dataType.simpleString()

    def transform(batches: Any) -> Any:
        model = model_on_worker(files)
        for pdf in batches:
            X = model.transform(pdf).astype(np.float32)
            yield pd.DataFrame({"id": pdf[id_column].to_numpy(), "x": list(X)})

    schema = f"id {id_type}, x array<float>"
    return users.mapInPandas(transform, schema=schema)


def _partial_sums(centers: np.ndarray) -> Any:
    k, d = centers.shape

    def sums(batches: Any) -> Any:
        total_n = np.zeros(k, dtype=np.int64)
        total_s = np.zeros((k, d))
        sse = 0.0
        for pdf in batches:
            if not len(pdf):
                continue
            X = np.stack(pdf["x"].to_numpy()).astype(np.float64)
            dist = ((X ** 2).sum(1)[:, None] - 2 * X @ centers.T + (centers ** 2).sum(1)[None])
            nearest = np.argmin(dist, axis=1)
            sse += float(np.maximum(dist[np.arange(len(X)), nearest], 0).sum())
            total_n += np.bincount(nearest, minlength=k)
            for j in range(d):
                total_s[:, j] += np.bincount(nearest, weights=X[:, j], minlength=k)
        yield pd.DataFrame({"c": np.arange(k, dtype=np.int32), "n": total_n,
                            "s": list(total_s), "sse": [sse] + [0.0] * (k - 1)})

    return sums


def lloyd(vectors: Any, init: np.ndarray, variance: float, *, max_iter: int = 20,
          tol: float = 1e-4) -> Refined:
    """Lloyd iterations as Spark aggregations: each pass, every partition sums its users per
    nearest centroid (K rows a partition come back); the driver divides and repeats.

    Stops when the centroids move less than ``tol`` x ``variance`` (the mean feature
    variance, of the sample: scikit-learn's rule), or after ``max_iter`` passes. A
    centroid that loses all its users stays where it was.
    """
    centers = np.asarray(init, dtype=np.float64)
    k = len(centers)
    schema = "c int, n long, s array<double>, sse double"
    threshold = tol * variance
    shifts: list[float] = []
    converged = False
    sizes = np.zeros(k, dtype=np.int64)
    inertia = float("nan")
    for iteration in range(1, max_iter + 1):
        rows = vectors.mapInPandas(_partial_sums(centers), schema=schema).collect()
        n = np.zeros(k, dtype=np.int64)
        s = np.zeros_like(centers)
        inertia = 0.0
        for r in rows:
            n[r["c"]] += r["n"]
            s[r["c"]] += np.asarray(r["s"])
            inertia += r["sse"]
        sizes = n
        new = np.where(n[:, None] > 0, s / np.maximum(n, 1)[:, None], centers)
        shift = float(((new - centers) ** 2).sum())
        shifts.append(shift)
        centers = new
        logger.info("Lloyd pass %d: centroid shift %.3g (stop at %.3g)", iteration, shift,
                    threshold)
        if shift <= threshold:
            converged = True
            break
    order = np.argsort(-sizes, kind="stable")
    return Refined(centers=centers[order], sizes=sizes[order], inertia=inertia,
                   iterations=len(shifts), converged=converged, method="lloyd",
                   shift_history=tuple(shifts))


def spark_kmeans(vectors: Any, k: int, *, seed: int, max_iter: int = 20,
                 tol: float = 1e-4) -> Refined:
    """pyspark.ml KMeans with k-means|| seeding over everyone (K from the sample)."""
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    data = vectors.select(array_to_vector(F.col("x")).alias("features"))
    fitted = KMeans(k=k, initMode="k-means||", seed=seed, maxIter=max_iter, tol=tol,
                    featuresCol="features").fit(data)
    centers = np.asarray(fitted.clusterCenters(), dtype=np.float64)
    summary = fitted.summary
    sizes = np.asarray(summary.clusterSizes, dtype=np.int64)
    order = np.argsort(-sizes, kind="stable")
    return Refined(centers=centers[order], sizes=sizes[order],
                   inertia=float(summary.trainingCost), iterations=int(summary.numIter),
                   converged=int(summary.numIter) < max_iter, method="kmeans||",
                   shift_history=())


def assign(users: Any, files: dict[str, bytes], id_column: str, columns: list[tuple[str, str]]
           ) -> Any:
    """users_segmented: id, segment, the algorithm's per-user columns, the input columns
    (input_<name> where they clash), each user labelled by the embedded model."""
    front = [(id_column, users.schema[id_column].dataType.simpleString()),
             ("segment", "int"), *columns]
    taken = {name for name, _ in front}
    rest = [f for f in users.schema.fields if f.name != id_column]
    renamed = [(f"input_{f.name}" if f.name in taken else f.name, f) for f in rest]
    schema = ", ".join(f"`{name}` {dtype}" for name, dtype in front) + "".join(
        f", `{name}` {f.dataType.simpleString()}" for name, f in renamed)

    def label(batches: Any) -> Any:
        model = model_on_worker(files)
        for pdf in batches:
            cols = adapter.user_columns(model, pdf, id_column)
            out = pd.DataFrame({id_column: pdf[id_column].to_numpy()})
            for name, _ in front[1:]:
                out[name] = cols[name]
            for name, f in renamed:
                out[name] = pdf[f.name].to_numpy()
            yield out

    return users.mapInPandas(label, schema=schema)


def memberships(users: Any, files: dict[str, bytes], id_column: str, k: int) -> Any:
    """memberships.parquet as the embedded run writes it: the id, then the probability of
    every segment (``segment_0``...), from the model's posterior on the executors."""
    id_type = users.schema[id_column].dataType.simpleString()
    names = [f"segment_{j}" for j in range(k)]

    def proba(batches: Any) -> Any:
        model = model_on_worker(files)
        for pdf in batches:
            p = np.asarray(model.predict_proba(pdf))
            out = pd.DataFrame(p, columns=names)
            out.insert(0, id_column, pdf[id_column].to_numpy())
            yield out

    schema = f"`{id_column}` {id_type}, " + ", ".join(f"`{n}` double" for n in names)
    return users.mapInPandas(proba, schema=schema)
