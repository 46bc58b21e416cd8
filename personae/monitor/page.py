"""monitor.html: one offline page in the report's style (the template is rendered by
personae.report, autoescaped; the transition Sankey is inline SVG, so the page loads
nothing from anywhere)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from personae._version import __version__

PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2",
           "#FF9DA6", "#9D755D", "#BAB0AC"]
SANKEY_HEIGHT = 360
SANKEY_WIDTH = 900
LABEL_SPACE = 250
NODE_WIDTH = 16
GAP = 10


def _colour(segment: int) -> str:
    return "#888888" if segment < 0 else PALETTE[segment % len(PALETTE)]


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sankey(table: pd.DataFrame | None, old_names: dict[int, str],
           new_names: dict[int, str] | None = None) -> dict[str, Any] | None:
    """Node boxes and ribbon paths (numbers only) for the users present in both."""
    if table is None or table["users"].sum() == 0:
        return None
    total = float(table["users"].sum())
    new_names = old_names if new_names is None else new_names
    left = table.groupby("from_segment")["users"].sum().sort_index()
    right = table.groupby("to_segment")["users"].sum().sort_index()
    usable = SANKEY_HEIGHT - GAP * (max(len(left), len(right)) - 1)
    scale = usable / total

    def place(sizes: pd.Series) -> dict[int, list[float]]:
        y, out = 0.0, {}
        for seg, n in sizes.items():
            out[int(seg)] = [y, n * scale]
            y += n * scale + GAP
        return out

    lpos, rpos = place(left), place(right)
    x0, x1 = LABEL_SPACE + NODE_WIDTH, SANKEY_WIDTH - LABEL_SPACE - NODE_WIDTH
    mid = (x0 + x1) / 2
    lfill = {s: p[0] for s, p in lpos.items()}
    rfill = {s: p[0] for s, p in rpos.items()}
    ribbons = []
    for row in table.sort_values(["from_segment", "to_segment"]).itertuples():
        a, b, h = int(row.from_segment), int(row.to_segment), row.users * scale
        ya, yb = lfill[a], rfill[b]
        lfill[a] += h
        rfill[b] += h
        d = (f"M{x0:.1f},{ya:.1f} C{mid:.1f},{ya:.1f} {mid:.1f},{yb:.1f} {x1:.1f},{yb:.1f} "
             f"L{x1:.1f},{yb + h:.1f} C{mid:.1f},{yb + h:.1f} {mid:.1f},{ya + h:.1f} "
             f"{x0:.1f},{ya + h:.1f} Z")
        ribbons.append({"d": d, "colour": _colour(a), "users": int(row.users),
                        "label": f"{a} -> {b}: {int(row.users):,} users"})
    nodes = [{"x": x0 - NODE_WIDTH, "y": y, "h": max(h, 1.0), "colour": _colour(s),
              "label": _short(f"{s}: {old_names.get(s, f'segment {s}')}"), "anchor": "end",
              "tx": x0 - NODE_WIDTH - 6, "users": int(left[s])}
             for s, (y, h) in lpos.items()]
    nodes += [{"x": x1, "y": y, "h": max(h, 1.0), "colour": _colour(s),
               "label": _short(f"{s}: {new_names.get(s, f'segment {s}')}"),
               "anchor": "start", "tx": x1 + NODE_WIDTH + 6,
               "users": int(right[s])} for s, (y, h) in rpos.items()]
    return {"width": SANKEY_WIDTH, "height": SANKEY_HEIGHT, "node_width": NODE_WIDTH,
            "nodes": nodes, "ribbons": ribbons, "total": int(total)}


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None:
        return []
    out = []
    for row in frame.to_dict("records"):
        out.append({k: ("" if isinstance(v, float) and math.isnan(v) else
                        "" if v is pd.NA or v is None else v) for k, v in row.items()})
    return out


def render(result: Any) -> str:
    # imported here: personae.report loads the run report's stack (plotly, the pipeline),
    # which only a page being written needs
    from personae.report.render import render_page

    names = {int(r["segment"]): str(r["persona"]) for r in _records(result.segment_shift)}
    return render_page(
        "monitor.html.j2", strict=True, filters={"num": _num},
        result=result, summary=result.summary, drift=_records(result.drift),
        shift=_records(result.segment_shift),
        fates=_records(result.matching.fates) if result.matching is not None else None,
        governance=result.governance, sankey=sankey(result.transitions, names),
        created=datetime.now(UTC).isoformat(timespec="seconds"), version=__version__)


def _num(value: Any, form: str = "{:.3f}") -> Any:
    """A number in ``form``; anything else (text, a flag, a gap) as it is."""
    return form.format(value) if isinstance(value, (int, float)) and \
        not isinstance(value, bool) else value


def write_page(result: Any, path: Path) -> Path:
    path.write_text(render(result), encoding="utf-8")
    return path
