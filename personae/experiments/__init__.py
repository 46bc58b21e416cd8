"""Uplift of segment-targeted actions: A/B results per discovered segment.

    >>> from personae.experiments import uplift
    >>> result = uplift("run/", "experiment.parquet", arm="arm", control="control",
    ...                 outcomes=["conversion"])
    >>> result.cells, result.info["heterogeneity"], result.save("uplift/")
"""

from personae.experiments.output import UpliftResult
from personae.experiments.uplift import uplift

__all__ = ["UpliftResult", "uplift"]
