"""Generated run folders and experiments with a planted uplift per segment (a known answer)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

ARMS = ("control", "treated")


def write_run(folder: Path, users: pd.DataFrame, id_column: str = "user_id",
              features: tuple[str, ...] = ("tenure", "plan"), names: bool = True) -> Path:
    """A minimal run folder in the format 'personae run' writes (run.json + users table)."""
    folder.mkdir(parents=True, exist_ok=True)
    used = [f for f in features if f != "plan"] + ["plan=basic", "plan=pro"]
    (folder / "run.json").write_text(json.dumps({"id_column": id_column,
                                                 "features_used": used}), encoding="utf-8")
    users.to_parquet(folder / "users_segmented.parquet", index=False)
    if names:
        segments = sorted(users["segment"].unique())
        (folder / "model").mkdir(exist_ok=True)
        (folder / "model" / "segments.json").write_text(json.dumps(
            [{"segment": int(s), "persona": f"Persona {s}", "size": 1, "share": 0.1}
             for s in segments]), encoding="utf-8")
    return folder


def planted(n_per_segment: Mapping[int, int], base: Mapping[int, float],
            uplift: Mapping[int, float], seed: int, arms: tuple[str, ...] = ARMS,
            spend_uplift: Mapping[int, float] | None = None
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Users (id, segment, features) and an experiment whose treated arms add
    ``uplift[segment]`` to the conversion rate (and ``spend_uplift`` to mean spend)."""
    rng = np.random.default_rng(seed)
    segment = np.concatenate([np.full(n, s) for s, n in n_per_segment.items()])
    n = len(segment)
    ids = np.array([f"u{i:06d}" for i in range(n)])
    users = pd.DataFrame({"user_id": ids, "segment": segment,
                          "tenure": rng.gamma(2.0, 10.0, n) + segment,
                          "plan": rng.choice(["basic", "pro"], n)})
    arm = rng.choice(np.array(arms), n)
    treated = arm != arms[0]
    rate = np.array([base[s] for s in segment]) + treated * np.array([uplift[s] for s in segment])
    mean_spend = 20.0 + treated * np.array([(spend_uplift or {}).get(s, 0.0) for s in segment])
    experiment = pd.DataFrame({"user_id": ids, "arm": arm,
                               "conversion": (rng.random(n) < rate).astype(int),
                               "spend": rng.gamma(2.0, mean_spend / 2.0)})
    return users, experiment.sample(frac=1.0, random_state=seed).reset_index(drop=True)
