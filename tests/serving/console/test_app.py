"""The console inside the real service (``shopml serve``), over HTTP: the role matrix over every page and
action, login, sessions, CSRF, security headers, and the CSV export against ``POST /v1/audiences``.

Refusals (401, 403, 404, 413) are answered in the API's JSON error shape; a form with bad input is the page again
(200) with the problem beside the form."""

from __future__ import annotations

import json
import time

import pytest

from serving.console.access import ACTIONS, PAGES, may
from serving.console.session import COOKIE, SessionCodec, console_secret
from tests.serving.conftest import KEYS
from tests.serving.console.conftest import ROLES

ROUTES_EXAMPLE = "routes_request.json"
ACTION_FORMS = {
    "customers/export": {"segment": "at_risk"},
    "experiments/evaluate": {"example": "experiment_checkout.json"},
    "experiments/size": {"metric_type": "proportion", "baseline": "0.05", "mde": "0.1"},
    "logistics/plan": {"example": ROUTES_EXAMPLE, "time_limit": "1"},
    "logistics/allocate": {"example": "allocation_request.json"},
}


def _call(client, action: str, csrf: bool = True):
    if action == "customers/count":
        return client.get("/console/customers/count?segment=at_risk", headers={"Accept": "application/json"})
    return client.post(f"/console/{action}", data=ACTION_FORMS.get(action, {}), csrf=csrf,
                       files={"unused": ("empty.txt", b"")})


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix_over_every_page_and_action(console, role):
    """Each role opens exactly the pages and runs exactly the actions of its API routes (admin all): 200,
    else 403 with no page data."""
    client = console(role)
    for page in PAGES:
        answer = client.get(f"/console/{page.name}")
        allowed = may(frozenset({role}), page.api_route)
        assert answer.status_code == (200 if allowed else 403), (role, page.name, answer.status_code)
        if not allowed:
            assert answer.json()["error"].startswith("your key") and "<table" not in answer.text
    for action, route in ACTIONS.items():
        answer = _call(client, action)
        allowed = may(frozenset({role}), route)
        if allowed:
            assert answer.status_code == 200, (role, action, answer.status_code, answer.text[:400])
        else:
            assert answer.status_code == 403, (role, action, answer.status_code)


def test_without_a_session_pages_go_to_login_and_actions_are_refused(console):
    client = console(None)
    for page in PAGES:
        answer = client.get(f"/console/{page.name}")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login?next=")
    for action in ACTIONS:
        if action == "customers/count":
            assert _call(client, action).status_code == 401
        else:
            answer = client.post(f"/console/{action}", data=ACTION_FORMS.get(action, {}), csrf=False)
            assert answer.status_code == 401, action


def test_every_action_refuses_a_form_without_its_csrf_token(console):
    client = console("admin")
    for action in ACTIONS:
        if action == "customers/count":
            continue  # a read (GET): no form
        assert _call(client, action, csrf=False).status_code == 403, action
        forged = client.post(f"/console/{action}", data={**ACTION_FORMS.get(action, {}), "csrf": "forged"}, csrf=False)
        assert forged.status_code == 403, action
    assert client.post("/console/logout", csrf=False).status_code == 403


def test_login_with_a_wrong_key_or_without_the_form_token(console):
    client = console(None)
    answer = client.login("not-a-key")
    assert answer.status_code == 200 and "not a valid API key" in answer.text
    assert COOKIE not in client.http.cookies
    assert client.http.post("/console/login", data={"key": KEYS["admin"]}).status_code == 403
    assert COOKIE not in client.http.cookies


def test_expired_forged_and_logged_out_sessions(console, shop):
    client = console("marketing")
    assert client.get("/console/overview").status_code == 200
    codec = SessionCodec(console_secret(shop.home))
    _, expired = codec.issue("demo-marketing", {"marketing"}, now=time.time() - 9 * 3600)
    stale = console(None)
    stale.http.cookies.set(COOKIE, expired, path="/console")
    answer = stale.get("/console/overview")
    assert answer.status_code == 303 and "why=expired" in answer.headers["location"]
    forged = console(None)
    forged.http.cookies.set(COOKIE, SessionCodec(b"another secret").issue("x", {"admin"})[1], path="/console")
    assert "why=invalid" in forged.get("/console/models").headers["location"]
    assert client.post("/console/logout").status_code == 303
    assert client.get("/console/overview").status_code == 303


def test_cookie_and_security_headers(console):
    client = console(None)
    page = client.http.get("/console/login")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = client.http.post("/console/login", data={"csrf": token, "key": KEYS["marketing"]})
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith(COOKIE + "="))
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "max-age", "path"} <= attributes and "samesite=strict" in cookie.lower()
    customers = client.get("/console/customers")
    csp = customers.headers["content-security-policy"]
    script = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script and "frame-ancestors 'none'" in csp
    assert customers.headers["x-frame-options"] == "DENY" and customers.headers["cache-control"] == "no-store"
    assert "<script>" not in customers.text and " on" + "click=" not in customers.text
    js = client.get("/console/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000  # the bundle from the plotly package


def test_csv_export_is_the_api_answer(console, server, needs):
    needs("customers")
    client = console("marketing")
    exported = client.post("/console/customers/export", data={"segment": "at_risk", "min_value": "1"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    status, api = server.call("POST", "/v1/audiences", {"segments": ["at_risk"], "min_value": 1, "format": "csv"},
                              key="marketing")
    assert status == 200 and exported.text == api
    count = client.get("/console/customers/count?segment=at_risk&min_value=1").json()
    assert count["count"] == len(api.strip().splitlines()) - 1


def test_bad_input_is_a_message_not_an_error(console):
    client = console("admin")
    answer = client.post("/console/experiments/evaluate", data={"spec_text": "{not json"},
                         files={"unused": ("x", b"")})
    assert answer.status_code == 200 and 'id="experiment-problem"' in answer.text and "not JSON" in answer.text
    answer = client.post("/console/logistics/plan", data={"request_text": json.dumps({"depots": []})},
                         files={"unused": ("x", b"")})
    assert answer.status_code == 200 and 'id="route-problem"' in answer.text and "depots" in answer.text
    answer = client.get("/console/customers?min_churn=lots&go=1")
    assert answer.status_code == 200 and 'id="audience-problem"' in answer.text
    assert client.get("/console/no-such-page").status_code == 404
