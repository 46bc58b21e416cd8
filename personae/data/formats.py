"""The names and versions of the JSON documents of a run folder that more than one module
reads (each other document's format sits beside its one writer and reader)."""

RUN_FILE = "run.json"
RUN_FORMAT = "personae.run"
RUN_FORMAT_VERSION = 2  # 2: config verbatim, provenance, personas, journeys, map, files
RUN_VERSIONS = (1, 2)
PERSONAS_FORMAT = "personae.personas"
SEGMENTS_FORMAT = "personae.segments"
