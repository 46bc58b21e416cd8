"""Write a monitor/compare result into a folder that appears complete or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from personae.data.writers import staged_folder, to_json, write_frame
from personae.monitor.page import write_page

MARKER = "monitor.json"


def write_outputs(result: Any, out: str | Path) -> Path:
    """drift.csv, segment_shift.csv, transitions.csv + transition_matrix.csv (users in
    both), segment_matching.csv (compare; monitor --refit), governance.json, monitor.json
    and monitor.html; with --refit also refit/, the refitted run folder."""
    out = Path(out)
    with staged_folder(out, marker=MARKER, what="monitor") as staging:
        governance = result.governance.as_dict()
        if result.refit is not None:
            result.refit.run.save(staging / result.summary["refit"]["folder"])
            # what compare says of the old run and the refit: its governance, stable ids
            governance["refit"] = result.refit.comparison.governance.as_dict()
        result.drift.to_csv(staging / "drift.csv", index=False)
        result.segment_shift.to_csv(staging / "segment_shift.csv", index=False)
        if result.transitions is not None:
            write_frame(result.transitions, staging / "transitions.csv")
            result.transition_matrix.to_csv(staging / "transition_matrix.csv", index=False)
        if result.matching is not None:
            result.matching.fates.to_csv(staging / "segment_matching.csv", index=False)
        _write_json(staging / "governance.json", governance)
        _write_json(staging / MARKER, {**result.summary,
                                       "segment_shift": result.shift.as_dict(),
                                       "matching_thresholds": result.matching.thresholds
                                       if result.matching is not None else None})
        write_page(result, staging / "monitor.html")
    return out


def _write_json(path: Path, document: Any) -> None:
    path.write_text(to_json(document, nan_as_null=True), encoding="utf-8")
