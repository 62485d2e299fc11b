"""The role matrix over every route the service mounts and every console page, on the real service.

Every ``/v1`` route of :data:`serving.auth.ROUTE_ROLES`, with its own method and a valid body: no key, an
unknown key, another scheme, an empty or malformed bearer → 401 (with ``WWW-Authenticate``); each demo role's
key → 403 when the route is not the role's, else an answer past the key check (2xx, or a 4xx of the route's own
validation, never 401/403/5xx). A caller without the role learns nothing about the body (a malformed body still
gets 401/403, not 400). Unlisted ``/v1`` paths are admin-only (deny by default); the open paths answer without a
key. The documented role table (docs/serving.md, "Endpoints") agrees with ``ROUTE_ROLES``. Console pages: no
session (or only a bearer key) goes to the login, each role opens exactly its pages (200) and gets 403 on others.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from serving.auth import OPEN_PATHS, ROUTE_ROLES, Role
from serving.console.access import PAGES, may
from tests.serving.conftest import KEYS

ROOT = Path(__file__).resolve().parents[2]
ROLES = tuple(KEYS)
BAD_CREDENTIALS = {
    "no key": None,
    "unknown key": "Bearer not-a-key",
    "basic scheme": "Basic ZGVtby1hZG1pbi1rZXk6",
    "empty bearer": "Bearer ",
    "bearer without a space": "Bearerdemo-admin-key",
    "key without a scheme": "demo-admin-key",
    "admin key with a suffix": "Bearer demo-admin-key2",
    "admin key in upper case": "Bearer DEMO-ADMIN-KEY",
    "key of 64 KiB": "Bearer " + "k" * 65_000,
    "non-ASCII key": "Bearer démo-admin-key",
}
UNDOCUMENTED: set[str] = set()
"""Routes in ROUTE_ROLES that docs/serving.md's table does not list yet (reported; empty this when they are)."""


def service_routes() -> dict[str, set[str]]:
    """Every route the service mounts (BentoML's and the hot app's) with its methods."""
    from serving.service import Shopml

    found: dict[str, set[str]] = {}

    def walk(app, prefix: str) -> None:
        while not hasattr(app, "routes") and hasattr(app, "app"):
            app = app.app
        for route in getattr(app, "routes", []):
            if hasattr(route, "app") and hasattr(route.app, "routes") or type(route).__name__ == "Mount":
                walk(route.app, prefix + route.path)
            else:
                found.setdefault(prefix + route.path, set()).update(getattr(route, "methods", None) or {"GET"})

    walk(Shopml.to_asgi(is_main=True), "")
    return found


def documented_roles() -> dict[str, frozenset[Role]]:
    """The "Endpoints" table of docs/serving.md: path → roles (``any key`` → every role; ``.../x`` expands)."""
    text = (ROOT / "docs" / "serving.md").read_text()
    table = text.split("## Endpoints", 1)[1].split("\n\n", 2)[1]
    out: dict[str, frozenset[Role]] = {}
    for row in table.splitlines()[2:]:
        caller, where = [cell.strip() for cell in row.strip("|").split("|")[:2]]
        if caller == "open":
            continue
        roles = frozenset(Role) if caller == "any key" else frozenset(Role(r.strip()) for r in caller.split(","))
        base = ""
        for path in re.findall(r"`(?:GET|POST|PUT) ([^`?]+)", where):
            if path.startswith("..."):
                path = base.rsplit("/", 1)[0] + path[3:]
            base = path
            out[path] = roles
    return out


def request_of(path: str, methods: set[str], bad_inputs) -> tuple[str, object | None]:
    """The method and a valid body for ``path`` (the bad-input catalogue's, else an empty object)."""
    if path in bad_inputs.ROUTES:
        method, body, _ = bad_inputs.ROUTES[path]
        return method, body
    method = next(m for m in ("POST", "PUT", "GET") if m in methods)
    return method, None if method == "GET" else {}


def test_the_documented_roles_are_the_enforced_ones(cases):
    documented = documented_roles()
    with cases.of("role_matrix") as check:
        for path, roles in ROUTE_ROLES.items():
            if path in UNDOCUMENTED:
                check(path not in documented, f"{path} is documented now: remove it from UNDOCUMENTED")
                continue
            row = documented.get(path) or (documented.get("/v1/routes/plan-task/submit")
                                           if path.startswith("/v1/routes/plan-task") else None)
            want = roles | {Role.ADMIN}
            check(row is not None and (row | {Role.ADMIN}) == want,
                  f"{path}: docs/serving.md says {sorted(row or [])}, ROUTE_ROLES says {sorted(roles)}")
        for path in documented:
            check(path in ROUTE_ROLES, f"docs/serving.md documents {path}, which ROUTE_ROLES does not list")


def test_every_route_for_every_credential(secure_server, bad_inputs, cases):
    """Every /v1 route: bad credentials → 401, a role not listed → 403, a listed role (and admin) past the key."""
    routes = service_routes()
    send = bad_inputs.send
    with cases.of("role_matrix") as check:
        check(set(ROUTE_ROLES) <= set(routes), f"routes not mounted: {sorted(set(ROUTE_ROLES) - set(routes))}")
        for path, roles in sorted(ROUTE_ROLES.items()):
            method, body = request_of(path, routes.get(path, {"POST"}), bad_inputs)
            target = path + ("?task_id=x" if path.endswith(("/status", "/get")) else "")
            data = None if body is None else json.dumps(body).encode()
            for label, auth in BAD_CREDENTIALS.items():
                answer = send(secure_server.url, method, target, auth=auth, data=data, timeout=60)
                check(answer.status == 401 and answer.headers.get("www-authenticate", "").startswith("Bearer"),
                      f"{method} {path} with {label}: {answer.status}, expected 401 with WWW-Authenticate")
            for role in ROLES:
                allowed = role == "admin" or Role(role) in roles
                answer = send(secure_server.url, method, target, auth=role, data=data, timeout=120)
                if allowed:
                    check(answer.status is not None and answer.status < 500 and answer.status not in (401, 403),
                          f"{method} {path} as {role}: {answer.status} {answer.body[:200]!r}, expected past the key")
                else:
                    check(answer.status == 403 and role in answer.json()["error"],
                          f"{method} {path} as {role}: {answer.status}, expected 403 naming the role")


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[" * 50_000])
def test_a_caller_without_the_role_learns_nothing_about_the_body(secure_server, bad_inputs, cases, raw):
    """Authentication and roles come before any body check: a malformed body is 401/403, never a 400."""
    with cases.of("role_matrix") as check:
        for path, roles in sorted(ROUTE_ROLES.items()):
            if path in ("/v1/models", "/v1/kpis") or path.endswith(("/status", "/get", "/cancel")):
                continue
            answer = bad_inputs.send(secure_server.url, "POST", path, data=raw)
            check(answer.status == 401, f"POST {path} without a key, malformed body: {answer.status}")
            for role in ROLES:
                if role != "admin" and Role(role) not in roles:
                    answer = bad_inputs.send(secure_server.url, "POST", path, auth=role, data=raw)
                    check(answer.status == 403, f"POST {path} as {role}, malformed body: {answer.status}")


def test_unlisted_paths_are_admin_only_and_open_paths_open(secure_server, bad_inputs, cases):
    send = bad_inputs.send
    with cases.of("role_matrix") as check:
        for path in ("/v1/nope", "/v1/admin/other", "/v1/recommend/", "/v1//recommend", "/V1/recommend",
                     "/v1/recommend%2f", "/internal", "/v1/routes/plan-task/../plan"):
            check(send(secure_server.url, "GET", path).status == 401, f"GET {path} without a key")
            for role in ("storefront", "marketing", "logistics"):
                answer = send(secure_server.url, "GET", path, auth=role)
                check(answer.status in (403, 404, 405) and answer.status != 200,
                      f"GET {path} as {role}: {answer.status}")
            answer = send(secure_server.url, "GET", path, auth="admin")
            location = answer.headers.get("location", "")
            redirect_home = answer.status == 307 and location.startswith((secure_server.url + "/", "/")) \
                and not location.startswith("//")  # a trailing slash: to the route itself, checked again
            check(answer.status in (404, 405) or redirect_home, f"GET {path} as admin: {answer.status} {location}")
        for path in sorted(OPEN_PATHS - {"/"}):
            answer = send(secure_server.url, "GET", path)
            check(answer.status in (200, 307, 303), f"GET {path} without a key: {answer.status}")


def _console_client(url: str):
    from tests.serving.console.conftest import ConsoleClient

    return ConsoleClient(url)


def test_console_pages_for_every_role(secure_server, cases):
    """No session (a bearer key is not a session) → the login; each role opens exactly its pages."""
    with cases.of("role_matrix") as check:
        anonymous = _console_client(secure_server.url)
        try:
            for page in PAGES:
                for headers in ({}, {"Authorization": f"Bearer {KEYS['admin']}"}):
                    answer = anonymous.get(f"/console/{page.name}", headers=headers)
                    check(answer.status_code == 303 and answer.headers["location"].startswith("/console/login"),
                          f"/console/{page.name} without a session ({headers or 'nothing'}): {answer.status_code}")
            anonymous.http.cookies.set("shopml_console", "forged.cookie.value", path="/console")
            answer = anonymous.get("/console/models")
            check(answer.status_code == 303 and "why=invalid" in answer.headers["location"], "a forged session cookie")
        finally:
            anonymous.close()
        for role in ROLES:
            client = _console_client(secure_server.url)
            try:
                check(client.login(KEYS[role]).status_code == 303, f"console login as {role}")
                for page in PAGES:
                    answer = client.get(f"/console/{page.name}")
                    allowed = may(frozenset({role}), page.api_route)
                    check(answer.status_code == (200 if allowed else 403),
                          f"/console/{page.name} as {role}: {answer.status_code}, expected {200 if allowed else 403}")
            finally:
                client.close()
