"""``--algorithm auto``: the algorithm-selection guide, made data-driven.

Each candidate algorithm is fitted with its automatic parameters on the same sample of
users and measured: quality indices (silhouette, Davies-Bouldin, Calinski-Harabasz, DBCV),
bootstrap stability, size balance, how well its segments read as a Gaussian mixture (BIC)
and whether any segment is hollow. The decision follows a stated rule (``RULE``) rather
than a weighted sum, so the reason can be said in one sentence; the table of every
candidate is kept (``algorithm_selection.csv``).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import (
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
)
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import cpu_count
from sklearn.metrics import adjusted_rand_score

from personae.cluster._base import fixed_params, threads_for
from personae.cluster.algorithms import algorithm_class, make_segmenter
from personae.cluster.auto_rules import DEFAULT_AUTO_RULES, AutoRules
from personae.cluster.validate import balance, bootstrap_stability, quality
from personae.errors import PersonaeError

log = logging.getLogger(__name__)

CANDIDATES = ("kmeans", "gmm", "hierarchical", "hdbscan", "dbscan", "meanshift")
MIXED_CANDIDATES = ("kprototypes", "kmeans", "gmm")
# Slowest first, as measured on the bundled demo's 2,000-user sample (gmm 3.4 s, meanshift
# 1.9 s, kmeans 1.0 s, the others 0.9 s or less).
SLOWEST_FIRST = ("gmm", "meanshift", "kprototypes", "kmeans", "hierarchical", "hdbscan", "dbscan")
DENSITY = ("hdbscan", "dbscan")
# Among equally supported candidates: the mixture model first (it is what the BIC
# describes and it gives soft memberships), then the simpler centroid methods.
PREFERENCE = ("kprototypes", "gmm", "kmeans", "hierarchical", "meanshift", "hdbscan", "dbscan")
# What a candidate raises when the sample does not suit it, rather than a bug: scikit-learn's
# ValueError (fewer points than segments, an ill-defined covariance, no point within the
# bandwidth), a singular matrix, a floating-point overflow. Such a candidate is ineligible;
# anything else is an error, kept in the table's error column and logged as a warning.
NUMERICAL_FAILURES: tuple[type[Exception], ...] = (ValueError, np.linalg.LinAlgError,
                                                   FloatingPointError)


def rule_text(rules: AutoRules) -> str:
    """The decision rule in words, with ``rules``' thresholds."""
    return ("Each candidate is fitted with its automatic parameters on the same sample. Out: "
            f"fewer than 2 segments, more than {rules.max_edge_share:.0%} edge users, or "
            f"bootstrap stability below {rules.stable_ari} ARI while another candidate "
            "reaches it. 1) If a density method (hdbscan, then dbscan) finds a hollow segment "
            f"(its centre lies {rules.hollow:g}+ member spacings from its members: a ring, "
            "shell or crescent, which no centroid or Gaussian segment can draw), it wins. "
            "2) Otherwise segments are read as a Gaussian mixture (full, tied, diagonal or "
            f"spherical covariance, whichever fits): candidates within {2 * rules.bic_slack:g} "
            "BIC of the best are equally supported. 3) Among them, a density method whose "
            "segments are the most clearly separated by sparse valleys (DBCV "
            f"{rules.dbcv_lead:g}+ above every other method's) wins; 4) otherwise the fewest "
            "segments win, then the order " + ", ".join(PREFERENCE) + "; if K-means draws the "
            f"same segments as the winner (ARI >= {rules.same_segments}), K-means is used. "
            "When categories dominate, k-prototypes wins if it qualifies.")


RULE = rule_text(DEFAULT_AUTO_RULES)


@dataclass(frozen=True)
class AlgorithmChoice:
    """The comparison table and the decision taken from it."""

    name: str
    params: dict[str, Any]
    why: str
    table: pd.DataFrame
    sample_users: int
    rule: str = RULE
    k_selection: Any = None


def candidates_for(categorical_share: float) -> tuple[str, ...]:
    """The candidates worth trying: k-prototypes first when categories dominate."""
    return MIXED_CANDIDATES if categorical_share > 0.5 else CANDIDATES


def choose_algorithm(X: np.ndarray, *, candidates: tuple[str, ...] = CANDIDATES,
                     k_range: tuple[int, int] = (2, 10), n_clusters: int | None = None,
                     extra: dict[str, dict[str, Any]] | None = None,
                     numeric_columns: np.ndarray | None = None,
                     random_state: int = 0, n_jobs: int | None = None,
                     rules: AutoRules = DEFAULT_AUTO_RULES,
                     helper: Executor | None = None) -> AlgorithmChoice:
    """Fit every candidate on ``X`` (already a sample of users) and pick one by ``rules``
    (``SegmentSettings.auto``).

    Candidates are independent, so they run side by side in ``n_jobs`` threads (default:
    one per core available to this process, at most one per candidate), BLAS on one
    thread (in a ``helper``'s processes OpenMP too); the result does not depend on how many.
    A candidate that fails is a row with its reason: a numerical failure
    (``NUMERICAL_FAILURES``) in ``note``, anything else in ``error`` (and a warning), so a
    bug never reads as an ineligible candidate. ``helper``: worker processes
    (``comparison_helper``) the threads hand the candidates to.
    """
    jobs = []
    for name in candidates:
        params = dict((extra or {}).get(name, {}))
        if algorithm_class(name).uses_k:
            params.update(n_clusters=n_clusters, k_range=k_range)
        elif n_clusters is not None:
            continue
        jobs.append((name, params))
    workers = min(len(jobs), n_jobs or cpu_count())
    # The slowest candidates start first, so the others fill the remaining workers.
    start_order = sorted(jobs, key=lambda job: SLOWEST_FIRST.index(job[0])
                         if job[0] in SLOWEST_FIRST else len(SLOWEST_FIRST))
    measured, scored = _fitted_and_scored(start_order, X, random_state, numeric_columns,
                                          workers, helper)
    measured = [_with_quality(row, seg, scored, rules) for row, seg in measured]
    position = {name: i for i, (name, _) in enumerate(jobs)}
    measured = sorted(measured, key=lambda result: position[result[0]["algorithm"]])
    rows: list[dict[str, Any]] = []
    fitted: dict[str, Any] = {}
    for row, seg in measured:
        rows.append(row)
        if seg is None and row["error"]:
            log.warning("auto: %s raised an error on the sample, left out: %s",
                        row["algorithm"], row["error"])
        elif seg is None:
            log.info("auto: %s could not fit the sample (%s)", row["algorithm"], row["note"])
        else:
            fitted[row["algorithm"]] = seg
            log.info("auto: %s -> %d segments", row["algorithm"], seg.n_segments_)
    table = _gate(pd.DataFrame(rows), rules)
    winner, why = _decide(table, rules)
    winner, why = _simplest_equal(table, fitted, winner, why, rules)
    params: dict[str, Any] = {}
    if winner in fitted and type(fitted[winner]).uses_k:
        params = {"n_clusters": fitted[winner].n_segments_}
    table["chosen"] = table["algorithm"] == winner
    table["params"] = table["params"].map(lambda p: "" if not isinstance(p, dict) else
                                          ", ".join(f"{k}={_fmt(v)}" for k, v in p.items()
                                                    if k != "random_state"))
    return AlgorithmChoice(name=winner, params=params, why=why, table=table,
                           sample_users=len(X), rule=rule_text(rules),
                           k_selection=getattr(fitted.get(winner), "k_selection_", None))


@contextmanager
def comparison_helper(wanted: bool = True) -> Iterator[Executor | None]:
    """Worker processes that fit ``auto``'s candidates, one per core, or None.

    The candidates, on a 2,000-user sample, are hundreds of small scikit-learn calls that
    spend most of their time in Python, holding the GIL: two threads ran them 1.2x as fast
    as one, and beside the persona level's own threads slower still (benchmarks/README.md,
    "Issue 26, fourth pass"). The processes are forked, so they start in milliseconds with
    everything already imported; forked before the input is read, so they hold none of
    the data; and only where a fork is safe and cheap: Linux, two or more cores, no other
    Python thread (a notebook's kernel runs several: there threads do the work). The only
    other threads a fork copies are the BLAS libraries' idle pools. The processes fit with
    one BLAS and one OpenMP thread; threads share the one-BLAS-thread limit, but OpenMP's
    is per thread and does not reach them. The helper's test and every suite of the
    algorithm benchmark drew the same segments either way."""
    if not wanted or sys.platform != "linux" or cpu_count() < 2 or \
            threading.active_count() > 1:
        yield None
        return
    import multiprocessing
    import warnings

    helper = ProcessPoolExecutor(min(cpu_count(), len(CANDIDATES)),
                                 mp_context=multiprocessing.get_context("fork"))
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns of a fork beside any OS thread: here, the idle BLAS pools
            warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
            helper.submit(int).result()  # the forks, now: before this run starts a thread
    except (OSError, BrokenProcessPool) as exc:
        log.info("auto: no helper process (%s); the candidates run in threads", exc)
        helper.shutdown(wait=False)
        yield None
        return
    try:
        yield helper
    finally:
        helper.shutdown(wait=True, cancel_futures=True)


def _one_thread(work: Callable[..., Any], *args: Any) -> Any:
    with threads_for(0):
        return work(*args)


def _fitted_and_scored(jobs: list[tuple[str, dict[str, Any]]], X: np.ndarray,
                       random_state: int, numeric_columns: np.ndarray | None, workers: int,
                       helper: Executor | None = None
                       ) -> tuple[list[tuple[dict[str, Any], Any]],
                                  dict[bytes, tuple[dict[str, Any], float]]]:
    """Every candidate fitted (in ``jobs``' order), and the quality of each distinct
    labelling: candidates often draw the same segments (K-means, the mixture and Ward on
    clear groups), so a labelling is scored once, its seconds counted for each candidate.
    A labelling is scored as soon as the first fit that draws it ends, beside the fits
    still running, not after the slowest of them. With a ``helper``, each of the
    ``workers`` threads hands the jobs it takes to the helper's processes. Scores depend
    on the labelling alone, so no result depends on which job ends first or where it ran."""
    run = _Runner(helper)
    with threads_for(0), ThreadPoolExecutor(max(workers, 1), initializer=run.start) as pool:
        fits = [pool.submit(run, _fit_candidate, name, params, X, random_state)
                for name, params in jobs]
        scoring: dict[bytes, Future[tuple[dict[str, Any], float]]] = {}
        for done in as_completed(fits):
            seg = done.result()[1]
            if seg is not None and seg.labels_.tobytes() not in scoring:
                scoring[seg.labels_.tobytes()] = pool.submit(
                    run, _scored, X, seg.labels_, random_state, numeric_columns)
        return [fit.result() for fit in fits], \
            {key: score.result() for key, score in scoring.items()}


class _Runner:
    """Runs a job in ``helper``, or in the calling thread: without a helper, or once the
    helper failed (a job that runs is never lost)."""

    def __init__(self, helper: Executor | None) -> None:
        self.helper = helper
        self.forwards = threading.local()

    def start(self) -> None:
        self.forwards.on = self.helper is not None

    def __call__(self, work: Callable[..., Any], *args: Any) -> Any:
        if self.helper is not None and getattr(self.forwards, "on", False):
            try:
                return self.helper.submit(_one_thread, work, *args).result()
            except Exception as exc:  # the helper, not the job: the job catches its own
                log.warning("auto: the helper process failed (%s: %s); this thread fits "
                            "its candidates itself", type(exc).__name__, exc)
                self.forwards.on = False
        return work(*args)


def _fit_candidate(name: str, params: dict[str, Any], X: np.ndarray, random_state: int
                   ) -> tuple[dict[str, Any], Any]:
    """One candidate fitted, and its bootstrap stability: (row, fitted or None)."""
    started = time.perf_counter()
    row: dict[str, Any] = {"algorithm": name, "error": ""}
    try:
        seg = make_segmenter(name, random_state=random_state, **params).fit(X)
        fixed = fixed_params(seg)
        stability = bootstrap_stability(
            lambda Xs: make_segmenter(name, **fixed).fit(Xs), X, seg.labels_, runs=2,
            random_state=random_state)
    except Exception as exc:  # one candidate never stops the choice: it is reported
        if isinstance(exc, NUMERICAL_FAILURES) and not isinstance(exc, PersonaeError):
            return {**row, "eligible": False, "note": f"numerical failure: {exc}"}, None
        return {**row, "eligible": False, "note": "error (see the error column)",
                "error": f"{type(exc).__name__}: {exc}"}, None
    row.update(n_segments=int(seg.n_segments_), stability_ari=stability.ari_mean,
               **balance(seg.labels_), seconds=time.perf_counter() - started, params=fixed)
    return row, seg


def _scored(X: np.ndarray, labels: np.ndarray, random_state: int,
            numeric_columns: np.ndarray | None) -> tuple[dict[str, Any], float]:
    """The quality indices of one labelling, and the seconds they took."""
    started = time.perf_counter()
    scores = quality(X, labels, random_state=random_state, bic_columns=numeric_columns)
    return scores, time.perf_counter() - started


def _with_quality(row: dict[str, Any], seg: Any, scored: dict[bytes, tuple[dict[str, Any],
                  float]], rules: AutoRules) -> tuple[dict[str, Any], Any]:
    """A fitted candidate's row completed with its labelling's quality and eligibility."""
    if seg is None:
        return row, None
    scores, seconds = scored[seg.labels_.tobytes()]
    fit = {k: v for k, v in row.items() if k not in ("algorithm", "error", "n_segments")}
    row = {"algorithm": row["algorithm"], "error": row["error"],
           "n_segments": row["n_segments"], **scores, **fit,
           "seconds": round(row["seconds"] + seconds, 3)}
    row["eligible"] = bool(seg.n_segments_ >= 2 and
                           scores["edge_share"] <= rules.max_edge_share)
    row["note"] = "" if row["eligible"] else (
        "fewer than 2 segments" if seg.n_segments_ < 2 else "too many edge users")
    return row, seg


def _gate(table: pd.DataFrame, rules: AutoRules) -> pd.DataFrame:
    for column in ("silhouette", "dbcv", "davies_bouldin", "calinski_harabasz", "gaussian_bic",
                   "hollowness", "stability_ari", "size_entropy", "edge_share", "n_segments",
                   "quality_sample_users", "params"):  # params: none when every one failed
        if column not in table:
            table[column] = np.nan
    table["eligible"] = table["eligible"].fillna(False).astype(bool)
    # Segments that change when the sample changes are no base for personas: only stable
    # candidates compete (all of them if none is stable).
    unstable = table["eligible"] & (table["stability_ari"].fillna(0.0) < rules.stable_ari)
    if (table["eligible"] & ~unstable).any():
        table.loc[unstable, "note"] = table.loc[unstable, "stability_ari"].map(
            lambda ari: f"unstable (bootstrap ARI {ari:.2f} < {rules.stable_ari})")
        table.loc[unstable, "eligible"] = False
    ok = table["eligible"]
    best = table.loc[ok, "gaussian_bic"].min() if ok.any() else np.nan
    users = table.loc[ok, "quality_sample_users"].max() if ok.any() else np.nan
    table["bic_gap"] = (table["gaussian_bic"] - best) * users  # in units of BIC / 2
    return table


def _decide(table: pd.DataFrame, rules: AutoRules = DEFAULT_AUTO_RULES) -> tuple[str, str]:
    ok = table[table["eligible"]]
    if ok.empty:
        return "kmeans", ("no candidate found 2 or more stable segments on the sample; "
                          "falling back to kmeans")
    users = int(ok["quality_sample_users"].max())
    if "kprototypes" in set(ok["algorithm"]):
        return "kprototypes", (f"categories dominate the columns and kprototypes, which treats "
                               f"them as categories, found {_segments(ok, 'kprototypes')}")
    hollow = ok[ok["algorithm"].isin(DENSITY) & (ok["hollowness"] >= rules.hollow)]
    if not hollow.empty:
        best = hollow.iloc[0]
        return str(best["algorithm"]), (
            f"{best['algorithm']} found a hollow segment (its centre lies "
            f"{best['hollowness']:.1f} member spacings from its members: a ring, shell or "
            f"crescent) on {users:,} sampled users, a shape centroid and Gaussian methods "
            f"cannot draw; {_segments(ok, str(best['algorithm']))}")
    close = ok[ok["bic_gap"] <= rules.bic_slack]
    if close.empty:  # no numeric column to read as a Gaussian mixture
        close = ok
    separated = _separated_by_density(close, rules.dbcv_lead)
    if separated is not None:
        return separated, (
            f"{', '.join(close['algorithm'])} describe the {users:,} sampled users equally well "
            f"as a Gaussian mixture (BIC within {2 * rules.bic_slack:g}); {separated}'s "
            "segments are "
            f"the most clearly separated by sparse valleys ({_dbcv_lead(close, separated)}); "
            f"{_segments(ok, separated)}")
    rank = close.assign(order=close["algorithm"].map(
        lambda a: PREFERENCE.index(a) if a in PREFERENCE else len(PREFERENCE)))
    best = rank.sort_values(["n_segments", "order"]).iloc[0]
    winner = str(best["algorithm"])
    tied = [str(a) for a in close["algorithm"] if a != winner]
    parts = [f"{winner}'s segments read best as a Gaussian mixture (BIC) among "
             f"{len(ok)} stable candidates on {users:,} sampled users"]
    if tied:
        parts[0] = (f"{', '.join([winner] + tied)} describe the {users:,} sampled users "
                    f"equally well as a Gaussian mixture (BIC within {2 * rules.bic_slack:g}); "
                    f"{winner} has the fewest segments"
                    + (" and comes first in the preference order" if
                       (close["n_segments"] == best["n_segments"]).sum() > 1 else ""))
    parts.append(_segments(ok, winner))
    others = ok[~ok["algorithm"].isin([winner] + tied)].sort_values("bic_gap")
    if not others.empty:
        runner = others.iloc[0]
        parts.append(f"next: {runner['algorithm']} (BIC {2 * runner['bic_gap']:.0f} worse)")
    return winner, "; ".join(parts)


def _separated_by_density(close: pd.DataFrame, lead: float) -> str | None:
    """The density method among equally supported candidates whose DBCV leads every other
    method's by ``lead`` or more, if one does (None otherwise)."""
    is_density = close["algorithm"].isin(DENSITY)
    density = close[is_density & close["dbcv"].notna()]
    rivals = close.loc[~is_density, "dbcv"].dropna()
    if density.empty or rivals.empty:
        return None
    best = density.loc[density["dbcv"].idxmax()]
    return str(best["algorithm"]) if best["dbcv"] >= rivals.max() + lead else None


def _dbcv_lead(close: pd.DataFrame, winner: str) -> str:
    scores = close.set_index("algorithm")["dbcv"].dropna().sort_values(ascending=False)
    rivals = ", ".join(f"{name} {value:.2f}" for name, value in scores.items() if name != winner)
    return f"DBCV {scores[winner]:.2f}" + (f" vs {rivals}" if rivals else "")


def _simplest_equal(table: pd.DataFrame, fitted: dict[str, Any], winner: str,
                    why: str, rules: AutoRules) -> tuple[str, str]:
    """K-means instead of the winner when it draws the same segments: same answer, simpler
    model (and its K comes with the K vote's table)."""
    ok = set(table.loc[table["eligible"], "algorithm"])
    if winner == "kmeans" or "kmeans" not in ok or winner not in fitted:
        return winner, why
    agreement = adjusted_rand_score(fitted[winner].labels_, fitted["kmeans"].labels_)
    if agreement < rules.same_segments:
        return winner, why
    return "kmeans", (f"{why}; kmeans draws the same segments (ARI {agreement:.2f} with "
                      f"{winner}), so the simpler method is used")


def _segments(table: pd.DataFrame, name: str) -> str:
    row = table[table["algorithm"] == name].iloc[0]
    text = f"{int(row['n_segments'])} segments, bootstrap ARI {row['stability_ari']:.2f}"
    if row["edge_share"] > 0:
        text += f", {row['edge_share']:.1%} edge users kept apart"
    return text


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
