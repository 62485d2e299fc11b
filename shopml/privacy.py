"""Pseudonymous customer ids: the keyed hash, the sealed identity vault and the erasure tombstones.

Customer ids are replaced at ingestion (``shopml data generate|load``) by :meth:`Pseudonyms.of`, an
HMAC-SHA256 under the data home's secret, so that everything derived (features, training sets, MLflow runs and
their input examples, prediction and event logs, reports) holds pseudonyms only. The service and the CLI
translate at the edge: a caller's own id is hashed on the way in, and the few answers that must name customers
(audience exports, the console) open the pseudonym in the :class:`Vault`, which keeps each real id encrypted
(AES-GCM under a key derived from the same secret). Erasing a customer deletes their vault entry and keeps a
:func:`tombstone`, a hash under a *separate* secret that never rotates, so that reloading the raw source keeps
them out without the data home remembering who they were (docs/security.md, "Pseudonymous ids").

The secret comes from ``privacy_secret`` (env ``SHOPML_PRIVACY_SECRET``), else from ``privacy_secret_file``,
else from ``<data_home>/secrets/pseudonyms.key``, created on first use and readable by its owner only. It is
never in the repository and never printed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from shopml.errors import ShopmlError

if TYPE_CHECKING:
    from shopml.settings import Settings

PSEUDONYM_CHARS = 32
"""Hex digits of a pseudonym (128 bits: no collision among billions of customers)."""

SECRETS_DIR = "secrets"
PSEUDONYM_SECRET = "pseudonyms.key"
TOMBSTONE_SECRET = "tombstones.key"
VAULT_FILE = "identities.parquet"
"""The sealed identities, beside the canonical tables (``<data_home>/data/identities.parquet``)."""
TOMBSTONES_FILE = "tombstones.parquet"
"""Erased customers' tombstones (``<data_home>/privacy/tombstones.parquet``)."""


def secret_file(path: Path) -> bytes:
    """The 32-byte secret in ``path``, created on first use (mode 0600; two first users agree on one)."""
    path = Path(path)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging = path.with_name(f".{path.name}.{os.getpid()}")
        staging.write_bytes(secrets.token_bytes(32))
        staging.chmod(0o600)
        try:
            os.link(staging, path)  # atomic and refuses to overwrite
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    data = path.read_bytes()
    if len(data) < 16:
        raise ShopmlError(f"{path}: a secret of at least 16 bytes is needed (found {len(data)}); restore the file "
                          "or point privacy_secret_file at the right one.")
    return data


def pseudonym_secret(settings: Settings) -> bytes:
    """The pseudonymisation secret of ``settings`` (see the module docstring for where it comes from)."""
    if settings.privacy_secret is not None:
        value = settings.privacy_secret.get_secret_value().encode("utf-8")
        if len(value) < 16:
            raise ShopmlError("privacy_secret (SHOPML_PRIVACY_SECRET) must be at least 16 characters long.")
        return value
    if settings.privacy_secret_file is not None:
        if not settings.privacy_secret_file.is_file():
            raise ShopmlError(f"privacy_secret_file {settings.privacy_secret_file} does not exist; create it "
                              "(e.g. `head -c 32 /dev/urandom > FILE; chmod 600 FILE`) or unset the setting.")
        return secret_file(settings.privacy_secret_file)
    return secret_file(settings.data_home / SECRETS_DIR / PSEUDONYM_SECRET)


def pseudonym(secret: bytes, value: str | None) -> str | None:
    """The first :data:`PSEUDONYM_CHARS` hex digits of HMAC-SHA256(secret, value); None stays None (a guest)."""
    if value is None:
        return None
    return hmac.new(secret, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]


MEMO_SIZE = 65_536
"""Ids whose pseudonyms a :func:`pseudonymiser` remembers (cleared when full): about 10 MB."""


def pseudonymiser(secret: bytes, memo_size: int = MEMO_SIZE) -> Callable[[str | None], str | None]:
    """:func:`pseudonym` under ``secret``, remembering recent ids: a storefront asks about the same shoppers again
    and again, and an HMAC costs more than the rest of some requests' bookkeeping."""
    memo: dict[str, str] = {}

    def of(value: str | None) -> str | None:
        if value is None:
            return None
        hit = memo.get(value)
        if hit is None:
            if len(memo) >= memo_size:
                memo.clear()
            hit = memo[value] = pseudonym(secret, value)  # type: ignore[assignment]
        return hit

    return of


class Pseudonyms:
    """The keyed hash that replaces customer ids: the same id always gives the same pseudonym under one secret."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self._of = pseudonymiser(secret)

    @classmethod
    def for_settings(cls, settings: Settings) -> Pseudonyms:
        return cls(pseudonym_secret(settings))

    def of(self, value: str | None) -> str | None:
        """The pseudonym of one id (None stays None: a guest)."""
        return self._of(value)

    def series(self, values: pd.Series) -> pd.Series:
        """Pseudonyms of a column, hashing each distinct id once (nulls stay null)."""
        codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
        hashed = np.array([pseudonym(self.secret, str(v)) for v in uniques] + [None], dtype=object)
        return pd.Series(hashed[codes], index=values.index, dtype="string", name=values.name)


def _aead(secret: bytes):  # noqa: ANN202 - cryptography's type, imported lazily
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"shopml identity vault").derive(secret)
    return AESGCM(key)


class Vault:
    """Real customer ids, each encrypted (AES-GCM, random nonce) and keyed by its pseudonym.

    Only the edge opens it: audience exports and the console. Rows are ``customer_id`` (the pseudonym) and
    ``sealed`` (nonce + ciphertext); the pseudonym is the authenticated data, so a sealed id moved to another
    row does not open.
    """

    def __init__(self, secret: bytes) -> None:
        self._aead = _aead(secret)

    def seal(self, pseudonyms: Sequence[str], raw_ids: Sequence[str]) -> pd.DataFrame:
        sealed = []
        for pseudo, raw in zip(pseudonyms, raw_ids, strict=True):
            nonce = secrets.token_bytes(12)
            sealed.append(nonce + self._aead.encrypt(nonce, str(raw).encode("utf-8"), pseudo.encode("ascii")))
        return pd.DataFrame({"customer_id": pd.Series(list(pseudonyms), dtype="string"),
                             "sealed": pd.Series(sealed, dtype=object)})

    def open(self, pseudonym: str, sealed: bytes) -> str:
        """The real id sealed for ``pseudonym`` (refuses a sealed value that was not made for it)."""
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], pseudonym.encode("ascii")).decode("utf-8")
        except InvalidTag as exc:
            raise ShopmlError(f"the identity of {pseudonym} does not open with this secret: the vault was sealed "
                              "under another privacy secret (docs/security.md, 'Rotating the secret').") from exc


class Identities:
    """The vault of one data home, read once: pseudonym to real id for the edge (None once erased)."""

    def __init__(self, frame: pd.DataFrame, vault: Vault) -> None:
        self._sealed = dict(zip(frame["customer_id"].astype(str), frame["sealed"], strict=True))
        self._vault = vault

    @classmethod
    def read(cls, settings: Settings) -> Identities:
        path = settings.raw_dir / VAULT_FILE
        frame = pd.read_parquet(path) if path.is_file() else pd.DataFrame({"customer_id": [], "sealed": []})
        return cls(frame, Vault(pseudonym_secret(settings)))

    def __len__(self) -> int:
        return len(self._sealed)

    def __contains__(self, pseudonym: object) -> bool:
        return pseudonym in self._sealed

    def pseudonyms(self) -> list[str]:
        return list(self._sealed)

    def real(self, pseudonym: str) -> str | None:
        sealed = self._sealed.get(pseudonym)
        return None if sealed is None else self._vault.open(pseudonym, sealed)

    def reals(self, pseudonyms: Iterable[str]) -> list[str | None]:
        return [self.real(p) for p in pseudonyms]


def tombstone_secret(settings: Settings) -> bytes:
    """The tombstones' own secret: it never rotates, so tombstones outlive a change of the pseudonym secret."""
    return secret_file(settings.data_home / SECRETS_DIR / TOMBSTONE_SECRET)


def tombstone(secret: bytes, raw_id: str) -> str:
    """What an erased customer leaves: a keyed hash unrelated to their pseudonym, matched on reload only."""
    return hmac.new(secret, b"tombstone:" + str(raw_id).encode("utf-8"), hashlib.sha256).hexdigest()


def secret_id(secret: bytes) -> str:
    """A short public fingerprint of a secret, recorded in the manifest so that a changed secret is noticed."""
    return hmac.new(secret, b"shopml secret id", hashlib.sha256).hexdigest()[:12]


class Edge:
    """Where the CLI and the service translate between callers' customer ids and the pseudonyms inside.

    A data home whose manifest says its ids are pseudonymous (every ``shopml data generate|load`` since the
    privacy step landed) hashes ids on the way in and opens the vault on the way out; one written without it
    (tables saved directly by library code, or an older data home) passes ids through unchanged.
    The manifest and the vault are re-read when their files change (checked at most once a second), so a reload
    of the data or an erasure takes effect in a running service within a second: an erased customer is unknown
    everywhere.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pseudonyms: Pseudonyms | None = None
        self._identities: Identities | None = None
        self.erased: set[str] = set()
        """Customers (inner ids) whose vault entry went away while this edge was watching: erased."""
        self._versions: tuple[int | None, int | None] | None = None
        self._checked = -1.0
        self._refresh()

    def _refresh(self) -> None:
        import json
        import time

        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        self._checked = now
        raw = self.settings.raw_dir
        versions = tuple(p.stat().st_mtime_ns if p.is_file() else None
                         for p in (raw / "manifest.json", raw / VAULT_FILE))
        if versions == self._versions:
            return
        info = json.loads((raw / "manifest.json").read_text()).get("identities", {}) if versions[0] else {}
        pseudonyms = identities = None
        if info.get("pseudonymised"):
            secret = pseudonym_secret(self.settings)
            if info.get("secret_id") not in (None, secret_id(secret)):
                raise ShopmlError(f"{raw} was pseudonymised under another privacy secret than the one configured "
                                  "now; restore the secret, or follow docs/security.md, 'Rotating the secret'.")
            pseudonyms, identities = Pseudonyms(secret), Identities.read(self.settings)
        if self._identities is not None and identities is not None:
            self.erased = self.erased | (set(self._identities.pseudonyms()) - set(identities.pseudonyms()))
        self.pseudonyms, self._identities, self._versions = pseudonyms, identities, versions  # type: ignore[assignment]

    @property
    def pseudonymised(self) -> bool:
        self._refresh()
        return self.pseudonyms is not None

    def inward(self, customer_id: str | None) -> str | None:
        """The id the data home knows a caller's customer by (None stays None)."""
        self._refresh()
        pseudonyms = self.pseudonyms
        if customer_id is None or pseudonyms is None:
            return customer_id
        return pseudonyms.of(customer_id)

    def identities(self) -> Identities | None:
        """The vault as of its file's last change (None for a data home without pseudonyms)."""
        self._refresh()
        return self._identities

    def present(self, inner: str | None) -> bool:
        """Whether the data home still holds this customer (False once erased; always True without pseudonyms)."""
        identities = self.identities()
        return inner is not None and (identities is None or inner in identities)

    def outward(self, inner: str) -> str | None:
        """The caller's id of an inner one (None once erased)."""
        identities = self.identities()
        return inner if identities is None else identities.real(inner)
