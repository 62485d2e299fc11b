"""Ingestion's privacy step: customer ids become pseudonyms, the real ones go sealed into the vault, and the
erased stay out.

``shopml data generate`` and ``shopml data load`` call :func:`pseudonymise` on the tables they read before
anything is written to the data home, so that no table, feature, model or log built from them can hold a real
customer id (:mod:`shopml.privacy` says how the edge translates back).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from shopml.privacy import TOMBSTONES_FILE, Pseudonyms, Vault, secret_id, tombstone

if TYPE_CHECKING:
    from shopml.settings import Settings

ID_COLUMN = "customer_id"


@dataclass
class Pseudonymised:
    """The tables with pseudonyms, the vault rows of the customers in them, and what the tombstones kept out."""

    tables: dict[str, pd.DataFrame]
    vault: pd.DataFrame
    kept_out: dict[str, int] = field(default_factory=dict)
    """Rows dropped per table because their customer was erased."""


def canonical_ids(values: pd.Series) -> pd.Series:
    """Customer ids as strings the way the loaders write them (``17850.0`` read as a float is ``17850``)."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("Int64").astype("string")
    return values.astype("string").str.replace(r"\.0$", "", regex=True)


def pseudonymise(
    tables: dict[str, pd.DataFrame], pseudonyms: Pseudonyms, vault: Vault, *, tombstone_secret: bytes,
    erased: frozenset[str] = frozenset(),
) -> Pseudonymised:
    """Replace ``customer_id`` in every table that has one; drop the rows of customers whose tombstone is in
    ``erased``; seal each distinct real id into the vault."""
    out: dict[str, pd.DataFrame] = {}
    kept_out: dict[str, int] = {}
    real_ids: dict[str, str] = {}
    for name, frame in tables.items():
        if ID_COLUMN not in frame.columns:
            out[name] = frame
            continue
        ids = canonical_ids(frame[ID_COLUMN])
        if erased:
            uniques = ids.dropna().unique()
            gone = {u for u in uniques if tombstone(tombstone_secret, str(u)) in erased}
            if gone:
                drop = ids.isin(gone).fillna(False).to_numpy(dtype=bool)
                kept_out[name] = int(drop.sum())
                frame, ids = frame.loc[~drop].reset_index(drop=True), ids.loc[~drop].reset_index(drop=True)
        uniques = pd.Series(ids.dropna().unique(), dtype="string")
        hashed_uniques = pseudonyms.series(uniques)
        real_ids.update(zip(hashed_uniques.astype(str), uniques.astype(str), strict=True))
        hashed = ids.map(dict(zip(uniques, hashed_uniques, strict=True)))
        dtype = frame[ID_COLUMN].dtype
        out[name] = frame.assign(**{ID_COLUMN: hashed if pd.api.types.is_numeric_dtype(dtype) else hashed.astype(dtype)})
    sealed = vault.seal(list(real_ids), list(real_ids.values()))
    return Pseudonymised(out, sealed, kept_out)


def read_tombstones(privacy_dir: Path) -> pd.DataFrame:
    """The tombstones kept under ``privacy_dir`` (``tombstone``, ``erased_at``); none yet: an empty table."""
    path = Path(privacy_dir) / TOMBSTONES_FILE
    if path.is_file():
        return pd.read_parquet(path)
    return pd.DataFrame({"tombstone": pd.Series([], dtype="string"),
                         "erased_at": pd.Series([], dtype="datetime64[us, UTC]")})


def add_tombstone(privacy_dir: Path, stone: str) -> pd.DataFrame:
    """Append ``stone`` (once) to the tombstones, atomically; returns the new table."""
    stones = read_tombstones(privacy_dir)
    if stone not in set(stones["tombstone"].astype(str)):
        row = pd.DataFrame({"tombstone": pd.Series([stone], dtype="string"),
                            "erased_at": pd.Series([datetime.now(UTC)], dtype="datetime64[us, UTC]")})
        stones = pd.concat([stones, row], ignore_index=True) if len(stones) else row
    path = Path(privacy_dir) / TOMBSTONES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    stones.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return stones


def privacy_dir(data_home: Path) -> Path:
    """Where the tombstones live: ``<data_home>/privacy``."""
    return Path(data_home) / "privacy"


class Ingestion:
    """The privacy step of one data home, ready to apply to the tables of a load (or to each chunk of one)."""

    def __init__(self, settings: Settings) -> None:
        from shopml.privacy import pseudonym_secret, tombstone_secret

        secret = pseudonym_secret(settings)
        self.pseudonyms, self.vault = Pseudonyms(secret), Vault(secret)
        self.manifest = {"pseudonymised": True, "secret_id": secret_id(secret)}
        """What the data's manifest records under ``identities``."""
        self.tombstone_secret = tombstone_secret(settings)
        self.erased = frozenset(read_tombstones(privacy_dir(settings.data_home))["tombstone"].astype(str))
        self.kept_out: dict[str, int] = {}

    def __call__(self, tables: dict[str, pd.DataFrame]) -> Pseudonymised:
        done = pseudonymise(tables, self.pseudonyms, self.vault, tombstone_secret=self.tombstone_secret,
                            erased=self.erased)
        for name, n in done.kept_out.items():
            self.kept_out[name] = self.kept_out.get(name, 0) + n
        return done
