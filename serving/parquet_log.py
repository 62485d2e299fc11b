"""A bounded in-memory buffer of records written to day-partitioned Parquet by a daemon thread.

The prediction log (:mod:`serving.predictions`) and the storefront event log (:mod:`serving.events`) share it.
Recording must not slow the request: :meth:`BufferedParquetLog.append` appends one tuple to a bounded deque
(when it is full the oldest record is dropped and counted, never the request), and a daemon thread writes the
buffer every ``flush_seconds`` to ``<root>/date=YYYY-MM-DD/part-<ns>-<pid>.parquet`` (one file per flush and
process, written to a temporary name and renamed, so a reader never sees half a file). Partitions older than
``keep_days`` are deleted.

Ids of people (customers, anonymous sessions) are stored pseudonymously: :func:`pseudonym` is an HMAC-SHA256 of
the id under the data home's secret (:func:`log_key`, kept in ``<data_home>/predictions/.key``), so a log can be
joined with the shop's tables, and with the other logs, by whoever holds the key, and leaks no id by itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from shopml.privacy import pseudonymiser, secret_file

logger = logging.getLogger(__name__)


def log_key(root: Path) -> bytes:
    """The logs' pseudonymisation secret in ``root/.key``, created on first use (readable by its owner only)."""
    return secret_file(Path(root) / ".key")


class BufferedParquetLog:
    """Records (tuples whose first field is a UNIX time) buffered in memory and flushed to Parquet partitions.

    Subclasses name their ``columns`` and turn a batch of records into a ``pyarrow.Table`` (:meth:`to_table`).

    Parameters
    ----------
    root
        Folder of the ``date=YYYY-MM-DD`` partitions.
    key
        The pseudonymisation secret (default: ``log_key(root)``).
    capacity
        Records kept between two flushes; beyond it the oldest are dropped and counted (:attr:`dropped`).
    """

    columns: tuple[str, ...] = ()
    thread_name = "shopml-log"
    subject_field = 4
    """The record field holding the pseudonymous customer, matched against :attr:`forget`."""

    def __init__(self, root: Path, capacity: int = 100_000, flush_seconds: float = 5.0, keep_days: int = 30,
                 key: bytes | None = None):
        self.root = Path(root)
        self.key = key if key is not None else log_key(self.root)
        self._subject = pseudonymiser(self.key)
        self.flush_seconds = flush_seconds
        self.keep_days = keep_days
        self._buffer: deque[tuple] = deque(maxlen=capacity)
        self._appended = 0
        self.written = 0
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.forget: Callable[[], AbstractSet[str]] | None = None
        """Customer keys erased since the records were taken (the service sets it): never written."""
        self.forgotten = 0

    @property
    def dropped(self) -> int:
        """Records lost because the buffer was full between two flushes."""
        return self._appended - self.written - self.forgotten - len(self._buffer)

    def append(self, record: tuple) -> None:
        """Buffer one record (microseconds; called on the request path)."""
        self._buffer.append(record)
        self._appended += 1

    def subject(self, value: str | None) -> str | None:
        """The pseudonym of a customer or session id under this log's key."""
        return self._subject(value)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
                self.rotate()
            except Exception:  # noqa: BLE001 - the log must never take the service down
                logger.exception("%s: flush failed; records stay buffered", self.root)

    def flush(self) -> int:
        """Write every buffered record; returns how many were written."""
        with self._flush_lock:
            records = []
            while self._buffer:
                try:
                    records.append(self._buffer.popleft())
                except IndexError:
                    break
            if not records:
                return 0
            erased = self.forget() if self.forget is not None else None
            if erased:
                kept = [r for r in records if r[self.subject_field] not in erased]
                self.forgotten += len(records) - len(kept)
                records = kept
            by_day: dict[int, list[tuple]] = {}  # UTC day number: integer arithmetic, not a datetime per record
            for record in records:
                by_day.setdefault(int(record[0] // 86_400), []).append(record)
            for day, rows in by_day.items():
                self._write(_EPOCH_DAY + timedelta(days=day), rows)
            self.written += len(records)
            return len(records)

    def to_table(self, rows: Sequence[tuple]) -> Any:
        """The ``pyarrow.Table`` of a batch of records (one column per name in :attr:`columns`)."""
        raise NotImplementedError

    def _write(self, day: date, rows: list[tuple]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = []
        for start in range(0, len(rows), WRITE_CHUNK):
            parts.append(self.to_table(rows[start:start + WRITE_CHUNK]))
            time.sleep(0)  # hand the GIL to the event loop between chunks (see WRITE_CHUNK)
        table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        folder = self.root / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.time_ns()}-{os.getpid()}.parquet"
        staging = folder / f".{name}.tmp"
        pq.write_table(table, staging)
        staging.rename(folder / name)

    def rotate(self, today: date | None = None) -> list[Path]:
        """Delete the day partitions older than ``keep_days``; returns them."""
        cutoff = (today or datetime.now(UTC).date()) - timedelta(days=self.keep_days)
        removed = []
        for folder in sorted(self.root.glob("date=*")):
            try:
                day = date.fromisoformat(folder.name.removeprefix("date="))
            except ValueError:
                continue
            if day < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        return removed


_EPOCH_DAY = date(1970, 1, 1)

WRITE_CHUNK = 500
"""Records converted to Arrow at a time by a flush. The flush runs in a thread of the serving process: converted
in one piece, a batch of 12,500 records holds the GIL for about 29 ms (``bench/serving_parts.py``), and requests waited
behind it (the storefront's p99 at 300 requests/s); between chunks the thread sleeps for 0 s, which hands the GIL
to the event loop."""


def read_partitions(root: Path, columns: Sequence[str], problems: list[str] | None = None):
    """Every record under ``root`` as one pandas frame (empty with ``columns`` when there is none).

    A file that cannot be read (torn by a crash, or not Parquet) is skipped and named in ``problems`` when a
    list is given (else the error is raised): the rest of the log is still read, and nothing is deleted."""
    import pandas as pd

    frames = []
    for path in sorted(Path(root).glob("date=*/part-*.parquet")):
        try:
            frames.append(pd.read_parquet(path))
        except Exception as exc:
            if problems is None:
                raise
            problems.append(f"{path}: unreadable ({type(exc).__name__}); skipped, not deleted")
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(columns))


def utc_times(rows: Sequence[tuple], field: int = 0) -> Any:
    """A ``pyarrow`` UTC millisecond timestamp array of the UNIX times in ``rows[i][field]``."""
    import pyarrow as pa

    millis = pa.array([round(r[field] * 1000) for r in rows], pa.int64())
    return millis.cast(pa.timestamp("ms", tz="UTC"))
