"""API keys: roles, the constant-time key ring, the managed key store, and the live key set of the service.

:class:`Role`, :func:`hash_key`, :class:`Principal` and :class:`KeyRing` are the key check itself (re-exported
by :mod:`serving.auth`, whose middleware uses them). The rest manages keys.

The store is ``<data_home>/keys.json`` (mode 0600), written only by :class:`KeyStore` (``shopml keys ...``; the
service only merges ``last_used``)::

    {"version": 1,
     "keys": [{"id": "k_3f9a2b7c1d0e", "name": "web-shop", "sha256": "<hex digest of the key>",
               "roles": ["storefront"], "created": "2026-12-06T14:40:00Z", "expires": null,
               "revoked": null, "rotated_to": null, "last_used": "2026-12-06T15:02:11Z",
               "per_second": null, "burst": null}]}

The key itself (``shk_`` and 43 random URL-safe characters) is printed once by ``shopml keys create`` or
``rotate`` and never stored. Every change is read-modify-write under an ``fcntl`` lock (``keys.json.lock``),
written to a temporary file, fsynced and renamed over the store, and recorded in the audit trail
(:mod:`shopml.audit`) with the key id, never the key.

:class:`ServiceKeys` is what the service checks: the settings' keys (``serve_api_keys``; the demo keys only
with ``demo_mode``) and every key of the store, as one :class:`serving.auth.KeyRing`. It looks at the store's
mtime at most once a second and rebuilds the ring when the file changed, so a created, revoked or rotated key
takes effect within a second, without a restart. When a stored key is used, the time is remembered in memory
and written to the store by a background thread at most once a minute per key (never on the request path).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serving.ratelimit import Rate
from shopml.audit import record
from shopml.errors import ShopmlError

if TYPE_CHECKING:
    from shopml.settings import ApiKeySetting, Settings

logger = logging.getLogger(__name__)

STORE_VERSION = 1
KEY_PREFIX = "shk_"
LAST_USED_EVERY = 60.0
"""Seconds between two ``last_used`` updates of one key."""
CHECK_EVERY = 1.0
"""Seconds between two looks at the store's mtime."""


class KeyStoreError(ShopmlError):
    """A key store that cannot be read, or a key command that cannot be done (unknown id, revoked key)."""


class Role(StrEnum):
    """Who calls the service; ``admin`` may call everything."""

    STOREFRONT = "storefront"
    MARKETING = "marketing"
    LOGISTICS = "logistics"
    ADMIN = "admin"


def hash_key(key: str) -> str:
    """The SHA-256 hex digest stored for ``key`` (settings ``serve_api_keys`` and the key store)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The caller behind a key: its name and id (never the key), roles, rate and lifecycle.

    ``key_id`` is the store's id (``k_...``) or, for a key from settings, its name; ``expires`` and ``revoked``
    are epoch seconds (None: never); ``rate`` None means no limit (a ring built without settings).
    """

    name: str
    roles: frozenset[Role]
    key_id: str = ""
    rate: Rate | None = None
    expires: float | None = None
    revoked: float | None = None
    rotated_to: str | None = None
    managed: bool = False

    def __post_init__(self) -> None:
        if not self.key_id:
            object.__setattr__(self, "key_id", self.name)

    def refusal(self, now: float) -> str | None:
        """Why this key may not be used at ``now`` (epoch seconds), or None when it may."""
        if self.revoked is not None and now >= self.revoked:
            return f"API key {self.key_id} was revoked at {_iso_epoch(self.revoked)}; ask an admin for a new key"
        if self.expires is not None and now >= self.expires:
            if self.rotated_to:
                return (f"API key {self.key_id} was rotated (replaced by {self.rotated_to}) and its grace period "
                        f"ended at {_iso_epoch(self.expires)}; use the new key")
            return f"API key {self.key_id} expired at {_iso_epoch(self.expires)}; ask an admin for a new key"
        return None


class KeyRing:
    """A set of keys; :meth:`identify` finds the caller of a presented key in constant time.

    Built from settings entries (``ApiKeySetting``) or from ``(digest, Principal)`` pairs (:func:`build_ring`).
    Revoked and expired keys stay in the ring, so that their caller is told why (:meth:`Principal.refusal`).
    """

    def __init__(self, keys: Iterable[ApiKeySetting] = (), *, entries: Iterable[tuple[bytes, Principal]] = ()):
        self._keys: list[tuple[bytes, Principal]] = []
        for key in keys:
            roles = frozenset(Role(r) for r in key.roles)
            self._keys.append((bytes.fromhex(key.sha256), Principal(key.name, roles)))
        self._keys.extend(entries)
        self._by_id = {principal.key_id: principal for _, principal in self._keys}

    def by_id(self, key_id: str) -> Principal | None:
        """The key with id ``key_id`` (a console session's key), or None."""
        return self._by_id.get(key_id)

    def __len__(self) -> int:
        return len(self._keys)

    def identify(self, presented: str) -> Principal | None:
        """The principal whose digest equals the digest of ``presented``; every stored digest is compared
        (:func:`hmac.compare_digest`, no early exit), so the time does not depend on which key matched."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found: Principal | None = None
        for stored, principal in self._keys:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


def _iso_epoch(seconds: float) -> str:
    return _iso(datetime.fromtimestamp(seconds, UTC))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class StoredKey:
    """One key of the store: id, label, SHA-256 digest, roles, lifecycle times and an optional own rate."""

    id: str
    name: str
    sha256: str
    roles: tuple[str, ...]
    created: str
    expires: str | None = None
    revoked: str | None = None
    rotated_to: str | None = None
    last_used: str | None = None
    per_second: float | None = None
    burst: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> StoredKey:
        try:
            key = cls(**{**data, "roles": tuple(data["roles"])})
            if len(key.sha256) != 64 or any(c not in "0123456789abcdef" for c in key.sha256):
                raise ValueError("sha256 is not a SHA-256 hex digest")
            if not key.roles:
                raise ValueError("a key needs at least one role")
            for role in key.roles:
                Role(role)
            for moment in (key.created, key.expires, key.revoked, key.last_used):
                _parse(moment)
        except (TypeError, ValueError, KeyError) as exc:
            raise KeyStoreError(f"{where}: invalid key entry ({exc}); fix or remove it") from exc
        return key

    def status(self, now: datetime | None = None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        now = now or datetime.now(UTC)
        if self.revoked is not None:
            return "revoked"
        expires = _parse(self.expires)
        if expires is not None and now >= expires:
            return "expired"
        return "active"


def rate_of(roles: Iterable[str], settings: Settings, per_second: float | None = None,
            burst: int | None = None) -> Rate:
    """A key's rate: its own when set, else the largest of its roles' limits."""
    limits = [settings.rate_limit(role) for role in roles]
    return Rate(per_second if per_second is not None else max(limit.per_second for limit in limits),
                float(burst if burst is not None else max(limit.burst for limit in limits)))


class KeyStore:
    """``<data_home>/keys.json``: create, list, revoke, rotate; every change locked, atomic and audited."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.path = Path(settings.keys_path)

    # ------------------------------------------------------------------------------------------- reading
    def load(self) -> list[StoredKey]:
        """Every key of the store (an absent store is empty)."""
        return _read_store(self.path)

    def get(self, key_id: str) -> StoredKey:
        return _find(self.load(), key_id, self.path)

    # ------------------------------------------------------------------------------------------- changes
    def create(self, roles: Iterable[str], *, name: str | None = None, expires_days: float | None = None,
               per_second: float | None = None, burst: int | None = None, actor: str) -> tuple[StoredKey, str]:
        """A new key with ``roles``: the stored entry and the key itself (shown once, never stored)."""
        roles = tuple(dict.fromkeys(Role(r).value for r in roles))
        if not roles:
            raise KeyStoreError("a key needs at least one role: --role storefront|marketing|logistics|admin")
        if expires_days is not None and expires_days <= 0:
            raise KeyStoreError("--expires-days must be positive")
        if (per_second is None) != (burst is None):
            raise KeyStoreError("give both --rate and --burst, or neither (the role's limit)")
        if per_second is not None:
            Rate(per_second, float(burst or 0))
        now = datetime.now(UTC)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = "k_" + secrets.token_hex(6)
        key = StoredKey(
            id=key_id, name=(name or key_id).strip()[:100] or key_id, sha256=hash_key(secret), roles=roles,
            created=_iso(now), expires=None if expires_days is None else _iso(now + timedelta(days=expires_days)),
            per_second=per_second, burst=burst,
        )
        self._update(lambda keys: [*keys, key])
        record(self.settings, actor, "keys.create", key_id=key.id, name=key.name, roles=list(roles),
               expires=key.expires)
        return key, secret

    def revoke(self, key_id: str, *, actor: str) -> StoredKey:
        """Mark ``key_id`` revoked (it answers 401 from the next second on); revoking twice is refused."""
        revoked: list[StoredKey] = []

        def change(keys: list[StoredKey]) -> list[StoredKey]:
            key = _find(keys, key_id, self.path)
            if key.revoked is not None:
                raise KeyStoreError(f"key {key_id} was already revoked at {key.revoked}")
            revoked.append(replace(key, revoked=_iso(datetime.now(UTC))))
            return [revoked[0] if k.id == key_id else k for k in keys]

        self._update(change)
        record(self.settings, actor, "keys.revoke", key_id=key_id, name=revoked[0].name)
        return revoked[0]

    def rotate(self, key_id: str, *, grace_hours: float | None = None, expires_days: float | None = None,
               actor: str) -> tuple[StoredKey, StoredKey, str]:
        """A new key with the roles (and rate) of ``key_id``; the old one expires after the grace period.

        Returns (old entry, new entry, the new key). A revoked or expired key cannot be rotated (create one).
        """
        grace = self.settings.keys_rotation_grace_hours if grace_hours is None else grace_hours
        if grace < 0:
            raise KeyStoreError("--grace-hours must be 0 or more")
        now = datetime.now(UTC)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        out: list[StoredKey] = []

        def change(keys: list[StoredKey]) -> list[StoredKey]:
            old = _find(keys, key_id, self.path)
            status = old.status(now)
            if status != "active":
                raise KeyStoreError(f"key {key_id} is {status}; create a new key with `shopml keys create`")
            if old.rotated_to:
                raise KeyStoreError(f"key {key_id} was already rotated to {old.rotated_to}; rotate that one")
            new = StoredKey(
                id="k_" + secrets.token_hex(6), name=old.name, sha256=hash_key(secret), roles=old.roles,
                created=_iso(now), expires=None if expires_days is None else _iso(now + timedelta(days=expires_days)),
                per_second=old.per_second, burst=old.burst,
            )
            ends = now + timedelta(hours=grace)
            current = _parse(old.expires)
            old = replace(old, rotated_to=new.id, expires=_iso(min(ends, current) if current else ends))
            out[:] = [old, new]
            return [*(old if k.id == key_id else k for k in keys), new]

        self._update(change)
        old, new = out
        record(self.settings, actor, "keys.rotate", key_id=key_id, new_key_id=new.id, old_expires=old.expires,
               roles=list(new.roles))
        return old, new, secret

    def touch(self, used: dict[str, float]) -> None:
        """Merge ``last_used`` times (key id -> epoch seconds) into the store (the service's flush)."""
        if not used:
            return

        def change(keys: list[StoredKey]) -> list[StoredKey]:
            merged = []
            for key in keys:
                when = used.get(key.id)
                if when is not None:
                    stamp = _iso(datetime.fromtimestamp(when, UTC))
                    if key.last_used is None or key.last_used < stamp:
                        key = replace(key, last_used=stamp)
                merged.append(key)
            return merged

        self._update(change)

    def _update(self, change: Callable[[list[StoredKey]], list[StoredKey]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            keys = change(_read_store(self.path))
            _write_store(self.path, keys)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            os.close(lock)


def _find(keys: list[StoredKey], key_id: str, path: Path) -> StoredKey:
    for key in keys:
        if key.id == key_id:
            return key
    raise KeyStoreError(f"no key {key_id!r} in {path}; see `shopml keys list`")


def _read_store(path: Path) -> list[StoredKey]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise KeyStoreError(f"cannot read the key store {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise KeyStoreError(f"the key store {path} is not JSON ({exc}); restore it from a backup") from exc
    if not isinstance(data, dict) or data.get("version") != STORE_VERSION or not isinstance(data.get("keys"), list):
        raise KeyStoreError(f"the key store {path} is not a version-{STORE_VERSION} key store "
                            '({"version": 1, "keys": [...]})')
    keys = [StoredKey.from_dict(entry, f"{path} key {i}") if isinstance(entry, dict) else
            StoredKey.from_dict({}, f"{path} key {i}") for i, entry in enumerate(data["keys"])]
    ids = [k.id for k in keys]
    if len(set(ids)) != len(ids):
        raise KeyStoreError(f"the key store {path} lists a key id twice; remove the duplicate")
    return keys


def _write_store(path: Path, keys: list[StoredKey]) -> None:
    body = {"version": STORE_VERSION, "keys": [{**asdict(k), "roles": list(k.roles)} for k in keys]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, indent=1)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------- the service side
def demo_digests() -> frozenset[str]:
    """SHA-256 digests of the documented demo keys ``demo-<role>-key``."""
    from shopml.settings import DEMO_API_KEYS

    return frozenset(str(k["sha256"]) for k in DEMO_API_KEYS)


def settings_keys(settings: Settings) -> list[ApiKeySetting]:
    """The keys of ``serve_api_keys`` the service accepts: the demo keys only in demo mode."""
    demo = demo_digests()
    return [k for k in settings.serve_api_keys if settings.demo_mode or k.sha256 not in demo]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; 0.0.0.0, :: and real addresses are beyond loopback."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def demo_warning(settings: Settings, host: str | None = None) -> str | None:
    """The warning to log when the service serves beyond loopback with the demo keys, else None."""
    host = settings.serve_host if host is None else host
    demo = demo_digests()
    if is_loopback(host) or not any(k.sha256 in demo for k in settings_keys(settings)):
        return None
    return (f"the service is reachable beyond loopback ({host}) and accepts the public demo keys "
            "(demo-<role>-key): set SHOPML_DEMO_MODE=false and create real keys with `shopml keys create` "
            "(docs/security.md)")


RETIRED_DAYS = 30
"""Keys revoked or expired longer ago than this leave the ring (the generic 401), so that every request's
comparison with every digest stays short however many keys were ever issued."""


def build_ring(settings: Settings, stored: Iterable[StoredKey], now: datetime | None = None) -> KeyRing:
    """One ring of the settings' keys (id = name) and the store's keys: active ones, and those revoked or
    expired within :data:`RETIRED_DAYS` (found, and refused with the reason)."""
    horizon = (now or datetime.now(UTC)) - timedelta(days=RETIRED_DAYS)
    entries: list[tuple[bytes, Principal]] = []
    for key in settings_keys(settings):
        entries.append((bytes.fromhex(key.sha256), Principal(
            key.name, frozenset(Role(r) for r in key.roles), key_id=key.name, rate=rate_of(key.roles, settings))))
    for stored_key in stored:
        expires, revoked = _parse(stored_key.expires), _parse(stored_key.revoked)
        ended = min((t for t in (expires, revoked) if t is not None), default=None)
        if ended is not None and ended < horizon:
            continue
        entries.append((bytes.fromhex(stored_key.sha256), Principal(
            stored_key.name, frozenset(Role(r) for r in stored_key.roles), key_id=stored_key.id,
            rate=rate_of(stored_key.roles, settings, stored_key.per_second, stored_key.burst),
            expires=None if expires is None else expires.timestamp(),
            revoked=None if revoked is None else revoked.timestamp(),
            rotated_to=stored_key.rotated_to, managed=True)))
    return KeyRing(entries=entries)


class ServiceKeys:
    """The keys a service process accepts, kept in step with the key store (see the module docstring).

    :meth:`current` is called on every request: a clock read, and at most once a second an ``os.stat`` of the
    store; the store is parsed only when its mtime, size or inode changed. A store that cannot be read keeps
    the last good ring (logged). :meth:`seen` remembers when a stored key was used; a daemon thread writes
    those times to the store at most once a minute per key.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic,
                 check_every: float = CHECK_EVERY, last_used_every: float = LAST_USED_EVERY):
        self.settings = settings
        self.store = KeyStore(settings)
        self._clock = clock
        self.check_every = check_every
        self.last_used_every = last_used_every
        self._signature: tuple[int, int, int] | None = None
        self._next_check = 0.0
        self._ring = build_ring(settings, [])
        self._seen: dict[str, float] = {}
        self._pending: dict[str, float] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.refresh()
        self._next_check = clock() + check_every

    @property
    def demo_active(self) -> bool:
        demo = demo_digests()
        return any(k.sha256 in demo for k in settings_keys(self.settings))

    def current(self) -> KeyRing:
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self.check_every
            self.refresh()
        return self._ring

    def refresh(self) -> bool:
        """Rebuild the ring if the store changed; True when it was rebuilt."""
        try:
            st = os.stat(self.store.path)
            signature: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            signature = None
        except OSError as exc:
            logger.error("cannot stat the key store %s: %s; keeping the keys loaded before", self.store.path, exc)
            return False
        if signature == self._signature:
            return False
        try:
            stored = self.store.load() if signature is not None else []
        except KeyStoreError as exc:
            logger.error("%s; keeping the keys loaded before", exc)
            return False
        self._ring = build_ring(self.settings, stored)
        self._signature = signature
        logger.info("API keys loaded: %d from settings, %d from %s", len(self._ring) - len(stored), len(stored),
                    self.store.path)
        return True

    def seen(self, principal: Principal, wall: float) -> None:
        """Note that a stored key was used at ``wall`` (epoch seconds); written at most once a minute per key."""
        if wall - self._seen.get(principal.key_id, 0.0) < self.last_used_every:
            return
        self._seen[principal.key_id] = wall
        self._pending[principal.key_id] = wall
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._flush_forever, name="shopml-keys-last-used", daemon=True)
            self._thread.start()
        self._wake.set()

    def flush(self) -> None:
        """Write the pending ``last_used`` times now (the thread's work; tests call it directly)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            self.store.touch(pending)
        except (OSError, KeyStoreError) as exc:
            logger.warning("could not record when keys were last used in %s: %s", self.store.path, exc)

    def _flush_forever(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self.flush()
