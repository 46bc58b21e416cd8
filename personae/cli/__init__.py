"""The personae command line: parses, calls the library, shows results with rich. One module
per family of commands; importing one registers its commands on ``app``, in this order."""
# isort: skip_file

import atexit
import os
import sys
import threading

from personae.cli._app import app
from personae.cli import run, features, report, monitor, serve  # noqa: F401 (registers)
from personae.cli.report import parse_split

__all__ = ["app", "main", "parse_split"]


def main() -> None:
    """The ``personae`` command: ``app``, then out of the process without taking the
    interpreter apart. Freeing every module and object one by one took 0.3-0.5 s after a
    1M-user run had written and printed everything. The exit handlers still run (logs
    flushed, temporary folders removed) and the system takes the memory back at once;
    while another thread still runs, the exit is Python's own, which waits for it."""
    try:
        app()
        code: object = 0
    except SystemExit as stop:
        code = stop.code
    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        sys.exit(code)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that left (| head): nothing to tell it
            pass
    os._exit(code or 0)
