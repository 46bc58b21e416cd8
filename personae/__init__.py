"""personae: user behaviour data in, validated segments and data-driven personas out.

    >>> from personae import load_run, segment
    >>> result = segment("users.csv", k="auto", random_state=0)
    >>> result.labels, result.profiles, result.k_table, result.model
    >>> result.save("run/")
    >>> run = load_run("run/")  # what save wrote: info, config, model, personas, segments
"""

from personae._version import __version__
from personae.config import RunConfig
from personae.data.run_folder import load_run
from personae.errors import ConfigError, DataError, ModelFileError, NotFittedError, PersonaeError
from personae.model import SegmentModel
from personae.pipeline import SegmentationResult, segment

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
