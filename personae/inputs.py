"""What a run reads: a user table, or an event log's per-user features (aggregated out of
core) and its mapped rows, read once and shared by journeys, sequences and early windows;
and the meanings the personas are worded from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from personae.config import InputConfig, RunConfig
from personae.data.readers import read_table
from personae.features.semantics import Semantics
from personae.features.table import text_columns


@dataclass(frozen=True)
class RunInput:
    """What a run reads: the user table, its label for messages, where it came from, the
    meanings of an event log's features, the sequence table when the run embeds sequences,
    and the log's mapped rows when a later stage needs events (journeys, early windows)."""

    frame: pd.DataFrame
    source: str
    provenance: dict[str, Any]
    meanings: dict[str, Any] = field(default_factory=dict)
    sequences: Any = None
    rows: pd.DataFrame | None = None


def read_input(data: Any, spec: InputConfig, random_state: int = 0) -> RunInput:
    source_data = data if data is not None else spec.path
    if source_data is None:
        from personae.errors import ConfigError

        raise ConfigError("no input: give a path or a DataFrame (or input.path in the config)")
    if spec.events is not None:
        from personae.features.events import event_rows, from_events

        # the features are aggregated out of core; the events the other stages need
        # (journeys, sequences, early windows) come back from the same read, once
        result = from_events(source_data, **spec.events.from_events_kwargs(), keep_rows=True)
        label = result.report.source
        mapping = dict(result.report.mapping)
        provenance = {"kind": "events", "source": label, "mapping": mapping,
                      "report": result.report.lines(),
                      "purchases": result.report.purchases,
                      "event_group": result.report.event_group}
        rows = result.rows
        position = spec.events.mapping.get("position")
        if position is not None:  # the features do not keep it: read the rows with it
            rows = event_rows(source_data, {**mapping, "position": position},
                              table=spec.events.table, time_format=spec.events.time_format)
        if spec.sequences is None:
            return RunInput(result.frame, label, provenance, dict(result.meanings), rows=rows)
        table = _sequence_table(rows, spec, result, random_state)
        provenance["report"] = provenance["report"] + [f"sequences: {line}"
                                                       for line in table.lines()]
        return RunInput(table.frame, label, provenance, dict(result.meanings), table, rows)
    if isinstance(source_data, (str, Path)):
        return RunInput(read_table(source_data), str(source_data),
                      {"kind": "table", "source": str(source_data)})
    frame = text_columns(source_data.reset_index(drop=True), "DataFrame")
    return RunInput(frame, "DataFrame", {"kind": "table", "source": "DataFrame"})


def _sequence_table(source: Any, spec: InputConfig, features: Any, random_state: int) -> Any:
    """Embeddings of each user's event sequence (alone, or beside the event features)."""
    from personae.features.embeddings import Word2VecConfig
    from personae.features.sequence_pipeline import SequenceOptions, sequence_table

    assert spec.sequences is not None and spec.events is not None
    options = SequenceOptions(
        word2vec=Word2VecConfig(workers=1 if spec.sequences.exact else None),
        embed=spec.sequences.embed, representation=spec.sequences.representation,
        tokens=spec.sequences.tokens,
        mapping={**features.report.mapping, **spec.events.mapping},
        session_gap_minutes=spec.events.session_gap_minutes,
        cache_dir=spec.sequences.cache_dir)
    return sequence_table(source, options, features=features.frame, random_state=random_state)


def run_semantics(run: RunConfig, given: Semantics | None, read: RunInput,
                  id_column: str | None) -> Semantics:
    """Meanings of the columns: the caller's, else the config's YAML; an event log's own
    feature meanings under them. With them, what the people are called (report.noun, else
    the id column: an event log's mapped user column) and whether purchase words are
    licensed (an event log's provenance says it has purchases; a table's column names do)."""
    from personae.features.lexicon import names_purchases
    from personae.profile.names import people_noun

    if given is None and run.report.semantics is not None:
        given = Semantics.from_yaml(run.report.semantics)
    user = {**read.meanings, **(dict(given.user) if given is not None else {})}
    if read.provenance.get("kind") == "events":
        purchases = bool(read.provenance.get("purchases"))
        id_column = read.provenance.get("mapping", {}).get("user", id_column)
    elif given is not None and given.purchases is not None:  # the caller decided (Spark's
        purchases = given.purchases                          # sample of an event log)
    else:
        purchases = any(names_purchases(str(c)) for c in read.frame.columns)
    named = run.report.noun or (given.noun if given is not None and given.noun != "users"
                                else None)  # a caller's Semantics(noun=...) counts too
    return Semantics(user=user, noun=people_noun(id_column, named), purchases=purchases)
