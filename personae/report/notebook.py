"""A run as a notebook shows it: ``_repr_html_`` (the personas with their sizes and strongest
facts, each persona's card folded below them, and the report's map of users as a Plotly
figure) and ``show_page`` (the whole report, inline: ``SegmentationResult.show`` builds it,
``Run.show`` reads the saved one). Both work
offline: plotly.js is inlined from the installed plotly package into each output that draws
a map, so an output stands on its own when cells are cleared, re-run or reordered (about
4.8 MB an output: the price of a map that needs no network). Nothing here imports the report
builder: the run folder and the result import this module."""

from __future__ import annotations

import html
import uuid
from typing import Any

import pandas as pd
from markupsafe import Markup

from personae._share import share_text
from personae.data.segments import item_texts
from personae.errors import PersonaeError
from personae.report import figures
from personae.report.render import render_page

FACTS = 3  # what a notebook row says of each persona; the report says the rest
MAP_HEIGHT = 420  # px: beside the persona table, not a page of its own
REPORT_HEIGHT = 720  # px of the inline report; it scrolls inside its frame


def notebook_html(personas: dict[str, Any], user_map: pd.DataFrame | None, n_users: int,
                  title: str) -> str:
    listed = personas.get("personas", [])
    rows = [{"segment": int(p["segment"]), "name": p["name"],
             "colour": figures.colour(p["segment"]), "size": f"{int(p.get('size') or 0):,}",
             "share": share_text(float(p.get("share") or 0)),
             "facts": item_texts(p.get("data_says"))[:FACTS], "card": _card(p)}
            for p in listed]
    return render_page("notebook.html.j2", title=title, personas=rows,
                       map=_map(user_map, n_users, {int(p["segment"]): p["name"]
                                                    for p in listed}))


def _card(persona: dict[str, Any]) -> dict[str, Any]:
    """The card's words, as the report's card has them: the narrative, needs, pain points,
    opportunities and the empathy map (Says / Thinks / Feels are hypotheses, Does is
    measured)."""
    empathy = persona.get("empathy_map") or {}
    return {"line": persona.get("line") or "", "narrative": persona.get("narrative") or "",
            "sections": [("Needs", item_texts(persona.get("needs"))),
                         ("Pain points", item_texts(persona.get("pain_points"))),
                         ("Opportunities", item_texts(persona.get("opportunities")))],
            "empathy": [("Says", True, item_texts((empathy.get("says") or {}).get("items"))),
                        ("Thinks", True, item_texts((empathy.get("thinks") or {}).get("items"))),
                        ("Does", False, item_texts(empathy.get("does"))),
                        ("Feels", True, item_texts((empathy.get("feels") or {}).get("items")))]}


def _map(user_map: pd.DataFrame | None, n_users: int, names: dict[int, str]
         ) -> dict[str, Any] | None:
    """The report's map figure, its plotly.js and a page-unique id to draw it into."""
    if user_map is None or user_map.empty:
        return None
    figure = figures.user_map(user_map, n_users, names)
    figure.figure.update_layout(height=MAP_HEIGHT)
    return {"id": f"personae-map-{uuid.uuid4().hex}", "how": figure.how,
            "json": Markup(figures.script_json(figure.to_json())),
            "plotly_js": Markup(figures.plotly_js())}


def show_page(page: str, height: int = REPORT_HEIGHT) -> None:
    """Display ``page`` (a whole HTML document: the report) inside the notebook, in a frame
    of its own (``srcdoc``), so its styles and scripts stay out of the notebook's page."""
    try:
        from IPython.display import HTML, display
    except ImportError:
        raise PersonaeError("show() displays the report in Jupyter, which needs IPython; "
                            "outside a notebook open report.html") from None
    display(HTML(page_frame(page, height)))


def page_frame(page: str, height: int = REPORT_HEIGHT) -> str:
    """``page`` in an ``<iframe srcdoc>``."""
    # in a div: IPython's HTML warns about a bare iframe (it means a URL's, not srcdoc)
    return (f'<div class="personae-report"><iframe srcdoc="{html.escape(page, quote=True)}" '
            f'title="personae report" style="width:100%;height:{int(height)}px;'
            'border:1px solid #ddd"></iframe></div>')
