"""A run as a notebook shows it (``_repr_html_``): the personas with their sizes and
strongest facts, and a small map of users when the run made one. Inline SVG, no script:
it renders in Jupyter, VS Code and a saved notebook on GitHub alike, offline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from personae._share import share_text
from personae.report.figures import colour
from personae.report.render import render_page

FACTS = 3  # what a notebook row says of each persona; the report says the rest
MAP_POINTS = 600  # enough to see the groups, small enough for a notebook file
WIDTH, HEIGHT, PAD = 320, 220, 8


def notebook_html(personas: dict[str, Any], user_map: pd.DataFrame | None,
                  title: str) -> str:
    rows = [{"segment": int(p["segment"]), "name": p["name"], "colour": colour(p["segment"]),
             "size": f"{int(p.get('size') or 0):,}",
             "share": share_text(float(p.get("share") or 0)),
             "facts": [str(f.get("text", f)) if isinstance(f, dict) else str(f)
                       for f in (p.get("data_says") or [])[:FACTS]]}
            for p in personas.get("personas", [])]
    return render_page("notebook.html.j2", title=title, personas=rows,
                       map=_map_points(user_map), width=WIDTH, height=HEIGHT)


def _map_points(user_map: pd.DataFrame | None) -> dict[str, Any] | None:
    """The map's sample scaled into the SVG box, with how it was computed."""
    if user_map is None or user_map.empty:
        return None
    # evenly through the map's own (seeded) sample
    shown = user_map.iloc[np.linspace(0, len(user_map) - 1, min(len(user_map), MAP_POINTS))
                          .astype(int)]
    x, y = shown["x"].to_numpy(float), shown["y"].to_numpy(float)

    def scaled(values: Any, size: int) -> Any:
        span = float(values.max() - values.min()) or 1.0
        return PAD + (values - values.min()) / span * (size - 2 * PAD)

    return {"points": [{"x": round(float(a), 1), "y": round(float(b), 1),
                        "colour": colour(int(s))}
                       for a, b, s in zip(scaled(x, WIDTH), HEIGHT - scaled(y, HEIGHT),
                                          shown["segment"], strict=True)],
            "method": str(user_map["method"].iloc[0]) if "method" in user_map else "map",
            "shown": len(shown), "sampled": len(user_map)}
