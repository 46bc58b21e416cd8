"""Writes the model folders and expected labels that test_model_folder.py reads: models saved
by an earlier personae, which every later one must load and assign alike. Run it with the old
code first on the path, once, and commit what it writes (never rerun it with newer code):

    git archive bd2f477 personae | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old:tests python tests/data/saved_models/make_models.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generated import blob_users
from personae import SegmentModel

HERE = Path(__file__).resolve().parent
MODELS = {
    "kmeans": {"algorithm": "kmeans", "k": 3},
    "kmeans_levels": {"algorithm": "kmeans", "k": 4, "persona_levels": True},
    "gmm": {"algorithm": "gmm", "k": 3},
    "hierarchical": {"algorithm": "hierarchical"},
}


def main() -> None:
    frame, _ = blob_users(n=900, k=3, n_features=4, seed=11)
    frame["plan"] = np.where(frame["metric_0"] > 0, "pro", "free")
    frame.loc[::13, "metric_1"] = np.nan
    train, new = frame.iloc[:600], frame.iloc[600:].reset_index(drop=True)
    new.loc[::7, "plan"] = "enterprise"  # a category the models never saw
    new.loc[::50, "metric_2"] = 80.0  # far from every segment: novel
    new.to_csv(HERE / "new_users.csv", index=False)
    for name, settings in MODELS.items():
        model = SegmentModel(random_state=0, stability=False, **settings).fit(train)
        model.save(HERE / name)
        model.assign(new).to_csv(HERE / f"{name}_assigned.csv", index=False)


if __name__ == "__main__":
    main()
