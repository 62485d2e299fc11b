"""Storefront events: the recent ones of every session in memory, and all of them in the event log.

``POST /v1/events`` (view, add_to_cart, purchase) feeds two things:

* :class:`SessionStore`: per session, the last ``max_events`` events of the last ``window_seconds``, for
  :meth:`training.recommend.live.LiveRecommender.recommend` to blend into the list. Bounded: at most
  ``max_sessions`` sessions (the least recently used is forgotten first), ``max_events`` events each, and events
  older than the window are dropped when the session is read. An event is kept under its session id and, when
  it names a customer, under the customer id too, so that a request finds it by either.
* :class:`EventLog`: every event appended to ``<data_home>/events/date=YYYY-MM-DD/part-*.parquet`` off the
  request path (:class:`serving.parquet_log.BufferedParquetLog`, the prediction log's writer), with customer
  and session ids pseudonymised under the prediction log's key, so that events join predictions.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from serving.parquet_log import BufferedParquetLog, read_partitions, utc_times
from training.recommend.live import SessionEvent

EVENT_COLUMNS = ("logged_at", "at", "type", "sku", "customer", "session")
"""One logged event: when the service received it, when it happened (UTC), its type, the SKU, and the
pseudonymous customer and session keys (None when not given)."""


def session_key(session_id: str | None, customer_id: str | None) -> str | None:
    """The memory key a request reads: its session id when given, else its customer id."""
    if session_id is not None:
        return "s:" + session_id
    if customer_id is not None:
        return "c:" + customer_id
    return None


class SessionStore:
    """Recent events per session, bounded in sessions, events per session and age (thread-safe)."""

    def __init__(self, max_sessions: int = 100_000, max_events: int = 50, window_seconds: float = 1800.0):
        self.max_sessions = max_sessions
        self.max_events = max_events
        self.window_seconds = window_seconds
        self._sessions: OrderedDict[str, deque[tuple[float, SessionEvent]]] = OrderedDict()
        self._lock = threading.Lock()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def add(self, keys: Sequence[str], at: float, sku: str, kind: str) -> None:
        """Keep one event under each of ``keys`` (UNIX time ``at``)."""
        with self._lock:
            event = SessionEvent(sku, kind)
            for key in keys:
                events = self._sessions.get(key)
                if events is None:
                    events = self._sessions[key] = deque(maxlen=self.max_events)
                    while len(self._sessions) > self.max_sessions:
                        self._sessions.popitem(last=False)
                        self.evicted += 1
                else:
                    self._sessions.move_to_end(key)
                if events and at < events[-1][0]:  # late arrival: keep the deque in time order
                    ordered = sorted([*events, (at, event)], key=lambda e: e[0])
                    events.clear()
                    events.extend(ordered[-self.max_events:])
                else:
                    events.append((at, event))

    def recent(self, key: str | None, now: float | None = None) -> list[SessionEvent]:
        """The session's events of the window, oldest first (empty for an unknown or expired session)."""
        if key is None:
            return []
        with self._lock:
            events = self._sessions.get(key)
            if not events:
                return []
            oldest = (time.time() if now is None else now) - self.window_seconds
            while events and events[0][0] < oldest:
                events.popleft()
            if not events:
                del self._sessions[key]
                return []
            self._sessions.move_to_end(key)
            return [event for _, event in events]


class EventLog(BufferedParquetLog):
    """Storefront events buffered in memory and written to day partitions by a daemon thread."""

    columns = EVENT_COLUMNS
    thread_name = "shopml-event-log"

    def record(self, at: float, kind: str, sku: str, customer_id: str | None, session_id: str | None) -> None:
        """Append one event (microseconds; on the request path); ids are pseudonymised here."""
        self.append((time.time(), at, kind, sku, self.subject(customer_id), self.subject(session_id)))

    def to_table(self, rows: Sequence[tuple]) -> Any:
        import pyarrow as pa

        return pa.table({
            "logged_at": utc_times(rows, 0),
            "at": utc_times(rows, 1),
            "type": [r[2] for r in rows],
            "sku": [r[3] for r in rows],
            "customer": pa.array([r[4] for r in rows], pa.string()),
            "session": pa.array([r[5] for r in rows], pa.string()),
        })


def read_events(root: Path):
    """Every logged event under ``root`` (``<data_home>/events``) as a pandas frame."""
    return read_partitions(root, EVENT_COLUMNS)
