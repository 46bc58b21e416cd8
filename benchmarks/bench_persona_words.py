"""Persona words on every real data set: the noun, the persona names and the findings of the
truthfulness check (personae/profile/truth.py). Target: 0 findings on every set.

    python benchmarks/bench_persona_words.py [--users 4000] [--only oulad,cdnow]

Each set runs ``personae.segment`` with its defaults (auto algorithm, persona levels) on at
most ``--users`` users (a fixed random sample of users where a set is larger; all the events
of the sampled users), then checks every persona. Prints one table (markdown).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import personae
from personae.config import RunConfig
from personae.profile.truth import check_personas

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")
BIOFAM_STATES = {0: "parent", 1: "left home", 2: "married", 3: "left and married",
                 4: "child", 5: "left with child", 6: "left, married, child", 7: "divorced"}
ACTCAL_STATES = {"A": "full-time", "B": "long part-time", "C": "short part-time",
                 "D": "no work"}


def _sample(frame: pd.DataFrame, user: str, users: int) -> pd.DataFrame:
    ids = frame[user].drop_duplicates()
    if len(ids) <= users:
        return frame
    keep = ids.sample(users, random_state=0)
    return frame[frame[user].isin(keep)].reset_index(drop=True)


def _events(frame: pd.DataFrame, **mapping: str) -> tuple[pd.DataFrame, RunConfig]:
    return frame, RunConfig.model_validate({"input": {"events": {"mapping": mapping}}})


def oulad(users: int) -> tuple[pd.DataFrame, RunConfig | None]:
    sub = pd.read_parquet(DATA / "oulad" / "studentAssessment.parquet")
    kinds = pd.read_parquet(DATA / "oulad" / "assessments.parquet")
    sub = sub.merge(kinds[["id_assessment", "assessment_type"]], on="id_assessment")
    sub = sub.dropna(subset=["date_submitted"])
    # days from the module's start, on a calendar of their own
    sub["submitted"] = pd.Timestamp("2014-01-01") + pd.to_timedelta(sub["date_submitted"],
                                                                     unit="D")
    sub = _sample(sub[["id_student", "submitted", "assessment_type"]], "id_student", users)
    return _events(sub, user="id_student", time="submitted", event="assessment_type")


def clickstream(users: int) -> tuple[pd.DataFrame, RunConfig | None]:
    raw = pd.read_parquet(DATA / "uci_clickstream_eshop2008" / "e_shop_clothing_2008.parquet")
    raw = _sample(raw, "session_id", users)
    day = pd.to_datetime(raw[["year", "month", "day"]])
    raw = raw.assign(time=day + pd.to_timedelta(raw["order"], unit="s"),
                     category=raw["page1_main_category"].map(
                         {1: "trousers", 2: "skirts", 3: "blouses", 4: "sale"}))
    return _events(raw[["session_id", "time", "category", "page2_clothing_model"]],
                   user="session_id", time="time", event="category",
                   item="page2_clothing_model")


def rees46(users: int) -> tuple[pd.DataFrame, RunConfig | None]:
    raw = pd.read_parquet(DATA / "rees46_2019oct_head" / "2019-Oct_head17434.parquet")
    raw = _sample(raw, "user_id", users)
    return _events(raw, user="user_id", time="event_time", event="event_type",
                   price="price", item="product_id", session="user_session")


def _life_course(path: Path, columns: list[str], when: Callable[[pd.DataFrame, int], Any],
                 states: dict[Any, str]) -> tuple[pd.DataFrame, RunConfig | None]:
    wide = pd.read_parquet(path).reset_index(drop=True)
    long = []
    for i, column in enumerate(columns):
        long.append(pd.DataFrame({"person_id": np.arange(len(wide)), "time": when(wide, i),
                                  "state": wide[column].map(states)}))
    log = pd.concat(long).dropna().reset_index(drop=True)
    return _events(log, user="person_id", time="time", event="state")


def biofam(users: int) -> tuple[pd.DataFrame, RunConfig | None]:
    def when(wide: pd.DataFrame, i: int) -> Any:
        return pd.to_datetime((wide["birthyr"] + 15 + i).astype(int).astype(str) + "-07-01")

    return _life_course(DATA / "sequences_traminer" / "biofam.parquet",
                        [f"a{i}" for i in range(15, 31)], when, BIOFAM_STATES)


def actcal(users: int) -> tuple[pd.DataFrame, RunConfig | None]:
    months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
              "dec"]

    def when(wide: pd.DataFrame, i: int) -> Any:
        return pd.Series(pd.Timestamp(2000, i + 1, 1), index=wide.index)

    return _life_course(DATA / "sequences_traminer" / "actcal.parquet",
                        [f"{m}00" for m in months], when, ACTCAL_STATES)


def shoppers(users: int) -> tuple[pd.DataFrame, RunConfig | None]:
    frame = pd.read_csv(DATA / "online_shoppers_intention" / "online_shoppers_intention.csv")
    return frame.sample(min(users, len(frame)), random_state=0).reset_index(drop=True), None


def hillstrom(users: int) -> tuple[pd.DataFrame, RunConfig | None]:
    frame = pd.read_parquet(DATA / "hillstrom" / "hillstrom.parquet")
    frame = frame.drop(columns=["segment", "visit", "conversion", "spend"])  # arm, outcomes
    return frame.sample(min(users, len(frame)), random_state=0).reset_index(drop=True), None


def wholesale(users: int) -> tuple[pd.DataFrame, RunConfig | None]:
    return pd.read_csv(DATA / "wholesale_customers" / "Wholesale customers data.csv"), None


def cdnow(users: int) -> tuple[pd.DataFrame, RunConfig | None]:
    raw = pd.read_parquet(DATA / "cdnow" / "cdnow_master.parquet")
    raw = _sample(raw.assign(date=pd.to_datetime(raw["date"])), "customer_id", users)
    return _events(raw, user="customer_id", time="date", value="dollar_value",
                   quantity="number_of_cds")


def online_retail(users: int) -> tuple[pd.DataFrame, RunConfig | None]:
    raw = pd.read_parquet(DATA / "online_retail_ii" / "online_retail_ii_2009_2010.parquet")
    raw = _sample(raw[raw["Customer ID"].notna()], "Customer ID", users)
    return _events(raw, user="Customer ID", time="InvoiceDate", quantity="Quantity",
                   price="Price", item="StockCode", order="Invoice")


SETS: dict[str, Callable[[int], tuple[pd.DataFrame, RunConfig | None]]] = {
    "oulad": oulad, "clickstream": clickstream, "rees46": rees46, "biofam": biofam,
    "actcal": actcal, "shoppers": shoppers, "hillstrom": hillstrom, "wholesale": wholesale,
    "cdnow": cdnow, "online_retail": online_retail,
}


def measure(name: str, users: int) -> dict[str, Any]:
    frame, config = SETS[name](users)
    started = time.perf_counter()
    result = personae.segment(frame, config=config, random_state=0)
    seconds = time.perf_counter() - started
    findings = check_personas(result.personas, result.profiles, result.semantics,
                              result.built_users)
    return {"set": name, "users": len(result.ids), "noun": result.semantics.noun,
            "purchases": result.info.get("input", {}).get("purchases")
            if config is not None else result.semantics.purchases,
            "names": [p["name"] for p in result.personas["personas"]],
            "findings": findings, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=4000)
    parser.add_argument("--only", default=",".join(SETS))
    args = parser.parse_args()
    rows = [measure(name, args.users) for name in args.only.split(",")]
    print("| set | users | noun | purchase words | personas | findings | s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        counts = Counter(f.rule for f in r["findings"])
        said = ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items())) or "0"
        print(f"| {r['set']} | {r['users']:,} | {r['noun']} | {r['purchases'] or 'no'} | "
              f"{'; '.join(r['names'])} | {said} | {r['seconds']:.0f} |")
    for r in rows:
        for f in r["findings"]:
            print(f"- {r['set']} / {f.persona}: {f.rule}: {f.text}")


if __name__ == "__main__":
    main()
