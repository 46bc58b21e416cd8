"""Event log -> one time-ordered token sequence per user (DuckDB), ready to embed.

Rules, each stated in :class:`SequenceReport` lines as well:

- A token is the mapped columns of an event joined with ``|`` (``tokens="event+category"``
  gives ``view|shoes``); a missing part reads ``NA``.
- Events are ordered by time, then by ``position`` when given (a click number within a
  session: the UCI clickstream has dates only), then by their row in the file.
- Each session after a user's first one starts with the token ``<session>``. Sessions come
  from the session column when one is mapped, else a gap of ``session_gap_minutes`` or more.
- Tokens seen fewer than ``min_count`` times in the whole log are grouped: a combined token
  becomes its first part plus ``|<rare>`` (``view|<rare>``), a single part becomes ``<rare>``.
- A history longer than ``max_length`` tokens keeps its most recent ``max_length`` tokens
  (the recent behaviour is the one a segment should describe).
- A user with one event has a one-token sequence (no bigram); rare grouping never drops a
  token, so every user keeps at least one. Events of a user that share a timestamp (a log
  with dates only) are counted in the report: their order comes from ``position`` when
  mapped, else from the file's row order, and the report says which.
- No time column is an error (a sequence needs time order; a click number alone goes in
  ``position`` beside a date), as is any row whose time does not parse.

Sequences are held flat (``codes`` into ``vocabulary`` plus ``offsets``), so 10M events cost
40 MB, not 10M Python strings.
"""

from __future__ import annotations

import hashlib
import logging
import time as clock
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from personae.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

SESSION_TOKEN = "<session>"
RARE_TOKEN = "<rare>"
TOKEN_ROLES: tuple[str, ...] = ("event", "item", "category")
_MISSING = "NA"


@dataclass(frozen=True)
class SequenceReport:
    """What the tokenizer did: rules, counts and what was grouped or cut."""

    source: str
    mapping: dict[str, str]
    tokens: str
    events: int
    users: int
    distinct_raw_tokens: int
    rare_tokens_grouped: int
    rare_events_grouped: int
    min_count: int
    max_length: int
    users_capped: int
    events_cut: int
    sessions_from: str
    seconds: float
    tied_events: int = 0
    ties_from: str = "the row order in the file"

    def lines(self) -> list[str]:
        return [
            f"sequences: {self.users:,} users, {self.events:,} events, tokens={self.tokens} "
            f"(ordered by time, then position, then file row)",
            f"tokens: {self.distinct_raw_tokens:,} distinct; {self.rare_tokens_grouped:,} seen "
            f"< {self.min_count} times grouped as rare ({self.rare_events_grouped:,} events)",
            f"sessions from {self.sessions_from}: each later session starts with "
            f"{SESSION_TOKEN}",
            f"cap: {self.users_capped:,} users longer than {self.max_length} tokens keep their "
            f"most recent {self.max_length} ({self.events_cut:,} tokens cut)",
        ] + ([f"ties: {self.tied_events:,} events share their timestamp with another event "
              f"of the same user; their order comes from {self.ties_from}"]
             if self.tied_events else [])


@dataclass(frozen=True)
class Sequences:
    """Per-user token sequences: user ``i`` is ``codes[offsets[i]:offsets[i + 1]]``."""

    ids: np.ndarray
    codes: np.ndarray
    offsets: np.ndarray
    vocabulary: tuple[str, ...]
    report: SequenceReport | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def tokens(self, i: int) -> list[str]:
        return [self.vocabulary[c] for c in self.codes[self.offsets[i]:self.offsets[i + 1]]]

    def as_lists(self) -> list[list[str]]:
        """Token lists that share the vocabulary's strings (8 bytes a token, not a string)."""
        vocab = list(self.vocabulary)
        flat = [vocab[c] for c in self.codes.tolist()]
        bounds = self.offsets.tolist()
        return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def digest(self) -> str:
        """A hash of the users, their tokens and their order (the cache key's input part)."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.vocabulary).encode())
        h.update(np.ascontiguousarray(self.codes, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(self.offsets, dtype=np.int64).tobytes())
        h.update(pd.util.hash_array(np.asarray(self.ids, dtype=object)).tobytes())
        return h.hexdigest()[:32]

    def text(self, i: int) -> str:
        return " ".join(self.tokens(i))

    def take(self, rows: np.ndarray) -> Sequences:
        """The users at ``rows``, in that order (numpy: no token becomes a string)."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        user_of = np.repeat(np.arange(len(rows)), lengths)
        source = self.offsets[rows][user_of] + (np.arange(int(offsets[-1])) - offsets[:-1][user_of])
        return Sequences(self.ids[rows], self.codes[source], offsets, self.vocabulary,
                         self.report)


def parse_tokens(spec: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``'event+category'`` -> ``('event', 'category')``; roles from :data:`TOKEN_ROLES`."""
    parts = tuple(p.strip() for p in (spec.split("+") if isinstance(spec, str) else spec))
    if not parts or any(p not in TOKEN_ROLES for p in parts) or len(set(parts)) != len(parts):
        raise ConfigError(f"The 'tokens' parameter must join roles {', '.join(TOKEN_ROLES)} "
                          f"with '+' (e.g. 'event+category'). Got {spec!r} instead.")
    return parts


def _check(min_count: Any, max_length: Any, gap: Any) -> None:
    for name, value, low in (("min_count", min_count, 1), ("max_length", max_length, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"The {name!r} parameter must be an int >= {low}. "
                              f"Got {value!r} instead.")
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not gap > 0:
        raise ConfigError("The 'session_gap_minutes' parameter must be a number > 0. "
                          f"Got {gap!r} instead.")


def sequences_from_events(
    source: Any,
    *,
    tokens: str | tuple[str, ...] = "event",
    user: str | None = None,
    time: str | None = None,
    event: str | None = None,
    item: str | None = None,
    category: str | None = None,
    session: str | None = None,
    position: str | None = None,
    table: str | None = None,
    time_format: str | None = None,
    session_gap_minutes: float = 30,
    min_count: int = 5,
    max_length: int = 500,
    vocabulary: tuple[str, ...] | None = None,
) -> Sequences:
    """Read an event log (as :func:`personae.features.from_events` does) into sequences.

    With ``vocabulary`` (a fitted model's), rare grouping follows that vocabulary instead
    of this log's counts: a token the model knows is kept, any other is grouped as the
    model would have grouped it if it can, and otherwise kept as unseen (the embedder
    counts and reports it).
    """
    started = clock.perf_counter()
    roles = parse_tokens(tokens)
    _check(min_count, max_length, session_gap_minutes)
    import duckdb

    from personae.features.events_io import (
        describe,
        id_expr,
        map_columns,
        quote_ident,
        repeats_in,
        resolve_source,
        text_expr,
        time_expr,
        user_expr,
    )

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        src = resolve_source(con, source, table)
        columns = describe(con, src)
        given = {"user": user, "time": time, "event": event, "item": item,
                 "category": category, "session": session}
        mapping = {r: c for r, c in map_columns(columns, given, src.label,
                                                     repeats_in(con, src)).items()
                   if r in given}
        if position is not None:
            if position not in columns:
                raise DataError("position column does not exist", source=src.label,
                                column=position)
            mapping["position"] = position
        missing = [r for r in roles if r not in mapping]
        if missing:
            article = "an" if missing[0][0] in "aeiou" else "a"
            raise DataError(f"tokens={'+'.join(roles)} needs {article} {missing[0]} column; "
                            f"none was found by name: map it with --{missing[0]}",
                            source=src.label)

        def col(role: str) -> tuple[str, str]:
            return mapping[role], columns[mapping[role]]

        parts = [f"coalesce(CAST({text_expr(*col(r))} AS VARCHAR), '{_MISSING}')"
                 for r in roles]
        token = parts[0] if len(parts) == 1 else f"concat_ws('|', {', '.join(parts)})"
        pos = (f"try_cast({quote_ident(mapping['position'])} AS DOUBLE)"
               if "position" in mapping else "0")
        sess = (f"CAST({id_expr(*col('session'))} AS VARCHAR)" if "session" in mapping
                else "NULL")
        con.execute(
            f"CREATE TEMP TABLE raw AS SELECT {user_expr(*col('user'))} AS uid, "
            f"{time_expr(*col('time'), time_format)} AS ts, {pos} AS pos, {sess} AS sess, "
            f"{token} AS tok, row_number() OVER () AS rn FROM {src.relation}")
        bad = con.execute("SELECT count(*) FILTER (uid IS NOT NULL AND ts IS NULL), "
                          "min(rn) FILTER (uid IS NOT NULL AND ts IS NULL), "
                          "count(*) FILTER (uid IS NOT NULL AND ts IS NOT NULL) "
                          "FROM raw").fetchone()
        assert bad is not None
        if bad[0]:
            raise DataError(f"{bad[0]:,} rows have a time that does not parse (or no time): a "
                            "sequence needs every event in time order; fix them or give "
                            "--time-format", source=src.label, column=mapping["time"],
                            row=int(bad[1]))
        if bad[2] == 0:
            raise DataError("no events with a user id and a time", source=src.label)
        tied = con.execute("SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM raw "
                           "WHERE uid IS NOT NULL GROUP BY uid, ts HAVING count(*) > 1)"
                           ).fetchone()
        gap = float(session_gap_minutes) * 60.0
        boundary = ("sess IS DISTINCT FROM lag(sess) OVER w" if "session" in mapping else
                    f"epoch(ts) - epoch(lag(ts) OVER w) >= {gap}")
        # DuckDB codes the tokens and marks each user's first event: 10M events come back
        # as integer arrays, not 10M Python strings
        con.execute("CREATE TEMP TABLE vocab AS SELECT tok, (row_number() OVER (ORDER BY tok)"
                    " - 1)::INTEGER AS code, count(*) AS freq FROM raw WHERE uid IS NOT NULL "
                    "GROUP BY tok")
        vocab_rows = con.execute("SELECT tok, freq FROM vocab ORDER BY code").fetchnumpy()
        ids = con.execute("SELECT uid FROM raw WHERE uid IS NOT NULL GROUP BY uid "
                          "ORDER BY uid").fetchnumpy()["uid"]
        rows = con.execute(
            f"SELECT vocab.code AS code, coalesce({boundary}, false) AS brk, "
            "row_number() OVER w = 1 AS first FROM raw JOIN vocab ON raw.tok = vocab.tok "
            "WHERE uid IS NOT NULL WINDOW w AS (PARTITION BY uid ORDER BY ts, pos, rn) "
            "ORDER BY uid, ts, pos, rn").fetchnumpy()
    finally:
        con.close()
    raw_vocab = np.array([str(t) for t in vocab_rows["tok"]], dtype=object)
    seqs, counts = _assemble(np.asarray(ids), np.asarray(rows["code"], dtype=np.int64),
                             np.asarray(rows["first"], dtype=bool),
                             np.asarray(rows["brk"], dtype=bool), raw_vocab,
                             np.asarray(vocab_rows["freq"], dtype=np.int64), min_count,
                             max_length, vocabulary)
    report = SequenceReport(
        source=src.label, mapping=mapping, tokens="+".join(roles), events=len(rows["code"]),
        users=len(seqs), sessions_from="column" if "session" in mapping else
        f"a {session_gap_minutes:g}-minute gap", seconds=round(clock.perf_counter() - started, 3),
        min_count=min_count, max_length=max_length, tied_events=int(tied[0]) if tied else 0,
        ties_from=f"the position column {mapping['position']!r}, then the row order in the "
        "file" if "position" in mapping else "the row order in the file", **counts)
    for line in report.lines():
        logger.info(line)
    return Sequences(seqs.ids, seqs.codes, seqs.offsets, seqs.vocabulary, report)


def _assemble(ids: np.ndarray, raw_codes: np.ndarray, starts: np.ndarray, brk: np.ndarray,
              raw_vocab: np.ndarray, freq: np.ndarray, min_count: int, max_length: int,
              known: tuple[str, ...] | None) -> tuple[Sequences, dict[str, int]]:
    """Sorted events (token code into ``raw_vocab``, first event of its user, session
    break) of the users ``ids`` -> grouped, session-marked, capped flat sequences."""
    if known is None:
        keep = freq >= min_count
    else:
        keep = np.isin(raw_vocab, np.asarray(known, dtype=object).astype(str))
    mapped = np.array([t if k else _rare_name(t) for t, k in zip(raw_vocab, keep,
                                                                 strict=True)], dtype=object)
    if known is not None:  # grouped names the model lacks stay as they were: unseen
        known_set = set(known)
        mapped = np.array([m if (k or m in known_set) else t for t, m, k in
                           zip(raw_vocab, mapped, keep, strict=True)], dtype=object)
    names = sorted({str(m) for m in mapped} | {SESSION_TOKEN})
    index = {t: i for i, t in enumerate(names)}
    remap = np.array([index[m] for m in mapped], dtype=np.int32)
    codes = remap[raw_codes]
    brk = brk & ~starts
    # a <session> token goes before every event that starts a later session
    codes = np.insert(codes, np.flatnonzero(brk), index[SESSION_TOKEN])
    user_of = np.cumsum(starts) - 1
    user_of = np.insert(user_of, np.flatnonzero(brk), user_of[brk])
    offsets = np.r_[0, np.cumsum(np.bincount(user_of, minlength=len(ids)))].astype(np.int64)
    lengths = np.diff(offsets)
    end_of = offsets[1:][user_of]
    keep_tok = (end_of - np.arange(len(codes))) <= max_length
    cut = int((~keep_tok).sum())
    capped = int((lengths > max_length).sum())
    if cut:
        codes = codes[keep_tok]
        lengths = np.minimum(lengths, max_length)
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    grouped = ~keep
    counts = {"distinct_raw_tokens": len(raw_vocab),
              "rare_tokens_grouped": int(grouped.sum()) if known is None else 0,
              "rare_events_grouped": int(freq[grouped].sum()) if known is None else 0,
              "users_capped": capped,
              "events_cut": cut}
    return Sequences(ids, codes.astype(np.int32), offsets, tuple(names)), counts


def _rare_name(token: str) -> str:
    head, sep, _ = token.partition("|")
    return f"{head}|{RARE_TOKEN}" if sep else RARE_TOKEN


def sequences_from_lists(ids: Any, token_lists: list[list[str]]) -> Sequences:
    """Sequences from Python lists (tests, wide state tables); no grouping or capping."""
    names = sorted({t for seq in token_lists for t in seq} | {SESSION_TOKEN})
    index = {t: i for i, t in enumerate(names)}
    codes = np.array([index[t] for seq in token_lists for t in seq], dtype=np.int32)
    offsets = np.r_[0, np.cumsum([len(s) for s in token_lists])].astype(np.int64)
    return Sequences(np.asarray(ids), codes, offsets, tuple(names))


def wide_states(frame: pd.DataFrame, columns: list[str], id_column: str | None = None,
                source: str = "input", band: int | None = None) -> Sequences:
    """A wide state table (one row per person, one column per period, e.g. biofam's
    ``a15..a30``) -> one sequence per person, the periods in the order given.

    ``band``: tag each state with its band of ``band`` periods (``2@1``: state 2 in periods
    4-7 with ``band=4``), so the vectors see when a state is held, not only its order; life
    courses differ by timing (married at 22 or at 29), which Hamming-distance typologies
    weigh and plain tokens do not (biofam, K=4: ARI with Hamming + Ward 0.46 plain, 0.71
    with ``band=4``; benchmarks/README.md)."""
    if band is not None and (isinstance(band, bool) or not isinstance(band, int) or band < 1):
        raise ConfigError(f"The 'band' parameter must be an int >= 1. Got {band!r} instead.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError("state column does not exist", source=source, column=missing[0])
    if id_column is not None and id_column not in frame.columns:
        raise DataError("id column does not exist", source=source, column=id_column)
    ids = frame[id_column].to_numpy() if id_column else np.arange(len(frame))
    states = frame[columns].copy()
    for c in columns:  # a state column with gaps reads as floats: 2.0 is state 2
        col = states[c]
        if pd.api.types.is_float_dtype(col) and np.all(np.mod(col.dropna(), 1) == 0):
            states[c] = col.astype("Int64")
    values = states.astype("string").fillna(_MISSING).to_numpy(dtype=object)
    if band is None:
        return sequences_from_lists(ids, [list(map(str, row)) for row in values])
    return sequences_from_lists(ids, [[f"{v}@{i // band}" for i, v in enumerate(row)]
                                      for row in values])
