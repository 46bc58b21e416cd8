"""personae: user behaviour data in, validated segments and data-driven personas out.

    >>> from personae import load_run, segment
    >>> result = segment("users.csv", k="auto", random_state=0)
    >>> result.labels, result.profiles, result.k_table, result.model
    >>> result.save("run/")
    >>> run = load_run("run/")  # what save wrote: info, config, model, personas, segments

Names load on first use, so ``import personae`` and the command line's ``--help`` do not
wait for scikit-learn, scipy and pandas.
"""

from typing import TYPE_CHECKING

from personae._lazy import lazy_names
from personae._version import __version__

if TYPE_CHECKING:
    from personae.config import RunConfig
    from personae.data.run_folder import load_run
    from personae.errors import (
        ConfigError,
        DataError,
        ModelFileError,
        NotFittedError,
        PersonaeError,
    )
    from personae.model import SegmentModel
    from personae.pipeline import SegmentationResult, segment

_HOMES = {
    "ConfigError": "personae.errors",
    "DataError": "personae.errors",
    "ModelFileError": "personae.errors",
    "NotFittedError": "personae.errors",
    "PersonaeError": "personae.errors",
    "RunConfig": "personae.config",
    "SegmentModel": "personae.model",
    "SegmentationResult": "personae.pipeline",
    "load_run": "personae.data.run_folder",
    "segment": "personae.pipeline",
}

__all__ = [
    "ConfigError",
    "DataError",
    "ModelFileError",
    "NotFittedError",
    "PersonaeError",
    "RunConfig",
    "SegmentModel",
    "SegmentationResult",
    "__version__",
    "load_run",
    "segment",
]

__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
del TYPE_CHECKING, lazy_names
