"""The monitoring store: scores and forecasts kept per run, so they can be judged once the horizon has passed.

``<data_home>/monitoring/`` holds one Parquet file per scoring date (``scores/scored_at=YYYY-MM-DD.parquet``:
every customer's churn probability and predicted value from the champions of that day) and per forecast origin
(``forecasts/origin=YYYY-MM-DD.parquet``), and one JSON report per ``shopml monitor`` run
(``reports/monitor-YYYY-MM-DD.json``). Files are written to a temporary name and renamed, so a reader never
sees half of one; a run for a date already kept replaces it. A file that cannot be read is skipped and named
in the problems, never deleted: the rest of the history is still judged.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)


@dataclass
class History:
    """Reads and writes the monitoring store under ``root`` (``<data_home>/monitoring``)."""

    root: Path
    problems: list[str] = field(default_factory=list)

    def write_scores(self, scored_at: pd.Timestamp, scores: pd.DataFrame) -> Path:
        return self._write("scores", "scored_at", scored_at, scores)

    def write_forecasts(self, origin: pd.Timestamp, forecasts: pd.DataFrame) -> Path:
        return self._write("forecasts", "origin", origin, forecasts)

    def scores(self, until: pd.Timestamp | None = None) -> pd.DataFrame:
        """Every kept score (``scored_at`` on or before ``until``), oldest first."""
        return self._read("scores", "scored_at", until)

    def segment_sizes(self) -> pd.DataFrame:
        """Customers and predicted value per segment and scoring date (``scored_at``, ``segment``,
        ``customers``, ``predicted_value``), from the kept scores that carry a segment."""
        scores = self.scores()
        if scores.empty or "segment" not in scores:
            return pd.DataFrame(columns=["scored_at", "segment", "customers", "predicted_value"])
        grouped = scores.dropna(subset=["segment"]).groupby(["scored_at", "segment"])
        return grouped.agg(customers=("customer_id", "size"), predicted_value=("predicted_value", "sum")).reset_index()

    def forecasts(self, until: pd.Timestamp | None = None) -> pd.DataFrame:
        return self._read("forecasts", "origin", until)

    def write_report(self, as_of: pd.Timestamp, report: dict) -> Path:
        path = self.root / "reports" / f"monitor-{as_of:%Y-%m-%d}.json"
        _atomic_write(path, json.dumps(report, indent=2, default=str).encode())
        return path

    def _write(self, kind: str, key: str, date: pd.Timestamp, frame: pd.DataFrame) -> Path:
        path = self.root / kind / f"{key}={pd.Timestamp(date):%Y-%m-%d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        frame.assign(**{key: pd.Timestamp(date)}).to_parquet(staging, index=False)
        os.replace(staging, path)
        return path

    def _read(self, kind: str, key: str, until: pd.Timestamp | None) -> pd.DataFrame:
        folder = self.root / kind
        frames = []
        for path in sorted(folder.glob(f"{key}=*.parquet")) if folder.is_dir() else []:
            try:
                date = pd.Timestamp(path.stem.split("=", 1)[1])
                if until is not None and date > until:
                    continue
                frames.append(pd.read_parquet(path))
            except Exception as exc:  # a torn or foreign file: name it, judge the rest
                self.problems.append(f"{path}: unreadable ({type(exc).__name__}: {exc}); skipped, not deleted")
                log.warning(self.problems[-1])
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_bytes(data)
    os.replace(staging, path)
