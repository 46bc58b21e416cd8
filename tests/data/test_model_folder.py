"""Model folders saved by an earlier personae (bd2f477, before the assignment stopped
importing scikit-learn; written by saved_models/make_models.py) still load and give every
new user the labels they gave then; a K-means model (with persona levels too) assigns
without scikit-learn or scipy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from personae import SegmentModel

SAVED = Path(__file__).resolve().parent / "saved_models"
ROOT = Path(__file__).resolve().parents[2]
NEW_USERS = SAVED / "new_users.csv"


@pytest.mark.parametrize("name", ["kmeans", "kmeans_levels", "gmm", "hierarchical"])
def test_a_model_saved_by_an_earlier_version_assigns_the_same_labels(name: str) -> None:
    assigned = SegmentModel.load(SAVED / name).assign(pd.read_csv(NEW_USERS))
    expected = pd.read_csv(SAVED / f"{name}_assigned.csv")
    pd.testing.assert_frame_equal(assigned, expected, check_dtype=False)


@pytest.mark.parametrize("name", ["kmeans", "kmeans_levels"])
def test_personae_assign_of_a_kmeans_model_imports_neither_scikit_learn_nor_scipy(
        tmp_path: Path, name: str) -> None:
    # issue 26: these two are a second of the command's start; a K-means model's
    # assignment, persona levels included, is numpy (cluster._base.nearest_centre)
    out = tmp_path / "assigned.csv"
    args = ["personae", "assign", str(SAVED / name), str(NEW_USERS), "--out", str(out)]
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.stderr.write('\\nLOADED=' + ','.join(m for m in "
            "('sklearn', 'scipy') if m in sys.modules)))\n"
            f"sys.argv = {args!r}\n"
            "from personae.cli import app\napp()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stderr.rpartition("LOADED=")[2].strip() == ""
    written = pd.read_csv(out)
    expected = pd.read_csv(SAVED / f"{name}_assigned.csv")
    assert written["segment"].tolist() == expected["segment"].tolist()
    assert written["novel"].tolist() == expected["novel"].tolist()
