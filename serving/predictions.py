"""The prediction log: what the service predicted, for whom, with which model version, and when.

Outcome tracking (``monitoring``) joins these records with what customers did once a horizon has passed, so
every prediction a decision could rest on is kept: recommendations, similar items, customer scores, forecasts.
Recording must not slow the request: :meth:`PredictionLog.record` appends one tuple to a bounded in-memory
buffer (a deque; when it is full the oldest record is dropped and counted, never the request), and a daemon
thread writes the buffer every ``flush_seconds`` to Parquet under ``<data_home>/predictions/date=YYYY-MM-DD/``
(one file per flush and process, written to a temporary name and renamed, so a reader never sees half a
file). Partitions older than ``keep_days`` are deleted. The buffer, the writer and the rotation are
:class:`serving.parquet_log.BufferedParquetLog`, shared with the storefront event log (:mod:`serving.events`).

Customer ids are stored pseudonymously: an HMAC-SHA256 of the id under a secret kept in the data home
(``predictions/.key``), so the log can be joined with the shop's own tables by whoever holds the key, and
leaks no id by itself. ``shopml`` computes the same key with :func:`pseudonym`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from serving.parquet_log import BufferedParquetLog, log_key, read_partitions, utc_times
from shopml.privacy import pseudonym

__all__ = ["COLUMNS", "PredictionLog", "log_key", "pseudonym", "read_predictions"]

COLUMNS = ("logged_at", "endpoint", "model", "model_version", "subject", "output")
"""One record: UTC time, route, served model, its version, pseudonymous customer (or item / request) key,
and the answer as compact JSON."""


_compact = json.JSONEncoder(separators=(",", ":"), default=str).encode
"""Compact JSON of one output; one encoder for every record (``json.dumps`` with options builds one per call)."""


class PredictionLog(BufferedParquetLog):
    """A bounded buffer of prediction records, flushed to Parquet partitions by a daemon thread."""

    columns = COLUMNS
    thread_name = "shopml-prediction-log"

    def record(self, endpoint: str, model: str, version: str, subject: str | None, output: Any) -> None:
        """Append one record (microseconds; called on the request path)."""
        self.append((time.time(), endpoint, model, version, subject, output))

    def to_table(self, rows: Sequence[tuple]) -> Any:
        import pyarrow as pa

        return pa.table({
            "logged_at": utc_times(rows),
            "endpoint": [r[1] for r in rows],
            "model": [r[2] for r in rows],
            "model_version": [r[3] for r in rows],
            "subject": [r[4] for r in rows],
            "output": [_compact(r[5]) for r in rows],
        })


def read_predictions(root: Path, endpoint: str | None = None, problems: list[str] | None = None):
    """Every logged record under ``root`` as a pandas frame (``output`` still JSON text); unreadable files are
    named in ``problems`` and skipped when a list is given (:func:`serving.parquet_log.read_partitions`)."""
    frame = read_partitions(root, COLUMNS, problems)
    return frame if endpoint is None else frame[frame["endpoint"] == endpoint].reset_index(drop=True)
