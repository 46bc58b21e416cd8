"""Do segments built on one period separate the next period's behaviour? One command, a table.

    .venv/bin/python benchmarks/bench_usefulness.py [--sets online_retail,cdnow,...] [--names]

Separation = AUC of each user's *segment outcome rate*, the rate estimated on the other half
of the users (2-fold, the mean over ``--repeats`` random halvings): a segment only earns what
it predicts for users it was not measured on, so tiny segments earn nothing. Contenders:

- ``personae default``: ``personae.segment(table)`` as it is: the ``segment`` column, the
  persona level on the drive features (``feature_roles``); edge users count as one more
  group (what a team sees).
- ``personae detailed level``: the same run's ``detailed_segment`` (8-12, when supported).
- ``personae natural partition``: the same run's ``natural_segment``, what auto finds.
- ``default, every feature drives``: ``features=`` every column (the measurement behind the
  roles).
- ``course``: log1p features, StandardScaler, K-means, K in 2..9 by the best silhouette
  (on every user up to 25,000, else a stated sample of 20,000).
- ``RFM map``: the classic named R x F map (transaction sets only).
- ``RFM score tiers, as many as personas``: R + F + M summed and cut at its quantiles into
  as many tiers as the persona level has personas (transaction sets only): the classic
  baseline at the persona level's granularity, since a finer partition earns a higher AUC
  on its own (the map has 9-10 groups, the persona level 3-8).
- ``P(alive) tiers, as many as personas``: each user's P(still active) from the features'
  period (``personae.forecast`` as a run fits it: BG/NBD or MBG/NBD by likelihood) cut at
  its quantiles into as many tiers as personas (transaction sets only).
- ``persona x at risk``: the default's personas, each split into its users at risk
  (P(still active) below the run's threshold) and the rest.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import roc_auc_score, silhouette_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
import personae  # noqa: E402
import usefulness_data  # noqa: E402
from personae.features.semantics import feature_roles  # noqa: E402
from personae.profile.rfm import fit_rfm, score_rfm  # noqa: E402

FULL_SILHOUETTE_MAX = 25_000


def separation_auc(labels: np.ndarray, outcome: np.ndarray, repeats: int = 5) -> float:
    """Mean over random halvings of the AUC of the other half's segment outcome rate."""
    labels = pd.factorize(pd.Series(labels).astype(str))[0]
    scores = []
    for r in range(repeats):
        half = np.random.default_rng(r).random(len(labels)) < 0.5
        rate = np.empty(len(labels))
        for this, other in ((half, ~half), (~half, half)):
            table = pd.Series(outcome[other]).groupby(labels[other]).mean()
            rate[this] = pd.Series(labels[this]).map(table).fillna(outcome[other].mean())
        scores.append(roc_auc_score(outcome, rate))
    return float(np.mean(scores))


def sizes_text(labels: np.ndarray) -> str:
    counts = pd.Series(labels).value_counts(normalize=True)
    edge = float(counts.get(-1, 0.0))
    groups = counts.drop(index=-1, errors="ignore")
    text = f"{len(groups)} (max {groups.max():.0%}, {int((groups >= 0.05).sum())} >=5%"
    return text + (f", edge {edge:.1%})" if edge else ")")


def course(table: pd.DataFrame, transactions: bool) -> np.ndarray:
    if transactions:
        frame = pd.DataFrame({c: np.log1p(table[c].clip(lower=0)) for c in
                              ("recency_days", "frequency", "monetary_total")})
    else:
        frame = pd.get_dummies(table.drop(columns="user_id"), dtype=float)
        for c in frame.columns:
            if frame[c].min() >= 0 and frame[c].nunique() > 2:
                frame[c] = np.log1p(frame[c])
    X = StandardScaler().fit_transform(frame.to_numpy(dtype=float))
    sample = None if len(X) <= FULL_SILHOUETTE_MAX else 20_000
    best = (-2.0, None)
    for k in range(2, 10):
        labels = KMeans(k, n_init=4, random_state=0).fit_predict(X)
        score = silhouette_score(X, labels, sample_size=sample, random_state=0)
        if score > best[0]:
            best = (score, labels)
    return best[1]


def rfm_tiers(scores: pd.DataFrame, tiers: int) -> np.ndarray:
    """R + F + M in ``tiers`` groups of about equal size (ties kept together)."""
    total = scores["r_score"].astype(int) + scores["f_score"].astype(int) + \
        scores["m_score"].astype(int)
    cuts = np.unique(np.quantile(total, np.linspace(0, 1, tiers + 1)[1:-1]))
    return np.searchsorted(cuts, total.to_numpy(), side="right")


def quantile_tiers(score: np.ndarray, tiers: int) -> np.ndarray:
    """``score`` in ``tiers`` groups of about equal size (ties kept together; a missing
    score is a group of its own)."""
    known = np.isfinite(score)
    cuts = np.unique(np.quantile(score[known], np.linspace(0, 1, tiers + 1)[1:-1]))
    return np.where(known, np.searchsorted(cuts, np.nan_to_num(score), side="right"), -1)


def default_run(table: pd.DataFrame, features: list[str] | None = None) -> tuple:
    result = personae.segment(table, id_column="user_id", features=features)
    return result.labels, result.extra["levels"], result


def run_column(result: object, column: str) -> np.ndarray | None:
    users = result.users  # type: ignore[attr-defined]
    return users[column].to_numpy() if column in users.columns else None


def run_set(name: str, show_names: bool) -> list[dict]:
    started = time.perf_counter()
    case = usefulness_data.LOADERS[name]()
    table = case.table
    features = [c for c in table.columns if c != "user_id"]
    roles = feature_roles(features)
    contenders: dict[str, tuple[np.ndarray, float]] = {}
    extra: dict[str, object] = {}

    def timed(label: str, fn) -> None:
        t = time.perf_counter()
        out = fn()
        labels = out[0] if isinstance(out, tuple) else out
        if isinstance(out, tuple):
            extra[label] = out
        contenders[label] = (np.asarray(labels), time.perf_counter() - t)

    timed("personae default", lambda: default_run(table))
    run = extra["personae default"][2]
    for label, column in (("personae detailed level", "detailed_segment"),
                          ("personae natural partition", "natural_segment")):
        labels = run_column(run, column)
        if labels is not None:
            contenders[label] = (labels, 0.0)
    timed("default, every feature drives", lambda: default_run(table, features))
    timed("course (K-means, silhouette K)", lambda: course(table, case.transactions))
    if case.transactions:
        timed("RFM map", lambda: score_rfm(table, fit_rfm(table))["rfm_segment"].to_numpy())
        personas = len(set(contenders["personae default"][0].tolist()) - {-1})
        timed("RFM score tiers, as many as personas",
              lambda: rfm_tiers(score_rfm(table, fit_rfm(table)), personas))
    if case.forecast is not None:
        alive = case.forecast["p_alive"].to_numpy(float)
        contenders["P(alive) tiers, as many as personas"] = (quantile_tiers(alive, personas),
                                                              0.0)
        at_risk = case.forecast["at_risk"].fillna(False).to_numpy(bool)
        persona = contenders["personae default"][0]
        contenders["persona x at risk"] = (np.array(
            [f"{p} at risk" if r else str(p) for p, r in zip(persona, at_risk, strict=True)]),
            0.0)
    rows = []
    for outcome, y in case.outcomes.items():
        for label, (labels, seconds) in contenders.items():
            rows.append({"set": case.name, "outcome": f"{outcome} ({y.mean():.1%})",
                         "contender": label, "segments": sizes_text(labels),
                         "AUC": round(separation_auc(labels, y), 3),
                         "seconds": round(seconds, 1)})
    lv = extra["personae default"][1]
    print(f"\n## {case.name}: {len(table):,} users; drive = {', '.join(roles.drive)}; "
          f"describe = {', '.join(roles.describe) or '-'}; {time.perf_counter() - started:.0f} s")
    print(f"persona sizes {lv.sizes('persona')}; broad {lv.sizes('broad')}; "
          f"detailed groups {len(lv.detailed_to_persona)}")
    for line in lv.why:
        print(f"  - {line}")
    if show_names:
        print_names(extra["personae default"])
    sys.stdout.flush()
    return rows


def print_names(out: tuple) -> None:
    _, lv, result = out
    for p in result.personas["personas"]:
        broad = lv.persona_to_broad.get(p["segment"], -1)
        print(f"  persona {p['segment']:>2} (broad {broad:>2}) {p['size']:>6,} "
              f"{p['share']:6.1%}  {p['name']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(usefulness_data.LOADERS))
    parser.add_argument("--names", action="store_true", help="print the persona names too")
    args = parser.parse_args()
    rows = []
    for name in args.sets.split(","):
        rows += run_set(name.strip(), args.names)
        print("\n" + markdown(pd.DataFrame(rows)), flush=True)


def markdown(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---:" if frame[c].dtype.kind in "if" else "---"
                          for c in frame.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([head, rule, *body])


if __name__ == "__main__":
    main()
