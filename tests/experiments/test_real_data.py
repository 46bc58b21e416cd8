"""Hillstrom's randomised e-mail experiment (a 6,000-customer slice): segment on the customer
features only, then measure the uplift of each e-mail per segment."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import personae
from personae.experiments import uplift

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HILLSTROM = DATA / "hillstrom" / "hillstrom.parquet"
FEATURES = ["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]
OUTCOMES = ["visit", "conversion", "spend"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hillstrom(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    if not HILLSTROM.exists():
        pytest.skip(f"real data not found at {HILLSTROM} (expects ../shared beside the repo)")
    frame = pd.read_parquet(HILLSTROM).iloc[:6000].copy()
    frame.insert(0, "customer_id", range(1, len(frame) + 1))
    run = tmp_path_factory.mktemp("hillstrom") / "run"
    # the first 4,000 customers are segmented (features only: no arm, no outcome)
    result = personae.segment(frame.iloc[:4000][["customer_id", *FEATURES]], k=4,
                              algorithm="kmeans", id_column="customer_id", random_state=0)
    result.save(run)
    return run, frame


def test_hillstrom_uplift_per_segment(hillstrom) -> None:
    run, frame = hillstrom
    experiment = frame.iloc[:4000][["customer_id", "segment", *OUTCOMES]]
    result = uplift(run, experiment, arm="segment", control="No E-Mail", outcomes=OUTCOMES)
    means = experiment.groupby("segment")[OUTCOMES].mean()
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        for outcome in OUTCOMES:
            row = result.overall(outcome, arm)
            assert row["effect"] == pytest.approx(means.loc[arm, outcome]
                                                  - means.loc["No E-Mail", outcome])
    visit = result.overall("visit", "Mens E-Mail")
    assert visit["significant"] is True and visit["effect"] > 0.04  # ~7.7 points on all 64k
    seg = result.cells[result.cells["level"] == "segment"]
    assert set(seg["segment"]) == {"0", "1", "2", "3"}
    checks = result.info["checks"]
    assert not checks["sample_ratio"]["overall"]["mismatch"]
    assert checks["balance"]["max_abs_std_difference"] < 0.1
    assert {t["outcome"] for t in result.info["heterogeneity"]["tests"]} == set(OUTCOMES)


def test_hillstrom_assigns_customers_outside_the_run(hillstrom, tmp_path) -> None:
    run, frame = hillstrom
    experiment = frame[["customer_id", "segment", *OUTCOMES, *FEATURES]]
    with pytest.raises(personae.DataError, match=r"2,000 experiment rows have users that "
                                                 r"are not in the run"):
        uplift(run, experiment, arm="segment", control="No E-Mail", outcomes=["visit"])
    result = uplift(run, experiment, arm="segment", control="No E-Mail", outcomes=["visit"],
                    assign=True)
    assert result.info["joined_users"] == 6000
    labels = personae.SegmentModel.load(run / "model").predict(frame.iloc[4000:][FEATURES])
    seg = result.cells[(result.cells["level"] == "segment")
                       & (result.cells["arm"] == "Mens E-Mail")]
    in_run = pd.read_parquet(run / "users_segmented.parquet")["segment"]
    everyone = pd.concat([in_run, pd.Series(labels)])
    arms = frame["segment"].to_numpy()
    for row in seg.itertuples():
        mine = (everyone.to_numpy() == int(row.segment))
        assert row.n_treated == int((mine & (arms == "Mens E-Mail")).sum())
