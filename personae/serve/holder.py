"""The model answering now, and the thread that picks up a new model folder.

A new model arrives by replacing the folder (``SegmentModel.save`` writes a staged folder
and renames it into place; or a symlink swapped with ``mv -T``). The watcher compares the
identity of ``model.json`` and ``arrays.npz`` (inode, size, mtime) every
``interval`` seconds; when it changes it loads the new folder *beside* the old model and
swaps one reference. Requests in flight keep the model they started with, so none is
dropped or answered by half of each. A folder caught mid-replacement (missing or
unreadable) leaves the old model answering; the next poll tries again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from personae.errors import PersonaeError
from personae.serve.loaded import LoadedModel, load_model

log = logging.getLogger(__name__)

Signature = tuple[tuple[int, int, int], ...]


def signature(folder: Path) -> Signature | None:
    try:
        stats = [os.stat(folder / name) for name in ("model.json", "arrays.npz")]
    except OSError:
        return None
    return tuple((s.st_ino, s.st_size, s.st_mtime_ns) for s in stats)


class ModelHolder:
    """Holds the current ``LoadedModel``; ``start()`` begins watching the folder."""

    def __init__(self, folder: str | Path, interval: float = 1.0,
                 on_reload: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder)
        self.interval = interval
        self.on_reload = on_reload
        self._signature = signature(self.folder)
        self.current: LoadedModel = load_model(self.folder)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._watch, name="personae-model-watch",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def check(self) -> bool:
        """Reload when the folder changed; True when a new model now answers."""
        seen = signature(self.folder)
        if seen is None or seen == self._signature:
            return False
        try:
            fresh = load_model(self.folder)
        except (PersonaeError, OSError, ValueError) as exc:
            log.warning("model folder %s changed but does not load yet (%s); the previous "
                        "model keeps answering", self.folder, exc)
            self._notify("failed")
            return False
        if signature(self.folder) != seen:  # replaced again while we read it: next poll
            return False
        previous = self.current.info.hash
        self.current = fresh
        self._signature = seen
        log.info("model reloaded from %s: %s -> %s", self.folder, previous, fresh.info.hash)
        self._notify("loaded")
        return True

    def _notify(self, outcome: str) -> None:
        if self.on_reload is not None:
            self.on_reload(outcome)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # never let the watcher die: the old model keeps answering
                log.exception("model watcher error")
