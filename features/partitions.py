"""Compute a feature set partition by partition, as a distributed engine would.

Every feature function takes the order lines of a group of entities (customers or SKUs) plus the cutoff and
returns those entities' rows, so ``concat(f(part) for part in parts)`` must equal ``f(all)``. This module
assigns entities to partitions with a stable hash (the same on every machine and run) and runs a function
per partition; the tests use it to prove the equality, and the batch engine splits the same way.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
import pandas as pd


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
