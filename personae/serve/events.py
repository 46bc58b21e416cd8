"""Raw recent events of a request as the table ``from_events`` reads.

The events go through ``personae.features.events.from_events`` as a small DataFrame, the
very SQL ``personae features`` runs on a whole log, so a user's features here equal that
user's row of ``personae features`` on the same events and reference date.

Keys of an event are role names (``user_id`` or ``user``, ``time``, ``event``, ``value``,
``quantity``, ``price``, ``session``, ``item``, ``category``, ``order``) or the log's own
column names, detected by name as ``personae features`` detects them.

Three things ``from_events`` decides from the log as a whole are decided here from the
request's events: the reference date (default: the day after the request's last event;
send ``reference_date``, e.g. today, for live users), which event types count as
purchases (names like purchase/order/buy), and whether ``C123`` order ids mark
cancellations. Per-type shares are aligned to the model's columns: a type the model has a
column for and the request lacks has share 0; types the model has no column for count as
``share_event_other`` (``personae.serve.early.align_features``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from personae.features.events_io import ROLES

ROLE_KEYS = {"user_id": "user", **{role: role for role in ROLES}}
MAX_TYPES = 1000


def events_frame(events: list[dict[str, Any]]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The request's events as a DataFrame and the role -> column mapping of its keys."""
    frame = pd.DataFrame.from_records(events)
    mapping: dict[str, str] = {}
    for key in frame.columns:
        role = ROLE_KEYS.get(str(key))
        if role is not None and role not in mapping:
            mapping[role] = str(key)
    return frame, mapping
