"""The HTML report: one self-contained file from a saved run folder (Jinja2 + Plotly)."""

from personae.report.build import (
    build_report,
    personas_document,
    save_with_report,
    show,
    write_report,
)
from personae.report.run_folder import RunFolder

__all__ = ["RunFolder", "build_report", "personas_document", "save_with_report", "show",
           "write_report"]
