"""The personae command line: parses, calls the library, shows results with rich. One module
per family of commands; importing one registers its commands on ``app``, in this order."""
# isort: skip_file

from personae.cli._app import app
from personae.cli import run, features, report, monitor, serve  # noqa: F401 (registers)
from personae.cli.report import parse_split

__all__ = ["app", "parse_split"]
