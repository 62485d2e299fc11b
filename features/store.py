"""Canonical tables on disk: one Parquet file per table under ``<data home>/data`` with a manifest.

The manifest records where the data came from, the row counts and a fingerprint, so that every feature
table and model run can say exactly which data it was built from.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from features.contracts import CONTRACTS
from shopml.errors import NotTrainedError

MANIFEST = "manifest.json"


def fingerprint(frame: pd.DataFrame) -> str:
    """A short content hash of a frame (order of rows matters), stable across processes."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]


def save_tables(
    tables: dict[str, pd.DataFrame], directory: Path, *, source: str, extras: dict[str, pd.DataFrame] | None = None,
    identities: dict[str, object] | None = None,
) -> dict[str, object]:
    """Write every table atomically (to a sibling folder, then swapped in) and return the manifest.

    ``extras`` are files written beside the tables in the same swap (``identities.parquet``: the sealed vault of
    :mod:`shopml.privacy`); they are not tables and not in the manifest. ``identities`` says in the manifest
    that the customer ids are pseudonyms, and under which secret (:class:`shopml.privacy.Edge` reads it).
    """
    directory = Path(directory)
    staging = directory.with_name(directory.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    manifest: dict[str, object] = {
        "source": source,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": {},
    }
    if identities is not None:
        manifest["identities"] = identities
    for name, frame in tables.items():
        if name not in CONTRACTS:
            raise ValueError(f"unknown table {name!r}")
        frame.to_parquet(staging / f"{name}.parquet", index=False)
        manifest["tables"][name] = {"rows": len(frame), "fingerprint": fingerprint(frame)}
    for file_name, frame in (extras or {}).items():
        frame.to_parquet(staging / file_name, index=False)
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if directory.exists():
        shutil.rmtree(directory)
    staging.rename(directory)
    return manifest


def load_tables(directory: Path, names: tuple[str, ...] | None = None) -> dict[str, pd.DataFrame]:
    """Read the canonical tables saved by :func:`save_tables`."""
    directory = Path(directory)
    if not (directory / MANIFEST).is_file():
        raise NotTrainedError(
            f"no data in {directory}: run `shopml data generate` or `shopml data load PATH` first."
        )
    wanted = names or tuple(json.loads((directory / MANIFEST).read_text())["tables"])
    return {name: pd.read_parquet(directory / f"{name}.parquet") for name in wanted}


def read_manifest(directory: Path) -> dict[str, object]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise NotTrainedError(f"no manifest in {directory}: build it first.")
    return json.loads(path.read_text())


def write_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to a ``.csv`` or ``.parquet`` file through a temporary sibling renamed when complete, so
    a crash never leaves half a file."""
    from shopml.errors import ShopmlError

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ShopmlError(f"{path}: use a .csv or .parquet file name.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
