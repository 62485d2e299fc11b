"""The prediction log: what the service predicted, for whom, with which model version, and when.

Outcome tracking (``monitoring``) joins these records with what customers did once a horizon has passed, so
every prediction a decision could rest on is kept: recommendations, similar items, customer scores, forecasts.
Recording must not slow the request: :meth:`PredictionLog.record` appends one tuple to a bounded in-memory
buffer (a deque; when it is full the oldest record is dropped and counted, never the request), and a daemon
thread writes the buffer every ``flush_seconds`` to Parquet under ``<data_home>/predictions/date=YYYY-MM-DD/``
(one file per flush and process, written to a temporary name and renamed, so a reader never sees half a
file). Partitions older than ``keep_days`` are deleted.

Customer ids are stored pseudonymously: an HMAC-SHA256 of the id under a secret kept in the data home
(``predictions/.key``), so the log can be joined with the shop's own tables by whoever holds the key, and
leaks no id by itself. ``shopml`` computes the same key with :func:`pseudonym`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections import deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

COLUMNS = ("logged_at", "endpoint", "model", "model_version", "subject", "output")
"""One record: UTC time, route, served model, its version, pseudonymous customer (or item / request) key,
and the answer as compact JSON."""


def log_key(root: Path) -> bytes:
    """The data home's pseudonymisation secret, created on first use (readable by its owner only)."""
    path = Path(root) / ".key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".key.{os.getpid()}")
        staging.write_bytes(secrets.token_bytes(32))
        staging.chmod(0o600)
        try:
            os.link(staging, path)  # atomic and refuses to overwrite: two first users agree on one key
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    return path.read_bytes()


def pseudonym(key: bytes, value: str | None) -> str | None:
    """The 16-byte hex HMAC-SHA256 of ``value`` under ``key`` (None stays None: a guest)."""
    if value is None:
        return None
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class PredictionLog:
    """A bounded buffer of prediction records, flushed to Parquet partitions by a daemon thread."""

    def __init__(self, root: Path, capacity: int = 100_000, flush_seconds: float = 5.0, keep_days: int = 30):
        self.root = Path(root)
        self.key = log_key(self.root)
        self.flush_seconds = flush_seconds
        self.keep_days = keep_days
        self._buffer: deque[tuple] = deque(maxlen=capacity)
        self._appended = 0
        self.written = 0
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def dropped(self) -> int:
        """Records lost because the buffer was full between two flushes."""
        return self._appended - self.written - len(self._buffer)

    def record(self, endpoint: str, model: str, version: str, subject: str | None, output: Any) -> None:
        """Append one record (microseconds; called on the request path)."""
        self._buffer.append((time.time(), endpoint, model, version, subject, output))
        self._appended += 1

    def subject(self, customer_id: str | None) -> str | None:
        return pseudonym(self.key, customer_id)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="shopml-prediction-log", daemon=True)
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
                logger.exception("prediction log: flush failed; records stay buffered")

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
            by_day: dict[date, list[tuple]] = {}
            for record in records:
                by_day.setdefault(datetime.fromtimestamp(record[0], UTC).date(), []).append(record)
            for day, rows in by_day.items():
                self._write(day, rows)
            self.written += len(records)
            return len(records)

    def _write(self, day: date, rows: list[tuple]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({
            "logged_at": pa.array([datetime.fromtimestamp(r[0], UTC) for r in rows], pa.timestamp("ms", tz="UTC")),
            "endpoint": [r[1] for r in rows],
            "model": [r[2] for r in rows],
            "model_version": [r[3] for r in rows],
            "subject": [r[4] for r in rows],
            "output": [json.dumps(r[5], separators=(",", ":"), default=str) for r in rows],
        })
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


def read_predictions(root: Path, endpoint: str | None = None):
    """Every logged record under ``root`` as a pandas frame (``output`` still JSON text)."""
    import pandas as pd

    files = sorted(Path(root).glob("date=*/part-*.parquet"))
    if not files:
        return pd.DataFrame(columns=list(COLUMNS))
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return frame if endpoint is None else frame[frame["endpoint"] == endpoint].reset_index(drop=True)
