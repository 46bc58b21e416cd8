"""The model holder: a symlink swapped with rename is a new model; a broken one is not."""

from __future__ import annotations

import os
import shutil

from personae.model import SegmentModel
from personae.serve.holder import ModelHolder


def test_symlink_swap_and_broken_folder(users_model, tmp_path):
    folder, frame = users_model
    shutil.copytree(folder, tmp_path / "v1")
    SegmentModel(algorithm="kmeans", k=2, stability=False).fit(frame).save(tmp_path / "v2")
    (tmp_path / "live").symlink_to(tmp_path / "v1")
    outcomes: list[str] = []
    holder = ModelHolder(tmp_path / "live", interval=0, on_reload=outcomes.append)
    first = holder.current.info.hash
    assert holder.check() is False  # nothing changed
    (tmp_path / "next").symlink_to(tmp_path / "v2")
    os.replace(tmp_path / "next", tmp_path / "live")  # atomic: mv -T next live
    assert holder.check() is True
    assert holder.current.info.hash != first and holder.current.info.n_segments == 2
    (tmp_path / "v2" / "arrays.npz").write_bytes(b"not a zip")
    assert holder.check() is False and holder.current.info.n_segments == 2
    assert outcomes == ["loaded", "failed"]
