"""Compute a feature set partition by partition, as a distributed engine would.

Every feature function takes the order lines of a group of entities (customers or SKUs) plus the cutoff and
returns those entities' rows, so ``concat(f(part) for part in parts)`` must equal ``f(all)``. This module
assigns entities to partitions with a stable hash (the same on every machine and run: CRC-32 of the key's
UTF-8 text, which Spark's ``crc32`` computes too) and runs a function per partition; the tests use it to prove
the equality, and the Spark engine (:mod:`features.spark`) splits the same way. :func:`run_partition` is how
every engine runs one partition: a failure names the partition and the row that fails.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
import pandas as pd

from shopml.errors import DataValidationError


def partition_of(keys: pd.Series, n_partitions: int) -> np.ndarray:
    """The partition (``0 .. n_partitions - 1``) of each key: CRC-32 of its text, stable across processes."""
    if n_partitions < 1:
        raise ValueError(f"n_partitions must be >= 1, got {n_partitions}")
    codes, uniques = pd.factorize(keys.astype("str"), use_na_sentinel=True)
    buckets = np.array([zlib.crc32(str(u).encode("utf-8")) % n_partitions for u in uniques], dtype="int64")
    out = np.full(len(keys), -1, dtype="int64")
    known = codes >= 0
    out[known] = buckets[codes[known]]
    return out


def split_by(frame: pd.DataFrame, key: str, n_partitions: int) -> list[pd.DataFrame]:
    """``frame``'s rows grouped into ``n_partitions`` frames by the hash of ``key``; rows with a null key are
    left out (no entity owns them)."""
    part = partition_of(frame[key], n_partitions)
    return [frame.loc[part == p] for p in range(n_partitions)]


def compute_by_partitions(
    function: Callable[..., pd.DataFrame], frame: pd.DataFrame, key: str, n_partitions: int, /, **kwargs
) -> pd.DataFrame:
    """``function(part, **kwargs)`` for every non-empty partition of ``frame`` by ``key``, concatenated."""
    results = [function(part, **kwargs) for part in split_by(frame, key, n_partitions) if len(part)]
    return pd.concat(results, ignore_index=True) if results else function(frame.iloc[:0], **kwargs)


class PartitionError(DataValidationError):
    """A per-partition function failed; the message names the work, the partition and the row that fails.

    Raised by :func:`run_partition` in every engine (pandas runs one partition, Spark one per hash bucket),
    so a malformed row that slipped past validation is reported the same way wherever it ran.
    """


def canonical_order(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s rows sorted by every column (a stable sort, index dropped).

    A feature sums an entity's rows in the order it receives them, and floating-point sums depend on that
    order in their last bits. A shuffle (Spark's ``groupBy``) hands a partition its rows in any order, so both
    engines put the order lines in this one order before computing: a sorted partition lists each entity's rows
    in the same relative order as the sorted whole table, and the features agree bit for bit.
    """
    if frame.attrs.get(CANONICAL):
        return frame
    if len(frame) < 2:
        ordered = frame.reset_index(drop=True)
    else:
        ordered = frame.sort_values(list(frame.columns), kind="stable", na_position="last").reset_index(drop=True)
    ordered.attrs[CANONICAL] = True
    return ordered


CANONICAL = "shopml_canonical_order"
"""``DataFrame.attrs`` flag of a frame already in :func:`canonical_order` (sorting it again is skipped). A
caller that owns its tables can sort them up front and drop the unsorted frame, so the build never holds
both (what ``shopml features build`` does: at 10M order lines that copy is about 1 GB)."""


def run_partition(
    function: Callable[[pd.DataFrame], pd.DataFrame], frame: pd.DataFrame, *, what: str, key: str,
    partition: int = 0, n_partitions: int | None = 1,
) -> pd.DataFrame:
    """``function(frame)``; on any error, a :class:`PartitionError` naming ``what``, the partition and the row.

    The row is found by bisection (the function is a function of rows grouped by entity, so a malformed row
    fails on its own): the first single row on which ``function`` fails is named by its values, starting with
    ``key``. Finding it costs about two more runs of the partition, and only after a failure. A
    ``MemoryError`` is raised as it is (the partition is too large; use more partitions).
    """
    try:
        return function(frame)
    except MemoryError:  # the partition is too big, not a row too bad: bisecting would only take longer
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of a partition is reported with its row
        row, cause = _failing_row(function, frame, exc)
        of = f" of {n_partitions}" if n_partitions else ""
        where = f"partition {partition}{of} (by {key}, {len(frame):,} rows)"
        found = f"at the row {_describe_row(row, key)}" if row is not None else \
            f"on rows together ({key} {_key_range(frame, key)}), no single row fails alone"
        message = f"{what}: {where} failed {found}: {type(cause).__name__}: {_one_line(cause)}"
        raise PartitionError(message) from exc


def _failing_row(function, frame: pd.DataFrame, error: Exception) -> tuple[pd.Series | None, Exception]:
    """The first row of ``frame`` on which ``function`` fails alone (by bisection), and that failure."""
    rows, cause = frame, error
    while len(rows) > 1:
        half = len(rows) // 2
        for candidate in (rows.iloc[:half], rows.iloc[half:]):
            try:
                function(candidate)
            except Exception as exc:  # noqa: BLE001 - narrowing down the failing row
                rows, cause = candidate, exc
                break
        else:
            return None, cause
    return (rows.iloc[0] if len(rows) else None), cause


def _describe_row(row: pd.Series, key: str, limit: int = 7) -> str:
    names = [key, *[n for n in row.index if n != key]][:limit] if key in row.index else list(row.index[:limit])
    return "(" + ", ".join(f"{n}={_short(row[n])}" for n in names) + ")"


def _key_range(frame: pd.DataFrame, key: str) -> str:
    if key not in frame.columns or frame.empty:
        return "?"
    values = frame[key].dropna().astype("str")
    return f"{values.min()!r} to {values.max()!r}" if len(values) else "null"


def _short(value: object, width: int = 40) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return "null"
    text = str(value) if isinstance(value, pd.Timestamp) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _one_line(exc: Exception, width: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= width else text[: width - 3] + "..."
