"""API keys: hashed, constant-time lookup, roles per route, 401 vs 403, open health paths."""

from __future__ import annotations

import hashlib

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from serving.auth import (
    OPEN_PATHS,
    OPEN_PREFIXES,
    ROUTE_ROLES,
    AuthMiddleware,
    KeyRing,
    Role,
    allowed_roles,
    hash_key,
)
from shopml.settings import DEMO_API_KEYS, ApiKeySetting

DEMO = {role: f"demo-{role}-key" for role in ("storefront", "marketing", "logistics", "admin")}


def test_demo_key_digests_are_the_documented_keys():
    ring = KeyRing(ApiKeySetting(**k) for k in DEMO_API_KEYS)
    for role, key in DEMO.items():
        principal = ring.identify(key)
        assert principal is not None and principal.roles == {Role(role)}
    assert ring.identify("demo-storefront-key ") is None
    assert ring.identify("") is None


def test_hash_key_is_sha256_hex():
    assert hash_key("abc") == hashlib.sha256(b"abc").hexdigest()


def test_identify_compares_every_key(monkeypatch):
    """No early exit: the number of digest comparisons does not depend on which key matched."""
    import serving.keys as keys

    calls = []
    real = keys.hmac.compare_digest
    monkeypatch.setattr(keys.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    ring = KeyRing(ApiKeySetting(**k) for k in DEMO_API_KEYS)
    for key in [*DEMO.values(), "wrong"]:
        calls.clear()
        ring.identify(key)
        assert len(calls) == len(DEMO_API_KEYS)


def test_the_live_ring_compares_every_settings_and_stored_key(monkeypatch, settings):
    """The same with the service's ring: settings keys and every stored key, revoked and expired ones too."""
    import serving.keys as keys

    store = keys.KeyStore(settings)
    secrets = [store.create(["marketing"], actor="cli:t")[1] for _ in range(3)]
    store.revoke(store.load()[0].id, actor="cli:t")
    ring = keys.ServiceKeys(settings).current()
    calls = []
    real = keys.hmac.compare_digest
    monkeypatch.setattr(keys.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    for key in [*secrets, DEMO["admin"], "wrong"]:
        calls.clear()
        assert (ring.identify(key) is None) == (key == "wrong")
        assert len(calls) == len(DEMO_API_KEYS) + 3


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/livez", None),
        ("/readyz", None),
        ("/metrics", None),
        ("/docs.json", None),
        ("/v1/recommend", {Role.STOREFRONT}),
        ("/v1/routes/plan-task/status", {Role.LOGISTICS}),
        ("/v1/routes/plan", {Role.LOGISTICS}),
        ("/v1/admin/reload", {Role.ADMIN}),
        ("/v1/unknown", set()),
        ("/anything-else", set()),
        ("/static_content/swagger.js", None),
    ],
)
def test_allowed_roles(path, expected):
    roles = allowed_roles(path)
    assert (roles if roles is None else set(roles)) == expected


def _client() -> TestClient:
    async def ok(request):
        return JSONResponse({"ok": True})

    routes = [Route(p, ok, methods=["POST", "GET"]) for p in ROUTE_ROLES] + [Route("/livez", ok)]
    ring = KeyRing(ApiKeySetting(**k) for k in DEMO_API_KEYS)
    return TestClient(AuthMiddleware(Starlette(routes=routes), keyring=ring))


def test_auth_matrix():
    """Each role reaches exactly its routes (admin all); no key or a wrong key is 401, a wrong role 403."""
    client = _client()
    for path, roles in ROUTE_ROLES.items():
        assert client.post(path).status_code == 401
        assert client.post(path, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.post(path, headers={"Authorization": f"Basic {DEMO['admin']}"}).status_code == 401
        for role, key in DEMO.items():
            status = client.post(path, headers={"Authorization": f"Bearer {key}"}).status_code
            assert status == (200 if role == "admin" or Role(role) in roles else 403), (path, role)
    assert client.get("/livez").status_code == 200


def test_denials_never_echo_the_key(caplog):
    client = _client()
    secret = "Zz-secret-key-material"
    response = client.post("/v1/recommend", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    assert secret not in response.text and secret not in caplog.text
    response = client.post("/v1/forecast", headers={"Authorization": f"Bearer {DEMO['storefront']}"})
    assert response.status_code == 403 and DEMO["storefront"] not in response.text


def mounted_paths(app, prefix: str = "") -> list[str]:
    """Every path the ASGI app answers: routes, and the prefix of mounts that have no routes (static files)."""
    while not hasattr(app, "routes") and hasattr(app, "app"):
        app = app.app
    paths = []
    for route in getattr(app, "routes", []):
        path = prefix + route.path
        if isinstance(route, Mount):
            inner = mounted_paths(route.app, path.rstrip("/"))
            paths += inner or [path.rstrip("/") + "/"]
        else:
            paths.append(path)
    return paths


def test_every_mounted_route_has_an_explicit_role_list():
    """Deny by default, checked: a route added to the service (BentoML API or the mounted hot app) without an
    entry in ROUTE_ROLES or the open paths fails here; so does a stale entry for a route that no longer exists."""
    from serving.service import Shopml

    paths = set(mounted_paths(Shopml.to_asgi(is_main=True)))
    assert "/v1/recommend" in paths and "/v1/audiences" in paths  # both apps were walked
    unlisted = sorted(p for p in paths if p not in ROUTE_ROLES and p not in OPEN_PATHS and not p.startswith(OPEN_PREFIXES))
    assert not unlisted, f"routes without a role list in serving.auth.ROUTE_ROLES: {unlisted}"
    stale = sorted(set(ROUTE_ROLES) - paths)
    assert not stale, f"ROUTE_ROLES lists routes the service does not mount: {stale}"
