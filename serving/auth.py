"""Bearer API keys with roles, rate limits and lifecycles, checked by a small ASGI middleware before every ``/v1`` route.

The keys are the settings' (``serve_api_keys``; the demo keys only in demo mode) and the managed key store's
(``<data_home>/keys.json``, ``shopml keys``), as one :class:`serving.keys.KeyRing` kept in step with the store
by :class:`serving.keys.ServiceKeys` (picked up within a second, no restart). A presented key is hashed and
compared with every stored digest by :func:`hmac.compare_digest`, so the time taken does not depend on how much
of a key was right nor on which key matched. No key, an unknown key, or a malformed header gives 401; a revoked
or expired key gives 401 saying so; a valid key whose roles may not call the route gives 403; a key over its
rate (:mod:`serving.ratelimit`) gives 429 with ``Retry-After``. Health, metrics and the OpenAPI documents are
open; every other path needs a key whose role is listed for it exactly (deny by default: an unlisted path admits
only admin). Keys never reach a log: the key's name and id are attached to the request
(``scope["state"]["api_key"]`` and ``["api_key_id"]``, see :func:`caller_id`), which the audit trail records.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from typing import Any

from serving.keys import KeyRing, Principal, Role, hash_key
from serving.ratelimit import RateLimiter

__all__ = ["ANY_ROLE", "OPEN_PATHS", "OPEN_PREFIXES", "ROUTE_ROLES", "AuthMiddleware", "KeyRing", "Principal", "Role",
           "allowed_roles", "caller_id", "hash_key"]

logger = logging.getLogger(__name__)


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
                        "/", "/console"})
"""Paths served without a key: probes, metrics and the API documents (``/`` is BentoML's Swagger UI), and
``/console``, which only redirects to the console's own login (``/console/``)."""

OPEN_PREFIXES = ("/static_content/", "/console/")
"""BentoML's Swagger UI assets; the operations console, which checks its own session cookie against the same keys
and roles (:mod:`serving.console`)."""


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


async def _deny(send, status: int, message: str, retry_after: int | None = None) -> None:
    body = json.dumps({"error": message, "detail": []}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="shopml"'))
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def caller_id(scope_or_request: Any) -> str:
    """The key id of the request's caller (``k_...`` or a settings key's name), for the audit trail."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    return str(scope.get("state", {}).get("api_key_id") or "unknown")


class AuthMiddleware:
    """ASGI middleware: 401 without a valid (unrevoked, unexpired) key, 429 over the key's rate, 403 when the
    key's roles may not call the route.

    Parameters
    ----------
    keyring
        A fixed ring (tests); default: the live :class:`serving.keys.ServiceKeys` of the shopml settings.
    keyring_factory
        Called once, on first use, for the ring or a live key source (an object with ``current()``).
    clock, wall
        Monotonic clock of the rate limiter and wall clock of expiry checks (tests pass fakes).
    """

    def __init__(self, app, keyring: KeyRing | None = None, keyring_factory=None,
                 clock=time.monotonic, wall=time.time):
        self.app = app
        self._keyring = keyring
        self._factory = keyring_factory
        self._source: Any = None
        self._limiter = RateLimiter(clock)
        self._wall = wall
        self._demo_servers: set[str] | None = None  # addresses already checked while demo keys are active
        if keyring is None and keyring_factory is None:
            self._adopt(_service_keys())  # at start-up: the demo-key warning belongs in the start-up log

    def sharing(self, app) -> AuthMiddleware:
        """This middleware in front of another ``app``, with the same key source, rate limiter and warnings.

        The service checks keys in two places (BentoML's middleware stack and the fast lane in front of it,
        :mod:`serving.fastlane`); one limiter for both keeps a key's rate limit whole.
        """
        twin = copy.copy(self)
        twin.app = app
        return twin

    def _adopt(self, source) -> None:
        self._source = source
        if isinstance(source, KeyRing):
            self._keyring = source
        elif getattr(source, "demo_active", False):
            self._demo_servers = set()

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is not None:
            return self._keyring
        if self._source is None:
            self._adopt(self._factory() if self._factory is not None else _service_keys())
            if self._keyring is not None:
                return self._keyring
        return self._source.current()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        roles = allowed_roles(scope["path"])
        if roles is None:
            return await self.app(scope, receive, send)
        token = _bearer(scope["headers"])
        ring = self.keyring
        principal = ring.identify(token) if token is not None else None
        if principal is None:
            return await _deny(send, 401, "missing or invalid API key: send 'Authorization: Bearer <key>'")
        if principal.managed:
            now = self._wall()
            why = principal.refusal(now)
            if why is not None:
                return await _deny(send, 401, why)
            if self._source is not None:
                self._source.seen(principal, now)
        if principal.rate is not None:
            wait = self._limiter.check(principal.key_id, principal.rate)
            if wait:
                return await _deny(send, 429, f"key {principal.key_id} is over its rate limit "
                                              f"({principal.rate.per_second:g} requests/s, burst "
                                              f"{principal.rate.burst:g}); retry after {wait} s", retry_after=wait)
        if self._demo_servers is not None:
            self._warn_demo(scope)
        if Role.ADMIN not in principal.roles and not (principal.roles & roles):
            if not roles:
                return await _deny(send, 403, f"{scope['path']} is not a route this service offers to role(s) "
                                              f"{', '.join(sorted(principal.roles))}")
            need = ", ".join(sorted(roles))
            return await _deny(send, 403, f"key {principal.name!r} may not call {scope['path']}; it needs role {need}")
        state = scope.setdefault("state", {})
        state["api_key"] = principal.name
        state["api_key_id"] = principal.key_id
        return await self.app(scope, receive, send)

    def _warn_demo(self, scope) -> None:
        """Once per local address: warn when a request reached the service beyond loopback with demo keys on."""
        server = scope.get("server")
        host = str(server[0]) if server else ""
        assert self._demo_servers is not None
        if host in self._demo_servers:
            return
        self._demo_servers.add(host)
        from serving.keys import demo_warning

        message = demo_warning(self._source.settings, host) if host else None
        if message:
            logger.warning(message)


def _service_keys():
    """The live keys of this service process; warns at start when the configured host is beyond loopback."""
    from serving.keys import ServiceKeys, demo_warning
    from shopml.settings import load_settings

    settings = load_settings()
    message = demo_warning(settings)
    if message:
        logger.warning(message)
    return ServiceKeys(settings)
