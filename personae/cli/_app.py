"""The app, its console and what every command shares: progress and errors, the
parsers of option values."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from typer.core import TyperGroup

from personae.errors import ConfigError, PersonaeError

GLOBAL_FLAGS = ("--debug", "--quiet", "-q")
# ``--track`` alone (last, or before another option): MLflow's own default store
MLFLOW_DEFAULT = "(MLflow's default store)"
VALUE_OPTIONAL = {"--track": MLFLOW_DEFAULT}


class _GlobalFlagsAnywhere(TyperGroup):
    """``personae run users.csv --quiet`` as well as ``personae --quiet run users.csv``: the
    global flags are moved before the command wherever they are typed (up to ``--``); an
    option whose value may be left out (``--track``) gets its stand-in value."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        flags = [arg for arg in args[:end] if arg in GLOBAL_FLAGS]
        rest: list[str] = []
        for i, arg in enumerate(args[:end]):
            if arg in GLOBAL_FLAGS:
                continue
            rest.append(arg)
            following = args[i + 1] if i + 1 < end else None
            # a store is a folder: a file after --track is the command's input, not its value
            if arg in VALUE_OPTIONAL and (following is None or following.startswith("-")
                                          or Path(following).is_file()):
                rest.append(VALUE_OPTIONAL[arg])
        return super().parse_args(ctx, flags + rest + args[end:])


app = typer.Typer(
    name="personae",
    cls=_GlobalFlagsAnywhere,
    help="Turn user behaviour data into validated segments and data-driven personas.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts name extras in brackets: personae[serve]
)


console = Console(stderr=True)


class _OutputConsole(Console):
    """Standard output. To a pipe or a file it is as wide as the widest table, so a log or
    ``| cat`` never sees a number or name cut to "+0.005…" (rich fits tables to 80 columns
    when it finds no terminal); in a terminal, the terminal's width."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(PIPE_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


PIPE_WIDTH = 10_000
out_console = _OutputConsole(soft_wrap=True)  # paths must stay whole to be copied


T = TypeVar("T")


SETTINGS = {"debug": False, "quiet": False}


class _StageHandler(logging.Handler):
    """In a terminal, each stage of the library with its seconds (a line when done, the
    current one on a live status line); nothing but warnings when stderr is a file or pipe,
    so logs and scripts see only what matters."""

    def __init__(self, title: str, status: Any | None, restated: re.Pattern[str] | None
                 ) -> None:
        super().__init__(logging.INFO)
        self.title = title
        self.status = status
        self.restated = restated
        self.warned: set[str] = set()
        self.started = self.stage_started = time.perf_counter()
        self.stage: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            if message in self.warned or (self.restated and self.restated.search(message)):
                return  # said already, or said by the lines the command prints after
            self.warned.add(message)
            console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)
        elif self.status is not None:  # a terminal: done stages stay, the current one spins
            now = time.perf_counter()
            if self.stage is not None:
                console.print(f"[green]done[/] {self.stage} [dim]({now - self.stage_started:.1f}"
                              f" s)[/]", highlight=False, soft_wrap=True)
            self.stage, self.stage_started = message, now
            self.status.update(f"{self.title}: {message} [dim]({now - self.started:.1f} s "
                               "in all)[/]")


# What an event log's report (``EventReport.lines``, "dropped: N without user id") says
# again: a command that prints the report leaves these warnings to it.
EVENT_REPORT_SAYS = re.compile(r"rows without a user id dropped$")


@contextmanager
def _reporting(title: str, restated: re.Pattern[str] | None = None) -> Iterator[None]:
    """Progress on stderr while the library works, each warning once (``restated``: those
    the command prints itself afterwards); PersonaeError -> one line, exit 2."""
    logger = logging.getLogger("personae")
    live = console.is_terminal and not SETTINGS["quiet"]
    try:
        with console.status(title) if live else nullcontext() as status:
            handler = _StageHandler(title, status, restated)
            logger.addHandler(handler)
            previous = logger.level
            logger.setLevel(logging.INFO)
            try:
                yield
            finally:
                logger.removeHandler(handler)
                logger.setLevel(previous)
    except PersonaeError as exc:
        if SETTINGS["debug"]:
            raise
        # escaped: a message naming an extra ('personae[mlflow]') is not rich markup
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _fail(message: str) -> None:
    console.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def parse_k(value: str | None) -> int | str | None:
    """The text of --k as the setting's type (a whole number, or the word); what K may be is
    checked by the config, which names the flag."""
    if value is None:
        return None
    text = value.strip().lower()
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else text


def parse_k_range(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(?:\.\.|-|:)\s*(\d+)\s*", value)
    if not match:
        raise ConfigError(f"--k-range must look like 2..10; got {value!r}")
    return int(match.group(1)), int(match.group(2))


def parse_list(value: str | None) -> list[str] | None:
    """``'a, b'`` -> ``['a', 'b']`` (empty when only commas; the library says what it needs)."""
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
         quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages "
                                                                  "on stderr.")] = False
         ) -> None:
    SETTINGS["debug"] = debug
    SETTINGS["quiet"] = quiet


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise ConfigError(f"{option} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _mapping(pairs: str | None, roles: tuple[str, ...] | None = None, *,
             checked: bool = True) -> dict[str, str]:
    """``'user=Customer ID,time=InvoiceDate'`` -> {role: column}; ``roles``: those allowed
    (default: every role of a run, ``position`` for sequences included); ``checked=False``
    where a config checks them (``personae run``)."""
    from personae.config import EVENT_ROLES

    allowed = roles or EVENT_ROLES
    given: dict[str, str] = {}
    for pair in (pairs or "").split(","):
        if not pair.strip():
            continue
        role, sep, column = pair.partition("=")
        if not sep or (checked and role.strip() not in allowed):
            raise ConfigError(f"--map takes role=column pairs with roles {', '.join(allowed)}; "
                              f"got {pair.strip()!r}")
        given[role.strip()] = column.strip()
    return given



# Run history (MLflow): one pair of options for run, monitor, compare and track.
TrackOption = Annotated[str | None, typer.Option(
    "--track", metavar="[FOLDER]", show_default="no tracking",
    help="Log to MLflow (needs the [mlflow] extra): alone, in the store MLflow itself "
         "uses (MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in this folder); with "
         "FOLDER, in that local file store, e.g. mlruns.")]
TrackingUriOption = Annotated[str | None, typer.Option(
    "--tracking-uri", metavar="URI", help="Log to this MLflow tracking server instead, e.g. "
                                          "http://localhost:5000 (needs [mlflow]).")]


def _tracking(track: str | None, tracking_uri: str | None) -> str | None:
    """The MLflow store's URI when asked for, checked before any work (MLflow installed,
    a folder for --track, one of the two options)."""
    if track is None and tracking_uri is None:
        return None
    from personae.monitor.tracking import check_store, default_store

    if track == MLFLOW_DEFAULT and tracking_uri is None:
        return check_store(None, default_store())
    return check_store(track, tracking_uri)


def _print_tracked(run_id: str | None, uri: str | None) -> None:
    if run_id is not None:
        out_console.print(f"tracked: MLflow run {run_id} in {uri}", highlight=False)
