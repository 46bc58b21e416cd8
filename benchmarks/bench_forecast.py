"""Forecasts per user (personae.forecast): how well BG/NBD and MBG/NBD forecast held-out
periods of real logs, whether the at-risk flag meant anything there, and what a fit on 1M
customers costs.

    .venv/bin/python benchmarks/bench_forecast.py
    .venv/bin/python benchmarks/bench_forecast.py --pymc /tmp/pymc/bin/python   # + pymc-marketing

Rows (data: ../shared/data, see its README):
- CDNOW 1/10th sample and full cohort, the paper's setup (Fader, Hardie & Lee 2005): fit on
  39 weeks (to 1997-09-30), forecast the next 39. Per-customer correlation between the
  conditional expectation and the actual held-out repeat purchase days (the paper: 0.626 on
  the sample), the held-out total's error, and the paper's aggregate measure: cumulative
  repeat purchases over all 78 weeks, expected from each customer's first-purchase week
  (the paper: within 4%). Each once with BG/NBD (the paper's model) and once as a run
  chooses (``auto``: the higher log-likelihood of BG/NBD and MBG/NBD).
- Every held-out row: the users at risk at the cutoff (P(still active) below 0.5) and the
  share of them with a purchase day in the held-out period, beside the others' share.
- Online Retail II (2009-12 to 2010-12), the last 91 days held out; purchases = invoice lines
  with positive quantity x price, one a day.
- 1M customers drawn from BG/NBD with the paper's parameters, observed 26-78 weeks: fit and
  forecast time (``auto``: both models fitted), peak memory (each in its own process),
  parameters recovered. With
  ``--pymc PYTHON`` (a Python with pymc-marketing), BetaGeoModel's MAP fit on the same users.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data" if (HERE.parents[2] / "shared").is_dir() \
    else HERE.parents[1] / "shared" / "data"
CDNOW = SHARED / "cdnow"
RETAIL = SHARED / "online_retail_ii" / "online_retail_ii_2009_2010.parquet"
CALIBRATION_END = pd.Timestamp("1997-09-30")
DATA = HERE / ".data"


def at_risk_text(figures: dict[str, object]) -> str:
    check = figures["at_risk"]
    assert isinstance(check, dict)
    if not check["users"]:
        return "0"
    others = check["others_came_back_share"]
    return (f"{check['users']:,}: {check['came_back_share']:.1%} came back "
            f"(others {others:.1%})" if others is not None else f"{check['users']:,}")


def cdnow_row(name: str, path: Path, model: str) -> dict[str, object]:
    from personae.forecast.bgnbd import unconditional_expected
    from personae.forecast.summaries import event_days
    from personae.forecast.validate import validate

    log = pd.read_parquet(path)
    days = event_days(log, {"user": "customer_id", "time": "date", "value": "dollar_value"},
                      log["customer_id"], purchases=True)
    started = time.perf_counter()
    check = validate(days, CALIBRATION_END, model=model)
    seconds = time.perf_counter() - started
    figures = check.as_dict()
    # the paper's aggregate: expected cumulative repeat purchases by week 78, from each
    # customer's first purchase week, against the actual
    from personae.forecast.forecaster import fit_forecaster
    from personae.forecast.summaries import summarise

    calibration = summarise(days.until(CALIBRATION_END), CALIBRATION_END)
    params = fit_forecaster(calibration, days=1, at_risk_below=0.5, purchases=True,
                            model=model).events
    _, start = np.unique(days.user, return_index=True)  # sorted: each user's first day
    weeks_left = (days.day.max() - days.day[start]) / 7.0
    expected = sum(unconditional_expected(params, t) * n for t, n in
                   zip(*np.unique(weeks_left, return_counts=True), strict=True))
    actual = len(days.day) - len(start)
    return {"data": name, "users": figures["users"], "fit_s": round(seconds, 2),
            "model": f"{model} -> {params.variant}" if model == "auto" else model,
            "params": f"r {params.r:.3f} alpha {params.alpha:.3f} a {params.a:.3f} "
                      f"b {params.b:.3f}",
            "holdout": f"{figures['holdout_days']} days",
            "correlation": figures["correlation"],
            "holdout_total": f"{figures['predicted_total']:,.0f} vs {figures['actual_total']:,.0f}",
            "holdout_error": f"{figures['aggregate_error']:+.1%}",
            "cumulative_78w_error": f"{(expected - actual) / actual:+.1%}",
            "at_risk_at_cutoff": at_risk_text(figures)}


def retail_row() -> dict[str, object]:
    from personae.forecast.summaries import event_days
    from personae.forecast.validate import validate

    log = pd.read_parquet(RETAIL).dropna(subset=["Customer ID"])
    mapping = {"user": "Customer ID", "time": "InvoiceDate", "quantity": "Quantity",
               "price": "Price", "order": "Invoice"}
    days = event_days(log, mapping, log["Customer ID"].astype(str), purchases=True)
    cutoff = days.last_day - pd.Timedelta(days=91)
    started = time.perf_counter()
    figures = validate(days, cutoff).as_dict()
    seconds = time.perf_counter() - started
    return {"data": "Online Retail II 2009-10, last 91 days held out", "users": figures["users"],
            "fit_s": round(seconds, 2), "model": f"auto -> {figures['model']}", "params": "",
            "holdout": f"{figures['holdout_days']} days", "correlation": figures["correlation"],
            "holdout_total": f"{figures['predicted_total']:,.0f} vs {figures['actual_total']:,.0f}",
            "holdout_error": f"{figures['aggregate_error']:+.1%}", "cumulative_78w_error": "",
            "at_risk_at_cutoff": at_risk_text(figures)}


def synthetic_users(n: int) -> Path:
    from personae.forecast.bgnbd import BGNBDParams
    from personae.forecast.simulate import simulate_bgnbd

    path = DATA / f"bgnbd_{n}.csv"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        users = simulate_bgnbd(BGNBDParams(0.243, 4.414, 0.793, 2.426), n, (26, 78))
        # whole days, as summaries of a log are
        users[["first_to_last_days", "observed_days"]] = \
            users[["first_to_last_days", "observed_days"]].round(0)
        users.drop(columns="mean_repeat_spend").to_csv(path, index=False)
    return path


def fit_synthetic(path: str) -> None:
    """In a child process: fit and forecast the users, print one JSON line."""
    from personae.forecast.forecaster import fit_forecaster

    users = pd.read_csv(path)
    started = time.perf_counter()
    fitted = fit_forecaster(users, days=90, at_risk_below=0.5, purchases=False)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    fitted.predict(users)
    predict_s = time.perf_counter() - started
    e = fitted.events
    print(json.dumps({"fit_s": round(fit_s, 2), "predict_s": round(predict_s, 2),
                      "peak_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                        / 2**20, 3),
                      "params": f"{e.variant} r {e.r:.3f} alpha {e.alpha:.3f} a {e.a:.3f} "
                                f"b {e.b:.3f}"}))


PYMC_FIT = """
import json, resource, sys, time
import pandas as pd
started = time.perf_counter()
from pymc_marketing.clv import BetaGeoModel
imported = time.perf_counter() - started
users = pd.read_csv(sys.argv[1])
data = pd.DataFrame({"customer_id": range(len(users)), "frequency": users["repeat_events"],
                     "recency": users["first_to_last_days"] / 7, "T": users["observed_days"] / 7})
started = time.perf_counter()
model = BetaGeoModel(data=data)
model.fit(method="map", progressbar=False)
fit = time.perf_counter() - started
s = model.fit_summary()
print(json.dumps({"import_s": round(imported, 1), "fit_s": round(fit, 1),
                  "peak_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
                  "params": " ".join(f"{k} {s[k]:.3f}" for k in ("r", "alpha", "a", "b"))}))
"""


def synthetic_row(n: int, pymc: str | None) -> list[dict[str, object]]:
    path = synthetic_users(n)
    rows = []
    runs = [("personae (scipy, L-BFGS-B, analytic gradient)",
             [sys.executable, __file__, "--fit-synthetic", str(path)])]
    if pymc:
        runs.append(("pymc-marketing BetaGeoModel, MAP", [pymc, "-c", PYMC_FIT, str(path)]))
    for name, command in runs:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            continue
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({"data": f"{n:,} generated customers: {name}", "users": n,
                     "fit_s": figures["fit_s"], "params": figures["params"],
                     "holdout": f"predict {figures.get('predict_s', '')} s; import "
                                f"{figures.get('import_s', 0)} s",
                     "correlation": "", "holdout_total": f"peak {figures['peak_gib']} GiB",
                     "holdout_error": "", "cumulative_78w_error": ""})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000,
                        help="generated customers of the fit-time row")
    parser.add_argument("--pymc", help="a Python with pymc-marketing, to time it too")
    parser.add_argument("--fit-synthetic", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit_synthetic:
        fit_synthetic(args.fit_synthetic)
        return
    rows = []
    for name, file in (("CDNOW 1/10th sample, 39 + 39 weeks", "cdnow_sample.parquet"),
                       ("CDNOW full cohort, 39 + 39 weeks", "cdnow_master.parquet")):
        if (CDNOW / file).is_file():
            rows += [cdnow_row(name, CDNOW / file, model) for model in ("BG/NBD", "auto")]
    if RETAIL.is_file():
        rows.append(retail_row())
    rows += synthetic_row(args.users, args.pymc)
    table = pd.DataFrame(rows)
    with pd.option_context("display.max_columns", None, "display.width", 250,
                           "display.max_colwidth", 60):
        print(table.to_string(index=False))
    print("\nThe paper (BG/NBD, CDNOW sample): correlation 0.626; cumulative repeat purchases "
          "over 78 weeks within 4%; r 0.243 alpha 4.414 a 0.793 b 2.426.")


if __name__ == "__main__":
    main()
