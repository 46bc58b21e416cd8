"""A model folder's segments as readers name them: the persona, size, share and key facts of
each segment. The one reader of persona names and facts (``read_segments``): the service,
the monitor, uplift and the saved model all go through it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from personae.data.documents import ITEMS, read_document
from personae.data.formats import (
    PERSONAS_FORMAT,
    RUN_FILE,
    RUN_FORMAT,
    RUN_VERSIONS,
    SEGMENTS_FORMAT,
)
from personae.errors import ModelFileError

KEY_FACTS = 5  # what a service and the segments table say of each persona


@dataclass(frozen=True)
class Segment:
    """One segment as a service and a reader name it: its persona, size, share and up to
    five key facts (the persona's ``data_says``)."""

    segment: int
    persona: str
    size: int | None
    share: float | None
    facts: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"segment": self.segment, "persona": self.persona, "size": self.size,
                "share": self.share, "facts": list(self.facts)}


def segment_rows(personas: dict[str, Any], sizes: pd.Series) -> list[dict[str, Any]]:
    """segments.json's rows: per persona of ``personas`` (personas.json), its segment,
    name, size (``sizes``: users per segment), share of all users and key facts."""
    total = int(sizes.sum()) or 1
    rows = []
    for p in _personas_of(personas):
        size = int(sizes.get(p["segment"], 0))
        rows.append({"segment": int(p["segment"]), "persona": p["name"], "size": size,
                     "share": round(size / total, 6), "facts": list(_facts(p)),
                     **({"forecast": p["forecast"]} if "forecast" in p else {})})
    return rows


def read_segments(model_dir: str | Path, n_segments: int | None = None
                  ) -> tuple[Segment, ...]:
    """The segments of a model folder: ``segments.json`` (facts from the run's
    personas.json when it predates them); else the run folder's personas.json with
    run.json's sizes; else ``segment N`` for each of ``n_segments``."""
    model_dir = Path(model_dir)
    run_dir = model_dir.parent
    document = read_document(model_dir / "segments.json", SEGMENTS_FORMAT, (1,),
                             required=False, legacy=True)
    personas = read_document(run_dir / "personas.json", PERSONAS_FORMAT, (1,),
                             required=False, legacy=True)
    by_segment = {int(p["segment"]): p for p in _personas_of(personas)}
    if document is not None:
        rows = document.get("segments", document.get(ITEMS))
        if not isinstance(rows, list):
            raise ModelFileError(f"{model_dir / 'segments.json'}: no list of segments")
        try:
            return tuple(Segment(
                int(r["segment"]), str(r["persona"]), _int_or_none(r.get("size")),
                None if r.get("share") is None else float(r["share"]),
                tuple(str(f) for f in r["facts"]) if "facts" in r
                else _facts(by_segment.get(int(r["segment"]), {})))
                for r in rows)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{model_dir / 'segments.json'}: a segment row lacks "
                                 f"segment or persona ({exc.__class__.__name__}: {exc})"
                                 ) from None
    sizes = _run_sizes(run_dir)
    total = sum(sizes.values()) or None
    segments = sorted(set(by_segment) | set(range(n_segments or 0)))
    return tuple(Segment(s, str(by_segment.get(s, {}).get("name") or f"segment {s}"),
                         sizes.get(s), None if s not in sizes or total is None
                         else round(sizes[s] / total, 6), _facts(by_segment.get(s, {})))
                 for s in segments)


def persona_names(personas: dict[str, Any] | None) -> dict[int, str]:
    """segment -> persona name of a personas.json document (a run result's ``personas``)."""
    return {int(p["segment"]): str(p["name"]) for p in _personas_of(personas)
            if p.get("name")}


def persona_column(segments: Any, names: dict[int, str]) -> np.ndarray:
    """Each user's persona name from their segment (``names``: ``persona_names``); edge
    users (segment -1) and segments without a name read as such. Named once a segment, not
    once a user (a million users hold a handful of segments)."""
    codes, inverse = np.unique(np.asarray(segments, dtype=np.int64), return_inverse=True)
    said = np.array([names.get(int(s)) or ("edge users" if s < 0 else f"segment {s}")
                     for s in codes] or [""], dtype=object)
    return said[inverse.reshape(-1)] if len(codes) else np.array([], dtype=object)


def _personas_of(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not document:
        return []
    items = document.get("personas", document.get(ITEMS, []))
    return [p for p in items if isinstance(p, dict) and "segment" in p]


def _facts(persona: dict[str, Any]) -> tuple[str, ...]:
    said = persona.get("data_says") or persona.get("facts") or ()
    return tuple(item_texts(said[:KEY_FACTS]))


def item_texts(items: Any) -> list[str]:
    """A persona list's items as text: each is ``{"text": ..., "source": ...}`` (a measured
    fact, a pain point) or plain text (a need, a hypothesis)."""
    return [str(i.get("text", "")) if isinstance(i, dict) else str(i) for i in items or ()]


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _run_sizes(run_dir: Path) -> dict[int, int]:
    info = read_document(run_dir / RUN_FILE, RUN_FORMAT, RUN_VERSIONS, required=False,
                         legacy=True) or {}
    sizes = (info.get("segments") or {}).get("sizes") or {}
    pairs = sizes.items() if isinstance(sizes, dict) else enumerate(sizes)
    try:
        return {int(k): int(v) for k, v in pairs if int(k) >= 0}
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{run_dir / RUN_FILE}: segments.sizes is not a list of counts "
                             f"({exc})") from None
