"""Expired, revoked, rotated and over-limit keys on the real service answer as docs/security.md says.

Keys are created in the suite's own service's key store (``shopml keys`` does the same through
:class:`serving.keys.KeyStore`); the service picks each change up within a second, without a restart. Every
refused key is tried on every route: the key check comes before the role check, so a refused key gets its 401
(with the documented reason) or its 429 (with ``Retry-After``) whatever the route. The console refuses the same
keys at its login and ends a session whose key was revoked, or no longer exists.
"""

from __future__ import annotations

import json
import re
import time

from serving.auth import ROUTE_ROLES
from serving.keys import KeyStore
from tests.security.test_role_matrix import _console_client

PICKUP_S = 1.3
"""The service looks at the key store at most once a second."""


def _routes(bad_inputs) -> list[tuple[str, str, bytes | None]]:
    out = []
    for path in sorted(ROUTE_ROLES):
        method, body = bad_inputs.ROUTES.get(path, ("POST", {}))[:2]
        if path.endswith(("/status", "/get")):
            method, body, path = "GET", None, path + "?task_id=x"
        elif path.endswith("/cancel"):
            method = "PUT"
        elif path in ("/v1/models", "/v1/kpis"):
            method, body = "GET", None
        out.append((method, path, None if body is None else json.dumps(body).encode()))
    return out


def test_expired_revoked_and_rotated_keys_get_401_with_the_documented_reason(secure_server, secure_settings,
                                                                               bad_inputs, cases):
    store = KeyStore(secure_settings)
    actor = "cli:security-suite"
    revoked, revoked_key = store.create(["marketing"], name="sec-revoked", actor=actor)
    expiring, expiring_key = store.create(["storefront"], name="sec-expiring", expires_days=0.4 / 86_400,
                                          actor=actor)
    rotated, rotated_key = store.create(["logistics"], name="sec-rotated", actor=actor)
    graced, graced_key = store.create(["marketing"], name="sec-graced", actor=actor)
    _, new, new_key = store.rotate(rotated.id, grace_hours=0, actor=actor)
    _, graced_new, graced_new_key = store.rotate(graced.id, grace_hours=24, actor=actor)
    time.sleep(PICKUP_S)
    send = bad_inputs.send
    with cases.of("key_lifecycle") as check:
        answer = send(secure_server.url, "POST", "/v1/audiences", auth=f"Bearer {revoked_key}",
                      data=b'{"page_size": 1}')
        check(answer.status == 200, f"a new key works within a second: {answer.status}")
        store.revoke(revoked.id, actor=actor)
        time.sleep(PICKUP_S)
        expected = {
            revoked_key: rf"^API key {revoked.id} was revoked at \S+Z; ask an admin for a new key$",
            expiring_key: rf"^API key {expiring.id} expired at \S+Z; ask an admin for a new key$",
            rotated_key: rf"^API key {rotated.id} was rotated \(replaced by {new.id}\) and its grace period "
                         rf"ended at \S+Z; use the new key$",
        }
        for method, path, data in _routes(bad_inputs):
            for key, pattern in expected.items():
                answer = send(secure_server.url, method, path, auth=f"Bearer {key}", data=data, timeout=60)
                error = (answer.json() or {}).get("error", "") if answer.status else ""
                check(answer.status == 401 and re.match(pattern, error) is not None
                      and answer.headers.get("www-authenticate", "").startswith("Bearer")
                      and key not in answer.body.decode("utf-8", "replace"),
                      f"{method} {path} with {pattern[:40]}: {answer.status} {error!r}")
        for label, key, role_path, body in (("the rotated key's successor", new_key, "/v1/forecast", b"{}"),
                                            ("a rotated key within its grace", graced_key, "/v1/audiences", None),
                                            ("its successor", graced_new_key, "/v1/audiences", None)):
            answer = send(secure_server.url, "POST", role_path, auth=f"Bearer {key}",
                          data=body or b'{"page_size": 1}', timeout=60)
            check(answer.status not in (401, 403) and (answer.status or 500) < 500,
                  f"{label} on {role_path}: {answer.status}")
        listed = {k.id: k.status() for k in store.load()}
        check(listed[revoked.id] == "revoked" and listed[expiring.id] == "expired" and listed[graced_new.id] == "active",
              f"shopml keys list statuses: {listed}")


def test_over_the_limit_is_429_with_retry_after_on_every_route(secure_server, secure_settings, bad_inputs, cases):
    """A key with its own rate (0.1/s, burst 2): two requests pass, then 429 with ``Retry-After`` on every route,
    before the role check (a storefront key over its limit gets 429 on a marketing route too)."""
    store = KeyStore(secure_settings)
    limited, secret = store.create(["storefront"], name="sec-limited", per_second=0.1, burst=2,
                                   actor="cli:security-suite")
    time.sleep(PICKUP_S)
    send = bad_inputs.send
    auth = f"Bearer {secret}"
    message = rf"^key {limited.id} is over its rate limit \(0.1 requests/s, burst 2\); retry after (\d+) s$"
    with cases.of("key_lifecycle") as check:
        first = [send(secure_server.url, "POST", "/v1/recommend", auth=auth, data=b'{"k": 3}').status
                 for _ in range(2)]
        check(first == [200, 200], f"the burst passes: {first}")
        for method, path, data in _routes(bad_inputs):
            answer = send(secure_server.url, method, path, auth=auth, data=data)
            error = (answer.json() or {}).get("error", "") if answer.status else ""
            found = re.match(message, error)
            retry = answer.headers.get("retry-after", "")
            check(answer.status == 429 and found is not None and retry.isdigit() and 1 <= int(retry) <= 10
                  and found.group(1) == retry, f"{method} {path} over the limit: {answer.status} {retry!r} {error!r}")
        other = send(secure_server.url, "POST", "/v1/recommend", auth="storefront", data=b'{"k": 3}')
        check(other.status == 200, f"another key keeps its own bucket: {other.status}")


def test_the_console_refuses_the_same_keys_and_ends_their_sessions(secure_server, secure_settings, cases):
    store = KeyStore(secure_settings)
    actor = "cli:security-suite"
    refused, refused_key = store.create(["marketing"], name="sec-console-refused", actor=actor)
    expired, expired_key = store.create(["marketing"], name="sec-console-expired", expires_days=0.4 / 86_400,
                                        actor=actor)
    ended, ended_key = store.create(["marketing"], name="sec-console-ended", actor=actor)
    removed, removed_key = store.create(["marketing"], name="sec-console-removed", actor=actor)
    store.revoke(refused.id, actor=actor)
    time.sleep(PICKUP_S)
    with cases.of("key_lifecycle") as check:
        for key, why in ((refused_key, f"API key {refused.id} was revoked at"),
                         (expired_key, f"API key {expired.id} expired at"),
                         ("shk_not-a-key", "not a valid API key")):
            client = _console_client(secure_server.url)
            try:
                answer = client.login(key)
                check(answer.status_code == 200 and why in answer.text and "shopml_console" not in client.http.cookies,
                      f"console login with a refused key ({why}): {answer.status_code}")
            finally:
                client.close()
        sessions = {}
        for name, key in (("revoked", ended_key), ("removed", removed_key)):
            client = _console_client(secure_server.url)
            check(client.login(key).status_code == 303 and client.get("/console/customers").status_code == 200,
                  f"console login with a good key ({name})")
            sessions[name] = client
        store.revoke(ended.id, actor=actor)
        edited = json.loads(store.path.read_text())  # an operator deletes the entry from keys.json by hand
        edited["keys"] = [k for k in edited["keys"] if k["id"] != removed.id]
        store.path.write_text(json.dumps(edited))
        time.sleep(PICKUP_S)
        for name, client in sessions.items():
            answer = client.get("/console/customers")
            check(answer.status_code == 303 and "why=ended" in answer.headers.get("location", ""),
                  f"a session whose key was {name}: {answer.status_code} {answer.headers.get('location')}")
            client.close()
