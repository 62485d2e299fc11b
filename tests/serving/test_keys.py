"""Managed keys in the service: revoked and expired keys refused with the reason, a rotated key working during
its grace period, changes picked up without a restart, per-key rate limits (429 with Retry-After), demo mode."""

from __future__ import annotations

import json
import logging
import time

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from serving.auth import AuthMiddleware
from serving.keys import KeyStore, KeyStoreError, ServiceKeys, build_ring, demo_warning, is_loopback
from serving.ratelimit import Rate, RateLimiter, TokenBucket
from shopml.audit import AuditLog
from shopml.settings import load_settings


class Clock:
    """A hand-moved clock (monotonic and wall)."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


def _app(keys, clock=None, wall=None) -> TestClient:
    async def ok(request):
        return JSONResponse({"ok": True, "caller": request.scope["state"]["api_key_id"]})

    routes = [Route(p, ok, methods=["POST", "GET"]) for p in ("/v1/audiences", "/v1/recommend", "/v1/models")]
    return TestClient(AuthMiddleware(Starlette(routes=routes), keyring_factory=lambda: keys,
                                     clock=clock or time.monotonic, wall=wall or time.time))


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def store(settings) -> KeyStore:
    return KeyStore(settings)


def test_create_stores_only_the_digest_and_audits(store):
    key, secret = store.create(["marketing", "storefront"], name="crm", expires_days=30, actor="cli:t")
    text = store.path.read_text()
    assert secret not in text and key.sha256 in text and secret.startswith("shk_")
    assert (store.path.stat().st_mode & 0o777) == 0o600
    [entry] = json.loads(text)["keys"]
    assert entry["id"] == key.id and entry["roles"] == ["marketing", "storefront"] and entry["expires"]
    [rec] = AuditLog.of(store.settings).records()
    assert rec["action"] == "keys.create" and rec["details"]["key_id"] == key.id and secret not in json.dumps(rec)


def test_unknown_ids_and_bad_stores_are_one_line_errors(store):
    with pytest.raises(KeyStoreError, match="no key 'k_nope'"):
        store.revoke("k_nope", actor="cli:t")
    store.path.write_text("{not json")
    with pytest.raises(KeyStoreError, match="not JSON"):
        store.load()


def test_revoked_and_expired_keys_get_401_with_the_reason(store, settings):
    wall = Clock(time.time())
    keys = ServiceKeys(settings, clock=wall)
    client = _app(keys, wall=wall)
    revoked, revoked_secret = store.create(["marketing"], actor="cli:t")
    expiring, expiring_secret = store.create(["marketing"], expires_days=1, actor="cli:t")
    wall.now += 2  # past the once-a-second look at the store
    assert client.post("/v1/audiences", headers=_bearer(revoked_secret)).json()["caller"] == revoked.id
    store.revoke(revoked.id, actor="cli:t")
    wall.now += 2
    answer = client.post("/v1/audiences", headers=_bearer(revoked_secret))
    assert answer.status_code == 401 and f"API key {revoked.id} was revoked" in answer.json()["error"]
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert client.post("/v1/audiences", headers=_bearer(expiring_secret)).status_code == 200
    wall.now += 2 * 86_400
    answer = client.post("/v1/audiences", headers=_bearer(expiring_secret))
    assert answer.status_code == 401 and f"API key {expiring.id} expired at" in answer.json()["error"]
    unknown = client.post("/v1/audiences", headers=_bearer("shk_unknown"))
    assert unknown.status_code == 401 and "missing or invalid API key" in unknown.json()["error"]


def test_a_rotated_key_works_during_its_grace_period(store, settings):
    wall = Clock(time.time())
    client = _app(ServiceKeys(settings, clock=wall), wall=wall)
    old, old_secret = store.create(["storefront"], name="web", actor="cli:t")
    old_after, new, new_secret = store.rotate(old.id, grace_hours=24, actor="cli:t")
    assert new.roles == old.roles and new.name == "web" and old_after.rotated_to == new.id
    wall.now += 2
    assert client.post("/v1/recommend", headers=_bearer(old_secret)).status_code == 200
    assert client.post("/v1/recommend", headers=_bearer(new_secret)).json()["caller"] == new.id
    wall.now += 25 * 3600
    answer = client.post("/v1/recommend", headers=_bearer(old_secret))
    assert answer.status_code == 401 and f"replaced by {new.id}" in answer.json()["error"]
    assert client.post("/v1/recommend", headers=_bearer(new_secret)).status_code == 200
    assert [r["action"] for r in AuditLog.of(settings).records()] == ["keys.create", "keys.rotate"]
    with pytest.raises(KeyStoreError, match=f"already rotated to {new.id}"):
        store.rotate(old.id, actor="cli:t")
    store.revoke(new.id, actor="cli:t")
    with pytest.raises(KeyStoreError, match="is revoked; create a new key"):
        store.rotate(new.id, actor="cli:t")


def test_changes_are_picked_up_without_restart_and_at_most_once_a_second(store, settings, monkeypatch):
    clock = Clock()
    keys = ServiceKeys(settings, clock=clock)
    client = _app(keys, wall=time.time)
    client.get("/v1/models")  # the middleware builds its key source on first use
    _, secret = store.create(["admin"], actor="cli:t")
    stats = []
    import serving.keys as module

    real_stat = module.os.stat
    monkeypatch.setattr(module.os, "stat", lambda p, *a, **k: stats.append(p) or real_stat(p, *a, **k))
    clock.now += 0.5  # the service looked less than a second ago: the new key is not known yet
    assert client.get("/v1/models", headers=_bearer(secret)).status_code == 401
    assert stats == []
    clock.now += 0.6
    for _ in range(20):
        assert client.get("/v1/models", headers=_bearer(secret)).status_code == 200
    assert sum(str(p) == str(store.path) for p in stats) == 1  # one look for twenty requests


def test_a_broken_store_keeps_the_last_good_keys(store, settings, caplog):
    keys = ServiceKeys(settings, clock=Clock())
    _, secret = store.create(["admin"], actor="cli:t")
    assert keys.refresh() and keys.current().identify(secret) is not None
    store.path.write_text('{"version": 1, "keys": [{"id": "x"}]}')
    with caplog.at_level(logging.ERROR):
        assert not keys.refresh()
    assert keys.current().identify(secret) is not None and "invalid key entry" in caplog.text


def test_last_used_is_written_at_most_once_a_minute_off_the_request_path(store, settings):
    keys = ServiceKeys(settings, clock=Clock())
    key, secret = store.create(["marketing"], actor="cli:t")
    keys.refresh()
    principal = keys.current().identify(secret)
    keys.seen(principal, 1_800_000_000.0)
    keys.seen(principal, 1_800_000_030.0)  # within the minute: not recorded again
    assert keys._pending == {key.id: 1_800_000_000.0}
    keys._wake.clear()
    keys.flush()
    assert store.get(key.id).last_used == "2027-01-15T08:00:00Z"
    keys.seen(principal, 1_800_000_061.0)
    assert keys._pending == {key.id: 1_800_000_061.0}


def test_over_the_rate_answers_429_with_retry_after(settings):
    clock = Clock()
    limited = load_settings(data_home=settings.data_home, serve_rate_limits={
        "storefront": {"per_second": 2, "burst": 3}})
    client = _app(ServiceKeys(limited, clock=clock), clock=clock)
    key = {"Authorization": "Bearer demo-storefront-key"}
    assert [client.post("/v1/recommend", headers=key).status_code for _ in range(3)] == [200, 200, 200]
    answer = client.post("/v1/recommend", headers=key)
    assert answer.status_code == 429 and answer.headers["retry-after"] == "1"
    assert "demo-storefront is over its rate limit (2 requests/s, burst 3)" in answer.json()["error"]
    other = client.post("/v1/audiences", headers={"Authorization": "Bearer demo-marketing-key"})
    assert other.status_code == 200  # one bucket per key
    clock.now += 0.5  # one token back
    assert client.post("/v1/recommend", headers=key).status_code == 200
    assert client.post("/v1/recommend", headers=key).status_code == 429


def test_token_bucket_refills_at_its_rate_up_to_its_burst():
    bucket = TokenBucket(Rate(10, 5), now=0.0)
    assert [bucket.take(0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.take(0.0) == pytest.approx(0.1)
    assert bucket.take(100.0) == 0.0 and bucket.tokens == pytest.approx(4.0)  # refilled to the burst only
    limiter = RateLimiter(clock=Clock(0.0))
    slow = Rate(0.1, 1)
    assert limiter.check("k", slow) == 0 and limiter.check("k", slow) == 10


def test_keys_ended_long_ago_leave_the_ring(store, settings):
    from datetime import UTC, datetime, timedelta

    key, secret = store.create(["marketing"], actor="cli:t")
    store.revoke(key.id, actor="cli:t")
    later = datetime.now(UTC) + timedelta(days=31)
    assert build_ring(settings, store.load()).identify(secret).key_id == key.id  # refused with the reason
    assert build_ring(settings, store.load(), now=later).identify(secret) is None  # the generic 401
    assert len(build_ring(settings, store.load(), now=later)) == 4  # the demo keys only


def test_defaults_do_not_limit_the_benches(settings):
    ring = build_ring(settings, [])
    rates = {p.key_id: p.rate for p in (ring.identify(f"demo-{r}-key") for r in ("storefront", "marketing"))}
    assert rates["demo-storefront"].per_second >= 2000 and rates["demo-marketing"].per_second >= 2000


def test_a_key_with_several_roles_gets_the_largest_limit_and_may_have_its_own(store, settings):
    both, both_secret = store.create(["logistics", "storefront"], actor="cli:t")
    own, own_secret = store.create(["storefront"], per_second=5, burst=7, actor="cli:t")
    ring = build_ring(settings, store.load())
    assert ring.identify(both_secret).rate == Rate(5000, 10_000)
    assert ring.identify(own_secret).rate == Rate(5, 7)


def test_demo_keys_only_in_demo_mode_with_a_warning_beyond_loopback(settings, caplog):
    off = load_settings(data_home=settings.data_home, demo_mode=False)
    assert ServiceKeys(off).current().identify("demo-admin-key") is None
    assert ServiceKeys(settings).current().identify("demo-admin-key") is not None
    assert demo_warning(settings, "127.0.0.1") is None and demo_warning(off, "0.0.0.0") is None
    assert "SHOPML_DEMO_MODE=false" in demo_warning(settings, "0.0.0.0")
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("::") and not is_loopback("10.0.0.2")
    app = Starlette(routes=[Route("/v1/models", lambda r: JSONResponse({}))])
    for base, warned in (("http://127.0.0.1", False), ("http://10.1.2.3", True)):
        caplog.clear()
        client = TestClient(AuthMiddleware(app, keyring_factory=lambda: ServiceKeys(settings)), base_url=base)
        with caplog.at_level(logging.WARNING, logger="serving.auth"):
            for _ in range(3):
                assert client.get("/v1/models", headers={"Authorization": "Bearer demo-admin-key"}).status_code == 200
        assert caplog.text.count("accepts the public demo keys") == (1 if warned else 0), base


def test_settings_keys_keep_working_beside_the_store(store, settings):
    from serving.auth import hash_key

    custom = load_settings(data_home=settings.data_home, demo_mode=False, serve_api_keys=[
        {"name": "batch", "sha256": hash_key("batch-secret"), "roles": ["marketing"]}])
    _, secret = store.create(["storefront"], actor="cli:t")
    client = _app(ServiceKeys(custom))
    assert client.post("/v1/audiences", headers=_bearer("batch-secret")).json()["caller"] == "batch"
    assert client.post("/v1/recommend", headers=_bearer(secret)).status_code == 200
    assert client.post("/v1/audiences", headers=_bearer(secret)).status_code == 403


CREATOR = """
import sys
from serving.keys import KeyStore
from shopml.settings import load_settings
store = KeyStore(load_settings(data_home=sys.argv[1]))
for _ in range(15):
    store.create(["marketing"], actor="cli:" + sys.argv[2])
"""


def test_two_processes_changing_the_store_at_once_lose_nothing(settings):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", CREATOR, str(settings.data_home), f"p{n}"], cwd=root)
             for n in range(2)]
    assert all(proc.wait(timeout=120) == 0 for proc in procs)
    assert len(KeyStore(settings).load()) == 30
    trail = AuditLog.of(settings)
    assert len(list(trail.records())) == 30 and trail.verify().ok
