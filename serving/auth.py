"""Bearer API keys with roles, checked by a small ASGI middleware in front of every ``/v1`` route.

Keys are stored as SHA-256 digests (settings ``serve_api_keys``); a presented key is hashed and compared with
every stored digest by :func:`hmac.compare_digest`, so the time taken does not depend on how much of a key was
right nor on which key matched. No key, an unknown key, or a malformed header gives 401; a valid key whose
roles may not call the route gives 403. Health, metrics and the OpenAPI documents are open; every other path
needs a key whose role is listed for it exactly (deny by default: an unlisted path admits only admin). Keys
never reach a log: only the key's configured ``name`` is attached to the request (``scope["state"]["api_key"]``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shopml.settings import ApiKeySetting

logger = logging.getLogger(__name__)


class Role(StrEnum):
    """Who calls the service; ``admin`` may call everything."""

    STOREFRONT = "storefront"
    MARKETING = "marketing"
    LOGISTICS = "logistics"
    ADMIN = "admin"


ANY_ROLE = frozenset(Role)
_STOREFRONT = frozenset({Role.STOREFRONT})
_MARKETING = frozenset({Role.MARKETING})
_LOGISTICS = frozenset({Role.LOGISTICS})

ROUTE_ROLES: dict[str, frozenset[Role]] = {
    "/v1/recommend": _STOREFRONT,
    "/v1/similar-items": _STOREFRONT,
    "/v1/events": _STOREFRONT,
    "/v1/experiments/assign": frozenset({Role.STOREFRONT, Role.MARKETING}),
    "/v1/customers/score": _MARKETING,
    "/v1/audiences": _MARKETING,
    "/v1/experiments/evaluate": _MARKETING,
    "/v1/experiments/size": _MARKETING,
    "/v1/forecast": _LOGISTICS,
    "/v1/routes/plan": _LOGISTICS,
    "/v1/routes/plan-task": _LOGISTICS,
    "/v1/routes/plan-task/submit": _LOGISTICS,
    "/v1/routes/plan-task/status": _LOGISTICS,
    "/v1/routes/plan-task/get": _LOGISTICS,
    "/v1/routes/plan-task/retry": _LOGISTICS,
    "/v1/routes/plan-task/cancel": _LOGISTICS,
    "/v1/stock/allocate": _LOGISTICS,
    "/v1/models": ANY_ROLE,
    "/v1/kpis": _MARKETING,
    "/v1/admin/reload": frozenset({Role.ADMIN}),
}
"""Roles allowed per route, by exact path; admin is always allowed. A route that is neither here nor open is
denied to every other role (deny by default), and a test fails on any mounted route missing from both."""

OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics", "/docs.json", "/schema.json", "/v1/openapi.json",
                        "/"})
"""Paths served without a key: probes, metrics and the API documents (``/`` is BentoML's Swagger UI)."""

OPEN_PREFIXES = ("/static_content/", "/console/")
"""BentoML's Swagger UI assets; the operations console, which checks its own session cookie against the same keys
and roles (:mod:`serving.console`)."""


def hash_key(key: str) -> str:
    """The SHA-256 hex digest stored in settings for ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The caller behind a valid key: the key's name (never the key) and its roles."""

    name: str
    roles: frozenset[Role]


class KeyRing:
    """The configured keys; :meth:`identify` finds the caller of a presented key in constant time."""

    def __init__(self, keys: Iterable[ApiKeySetting]):
        self._keys: list[tuple[bytes, Principal]] = []
        for key in keys:
            digest = bytes.fromhex(key.sha256)
            roles = frozenset(Role(r) for r in key.roles)
            self._keys.append((digest, Principal(key.name, roles)))

    def __len__(self) -> int:
        return len(self._keys)

    def identify(self, presented: str) -> Principal | None:
        """The principal whose digest equals the digest of ``presented``; every stored key is compared."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found: Principal | None = None
        for stored, principal in self._keys:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


def allowed_roles(path: str) -> frozenset[Role] | None:
    """Roles that may call ``path``: None for an open path, the empty set (admin only) for an unlisted one."""
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return None
    return ROUTE_ROLES.get(path, frozenset())


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token:
                return token
            return None
    return None


async def _deny(send, status: int, message: str) -> None:
    body = json.dumps({"error": message, "detail": []}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="shopml"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """ASGI middleware: 401 without a valid bearer key, 403 when the key's roles may not call the route."""

    def __init__(self, app, keyring: KeyRing | None = None, keyring_factory=None):
        self.app = app
        self._keyring = keyring
        self._factory = keyring_factory

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            self._keyring = self._factory() if self._factory is not None else KeyRing(_settings_keys())
        return self._keyring

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        roles = allowed_roles(scope["path"])
        if roles is None:
            return await self.app(scope, receive, send)
        token = _bearer(scope["headers"])
        principal = self.keyring.identify(token) if token is not None else None
        if principal is None:
            return await _deny(send, 401, "missing or invalid API key: send 'Authorization: Bearer <key>'")
        if Role.ADMIN not in principal.roles and not (principal.roles & roles):
            if not roles:
                return await _deny(send, 403, f"{scope['path']} is not a route this service offers to role(s) "
                                              f"{', '.join(sorted(principal.roles))}")
            need = ", ".join(sorted(roles))
            return await _deny(send, 403, f"key {principal.name!r} may not call {scope['path']}; it needs role {need}")
        scope.setdefault("state", {})["api_key"] = principal.name
        return await self.app(scope, receive, send)


def _settings_keys():
    from shopml.settings import load_settings

    return load_settings().serve_api_keys
