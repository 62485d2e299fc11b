"""Bad-input catalogue of the shopml service: one request per case, each with the answer the service owes it.

A :class:`Case` is plain data: method, path, key (a role's demo key or a literal ``Authorization`` value), a
JSON body or raw bytes with their content type, the acceptable status codes and, optionally, a text the error
must contain (usually the field's name) or, for a partial success, the list in the 200 answer that must name
the unknown input. :func:`run_case` sends one case to a running service with the standard library only
(``http.client``, what ``urllib`` uses underneath) and says whether the answer is right:

* the status is one of the expected ones (a request that gets no answer within the timeout is wrong: a hang);
* every answer of 400 or more has the service's error shape ``{"error": str, "detail": [{"field": str,
  "message": str}, ...]}`` and, when the case says so, names the field;
* a partial success (200) lists the unknown input in the stated field.

The catalogue covers every route: keys and roles (401/403), transport (invalid JSON, non-UTF-8 bytes, NaN and
Infinity literals, deeply nested arrays, integers of 5,000 digits, wrong content types, bodies above 1 MiB,
declared or chunked), unknown routes and methods (404/405), and per route the field mistakes a client makes
(loose types on the strict hot routes, out-of-range and huge numbers, unknown fields, empty or too-long lists,
misspelled choices, impossible statistics). The roles per route are written here on purpose rather than
imported from ``serving.auth``: the catalogue is the client's expectation, checked against the service.

``bench/reliability.py`` runs the whole catalogue (:func:`run_catalogue`); a test can import this file by path
and do the same against its own service.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import re
import select
import time
import urllib.parse
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

KEYS = {role: f"demo-{role}-key" for role in ("storefront", "marketing", "logistics", "admin")}
ROLES = tuple(KEYS)
MAX_BODY = 1_048_576
"""The service's default body limit (settings ``serve_max_body_bytes``)."""


@dataclass(frozen=True)
class Case:
    """One request and the answer it must get."""

    name: str
    method: str
    path: str
    auth: str | None
    expect: int | frozenset[int]
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    contains: str | None = None
    lists: tuple[str, str] | None = None
    chunked: bool = False

    @property
    def expected(self) -> frozenset[int]:
        return frozenset({self.expect}) if isinstance(self.expect, int) else self.expect

    @property
    def payload(self) -> bytes | None:
        if self.raw is not None:
            return self.raw
        return None if self.body is None else json.dumps(self.body).encode()


@dataclass
class Answer:
    """What came back: the status and body, or ``error`` (timeout, refused, reset) when nothing did."""

    status: int | None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def authorization(auth: str) -> str:
    """The ``Authorization`` value of a role's demo key, or ``auth`` itself when it is not a role."""
    return f"Bearer {KEYS[auth]}" if auth in KEYS else auth


def send(base_url: str, method: str, path: str, *, auth: str | None = None, data: bytes | None = None,
         content_type: str = "application/json", timeout: float = 10.0, chunked: bool = False) -> Answer:
    """One request on a fresh connection.

    A large declared body is sent the way ``Expect: 100-continue`` clients do: headers first, then the body only
    if the service has not answered within a second. A service that refuses by Content-Length (413) closes the
    connection, and a client still writing would see a broken pipe instead of the answer.
    """
    parts = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    headers = {"Authorization": authorization(auth)} if auth is not None else {}
    if data is not None:
        headers["Content-Type"] = content_type
    start = time.perf_counter()
    try:
        if data is not None and chunked:
            pieces = (data[i : i + 65536] for i in range(0, len(data), 65536))
            # the service may answer (413) before the last chunk: read what it said
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.request(method, path, body=pieces, headers=headers, encode_chunked=True)
        elif data is not None and len(data) > 65536:
            conn.putrequest(method, path)
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                conn.putheader(name, value)
            conn.endheaders()
            if not select.select([conn.sock], [], [], 1.0)[0]:
                conn.send(data)
        else:
            conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return Answer(response.status, body, {k.lower(): v for k, v in response.getheaders()},
                      time.perf_counter() - start)
    except TimeoutError:
        return Answer(None, seconds=time.perf_counter() - start, error="timeout")
    except ConnectionRefusedError:
        return Answer(None, seconds=time.perf_counter() - start, error="refused")
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as exc:
        return Answer(None, seconds=time.perf_counter() - start, error=f"reset ({type(exc).__name__})")
    except OSError as exc:
        return Answer(None, seconds=time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def error_shape_problem(answer: Answer) -> str | None:
    """Why an error answer is not ``{"error": str, "detail": [{"field": str, "message": str}]}`` (None if it is)."""
    parsed = answer.json()
    if not isinstance(parsed, dict):
        return f"error body is not a JSON object: {answer.body[:120]!r}"
    if not isinstance(parsed.get("error"), str):
        return f"no 'error' string in {sorted(parsed)}"
    detail = parsed.get("detail")
    if not isinstance(detail, list):
        return f"'detail' is {type(detail).__name__}, not a list"
    for item in detail:
        if not (isinstance(item, dict) and isinstance(item.get("field"), str) and isinstance(item.get("message"), str)):
            return f"a 'detail' item is not {{field, message}}: {json.dumps(item)[:120]}"
    return None


def names(error: dict, token: str) -> bool:
    """Whether the error's message or detail names ``token`` as a word (``k`` in ``k: ...``, not in ``key``)."""
    said = " ".join([error["error"], *(f"{d['field']} {d['message']}" for d in error["detail"])])
    return re.search(rf"(?<!\w){re.escape(token)}(?!\w)", said, re.IGNORECASE) is not None


def judge(case: Case, answer: Answer) -> tuple[bool, str]:
    """Whether ``answer`` is what ``case`` expects, and why not."""
    want = sorted(case.expected)
    if answer.status is None:
        return False, f"no answer ({answer.error}) after {answer.seconds:.1f} s; expected {want}"
    text = answer.body[:200].decode("utf-8", "replace")
    if answer.status not in case.expected:
        return False, f"status {answer.status}, expected {want}: {text}"
    if answer.status >= 400:
        problem = error_shape_problem(answer)
        if problem:
            return False, f"status {answer.status}: {problem}"
        if case.contains and not names(answer.json(), case.contains):
            return False, f"status {answer.status}, but the error does not name {case.contains!r}: {text}"
    if case.lists:
        name, value = case.lists
        parsed = answer.json()
        listed = parsed.get(name) if isinstance(parsed, dict) else None
        if not isinstance(listed, list) or value not in listed:
            return False, f"status {answer.status}, but {name!r} does not list {value!r}: {text}"
    return True, ""


def run_case(base_url: str, case: Case, timeout: float = 10.0) -> tuple[bool, str]:
    """Send ``case`` to the service at ``base_url``; (True, "") when the answer is right, else (False, why)."""
    answer = send(base_url, case.method, case.path, auth=case.auth, data=case.payload,
                  content_type=case.content_type, timeout=timeout, chunked=case.chunked)
    return judge(case, answer)


def run_catalogue(base_url: str, cases: Iterable[Case], timeout: float = 10.0, workers: int = 4) -> dict[str, Any]:
    """Every case against one service (``workers`` at a time): counts and the failing cases with their reason.

    ``wrong_answers`` counts every failing case; ``server_errors`` (a status of 500 or more) and ``hung`` (no
    answer within ``timeout``) are the failures of those kinds among them.
    """
    cases = list(cases)

    def one(case: Case) -> tuple[Case, Answer, bool, str]:
        answer = send(base_url, case.method, case.path, auth=case.auth, data=case.payload,
                      content_type=case.content_type, timeout=timeout, chunked=case.chunked)
        return (case, answer, *judge(case, answer))

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, cases))
    statuses: dict[str, int] = {}
    failures = []
    for case, answer, ok, why in results:
        key = str(answer.status) if answer.status is not None else answer.error or "none"
        statuses[key] = statuses.get(key, 0) + 1
        if not ok:
            failures.append({"name": case.name, "why": why})
    return {
        "cases": len(cases),
        "passed": len(cases) - len(failures),
        "server_errors": sum(1 for _, a, _, _ in results if a.status is not None and a.status >= 500),
        "hung": sum(1 for _, a, _, _ in results if a.error == "timeout"),
        "wrong_answers": len(failures),
        "statuses": dict(sorted(statuses.items())),
        "failures": failures,
    }


def known_sku(base_url: str, timeout: float = 30.0) -> str | None:
    """A SKU the served forecaster knows (the first row of an all-SKU forecast), for the partial-success case."""
    answer = send(base_url, "POST", "/v1/forecast", auth="logistics", data=b'{"horizon": 1}', timeout=timeout)
    rows = (answer.json() or {}).get("rows") if answer.status == 200 else None
    return str(rows[0]["sku"]) if rows else None


# --- valid bodies, mutated by the field cases ---------------------------------------------------------------------

RECOMMEND = {"customer_id": "nobody-1", "k": 5}
SIMILAR = {"sku": "NO-SUCH-SKU", "k": 5}
EVENTS = {"events": [{"type": "view", "sku": "NO-SUCH-SKU", "session_id": "s-bad-inputs"}]}
ASSIGN = {"spec": {"experiment": "checkout", "variants": [{"name": "control", "weight": 0.5},
                                                          {"name": "new", "weight": 0.5}]},
          "unit_id": "u-1"}
SCORE = {"customer_ids": ["nobody-1"]}
AUDIENCE = {"segments": ["at_risk"], "page_size": 5}
EVALUATE = {
    "name": "checkout",
    "variants": [{"name": "control", "weight": 0.5, "control": True}, {"name": "new", "weight": 0.5}],
    "metrics": [{"name": "conversion", "type": "proportion"}, {"name": "revenue", "type": "mean"}],
    "data": {
        "control": {"conversion": {"n": 1000, "sum": 50}, "revenue": {"n": 1000, "sum": 5000.0, "sum_sq": 60000.0}},
        "new": {"conversion": {"n": 1000, "sum": 60}, "revenue": {"n": 1000, "sum": 5200.0, "sum_sq": 64000.0}},
    },
}
SIZE = {"plan": {"baseline": 0.05, "mde": 0.05}}
FORECAST = {"skus": ["NO-SUCH-SKU"], "horizon": 2}
ROUTE = {
    "depots": [{"id": "depot", "location": {"x": 0, "y": 0}}],
    "stops": [{"id": f"s{i}", "location": {"x": i, "y": 1}, "demand": {"kg": 1}} for i in range(1, 4)],
    "vehicles": [{"id": "van", "start_depot": "depot", "capacity": {"kg": 10}}],
    "options": {"time_limit": 1, "workers": 1},
}
ALLOCATE = {
    "warehouses": [{"warehouse_id": "W1", "lat": 52.5, "lon": 13.4}, {"warehouse_id": "W2", "lat": 48.1, "lon": 11.6}],
    "regions": [{"region": "R1", "lat": 53.5, "lon": 10.0}],
    "stock": [{"warehouse_id": "W1", "sku": "S1", "on_hand": 10}],
    "demand": [{"sku": "S1", "region": "R1", "demand": 4}],
    "options": {"time_limit_s": 10},
}

ROUTES: dict[str, tuple[str, dict | None, frozenset[str]]] = {
    "/v1/recommend": ("POST", RECOMMEND, frozenset({"storefront"})),
    "/v1/similar-items": ("POST", SIMILAR, frozenset({"storefront"})),
    "/v1/events": ("POST", EVENTS, frozenset({"storefront"})),
    "/v1/experiments/assign": ("POST", ASSIGN, frozenset({"storefront", "marketing"})),
    "/v1/customers/score": ("POST", SCORE, frozenset({"marketing"})),
    "/v1/audiences": ("POST", AUDIENCE, frozenset({"marketing"})),
    "/v1/experiments/evaluate": ("POST", EVALUATE, frozenset({"marketing"})),
    "/v1/experiments/size": ("POST", SIZE, frozenset({"marketing"})),
    "/v1/forecast": ("POST", FORECAST, frozenset({"logistics"})),
    "/v1/routes/plan": ("POST", ROUTE, frozenset({"logistics"})),
    "/v1/routes/plan-task/submit": ("POST", ROUTE, frozenset({"logistics"})),
    "/v1/stock/allocate": ("POST", ALLOCATE, frozenset({"logistics"})),
    "/v1/models": ("GET", None, frozenset(ROLES)),
    "/v1/admin/reload": ("POST", None, frozenset({"admin"})),
}
"""Method, a valid body and the roles allowed (besides admin) of every route the service offers."""

BODY_ROUTES = [path for path, (method, body, _) in ROUTES.items() if body is not None]
BIG_INT = "1" + "0" * 5000
"""An integer literal of 5,001 digits: valid JSON that Python's ``int`` refuses to parse (4,300-digit limit)."""


def changed(base: dict, path: str, value: Any) -> dict:
    """A deep copy of ``base`` with the dotted ``path`` (list indexes as numbers) set to ``value``."""
    out = copy.deepcopy(base)
    node: Any = out
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return out


def without(base: dict, path: str) -> dict:
    out = copy.deepcopy(base)
    node: Any = out
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    del node[keys[-1]]
    return out


def literal(base: dict, path: str, text: str) -> bytes:
    """``base`` as JSON with the value at ``path`` replaced by the raw token ``text`` (NaN, Infinity, 1e400...)."""
    marker = "__literal__"
    return json.dumps(changed(base, path, marker)).replace(f'"{marker}"', text).encode()


# --- the catalogue ----------------------------------------------------------------------------------------------


def auth_cases() -> list[Case]:
    """No key, an unknown key, another scheme and an empty bearer are 401; a role not allowed is 403."""
    cases = []
    for path, (method, body, roles) in ROUTES.items():
        for label, auth in (("no key", None), ("unknown key", "Bearer not-a-key"),
                            ("basic scheme", "Basic ZGVtbzpkZW1v"), ("empty bearer", "Bearer ")):
            cases.append(Case(f"{path} {label}", method, path, auth, 401, body=body))
        for role in ROLES:
            if role != "admin" and role not in roles:
                cases.append(Case(f"{path} as {role}", method, path, role, 403, body=body))
    task = "/v1/routes/plan-task/status?task_id=x"
    cases += [
        Case("/v1/recommend admin key in upper case", "POST", "/v1/recommend", "Bearer DEMO-ADMIN-KEY", 401,
             body=RECOMMEND),
        Case("/v1/recommend lower-case bearer scheme", "POST", "/v1/recommend", "bearer demo-storefront-key", 200,
             body=RECOMMEND),
        Case("task status no key", "GET", task, None, 401),
        Case("task status as marketing", "GET", task, "marketing", 403),
    ]
    return cases


def transport_cases() -> list[Case]:
    """Bytes that are not the JSON object a route takes, wrong content types and oversized bodies."""
    cases = []
    for path in BODY_ROUTES:
        method, body, roles = ROUTES[path]
        role = sorted(roles)[0]
        raw = {
            "invalid JSON": b'{"k": ',
            "non-UTF-8 bytes": b'{"name": "\xff\xfe"}',
            "empty body": b"",
            "JSON array": b"[]",
            "JSON null": b"null",
            "nested 100,000 deep": b"[" * 100_000,
        }
        for label, data in raw.items():
            cases.append(Case(f"{path} {label}", method, path, role, 400, raw=data))
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            cases.append(Case(f"{path} content type {content_type.split(';')[0]}", method, path, role, 415,
                              body=body, content_type=content_type))
        padding = "x" * (MAX_BODY + 1000)
        cases.append(Case(f"{path} body above 1 MiB", method, path, role, 413,
                          raw=json.dumps({**body, "padding": padding}).encode()))
    padding = b'{"customer_ids": ["' + b"a" * (MAX_BODY + 1000) + b'"]}'
    cases += [
        Case("/v1/customers/score chunked body above 1 MiB", "POST", "/v1/customers/score", "marketing", 413,
             raw=padding, chunked=True),
        Case("/v1/audiences chunked body above 1 MiB", "POST", "/v1/audiences", "marketing", 413,
             raw=padding, chunked=True),
        Case("/v1/admin/reload content type text/plain", "POST", "/v1/admin/reload", "admin", 415, raw=b"{}",
             content_type="text/plain"),
        Case("/v1/admin/reload body above 1 MiB", "POST", "/v1/admin/reload", "admin", 413,
             raw=b'{"x": "' + b"a" * (MAX_BODY + 1000) + b'"}'),
    ]
    return cases


def route_cases() -> list[Case]:
    """Unknown paths (404, or 403 for a non-admin key: deny by default), wrong methods (405), unknown tasks."""
    return [
        Case("GET unknown /v1 path as admin", "GET", "/v1/nope", "admin", 404),
        Case("POST unknown /v1 path as admin", "POST", "/v1/nope", "admin", 404, body={}),
        Case("GET /v2/recommend as admin", "GET", "/v2/recommend", "admin", 404),
        Case("POST /recommend (no /v1) as admin", "POST", "/recommend", "admin", 404, body=RECOMMEND),
        Case("GET unknown /v1 path as storefront", "GET", "/v1/nope", "storefront", 403),
        Case("GET unknown /v1 path without key", "GET", "/v1/nope", None, 401),
        Case("GET /v1/recommend", "GET", "/v1/recommend", "storefront", 405),
        Case("GET /v1/customers/score", "GET", "/v1/customers/score", "marketing", 405),
        Case("GET /v1/audiences", "GET", "/v1/audiences", "marketing", 405),
        Case("POST /v1/models", "POST", "/v1/models", "admin", 405, body={}),
        Case("DELETE /v1/forecast", "DELETE", "/v1/forecast", "logistics", 405),
        Case("PUT /v1/routes/plan", "PUT", "/v1/routes/plan", "logistics", 405, body=ROUTE),
        Case("GET /v1/admin/reload", "GET", "/v1/admin/reload", "admin", 405),
        Case("task status of an unknown id", "GET", "/v1/routes/plan-task/status?task_id=nope", "logistics", 404),
        Case("task result of an unknown id", "GET", "/v1/routes/plan-task/get?task_id=nope", "logistics", 404),
        Case("task status without task_id", "GET", "/v1/routes/plan-task/status", "logistics", 400),
        Case("models with a query string", "GET", "/v1/models?x=1", "storefront", 200),
    ]


def _field_cases(path: str, role: str, bad: list[tuple], good: Iterable[tuple] = ()) -> list[Case]:
    """``bad``: (label, body or raw bytes, text the 400 must contain or None); ``good``: (label, body, lists)."""
    cases = []
    for label, payload, contains in bad:
        kind = {"raw": payload} if isinstance(payload, bytes) else {"body": payload}
        cases.append(Case(f"{path} {label}", "POST", path, role, 400, contains=contains, **kind))
    for label, payload, lists in good:
        cases.append(Case(f"{path} {label}", "POST", path, role, 200, body=payload, lists=lists))
    return cases


def recommend_cases() -> list[Case]:
    r = RECOMMEND
    bad = [
        ('k "5" (string)', changed(r, "k", "5"), "k"),
        ("k true", changed(r, "k", True), "k"),
        ("k 5.5", changed(r, "k", 5.5), "k"),
        ("k 5.0 (a float)", changed(r, "k", 5.0), "k"),
        ("k 0", changed(r, "k", 0), "k"),
        ("k 101", changed(r, "k", 101), "k"),
        ("k -1", changed(r, "k", -1), "k"),
        ("k null", changed(r, "k", None), "k"),
        ("k 1e300", changed(r, "k", 1e300), "k"),
        ("k [5]", changed(r, "k", [5]), "k"),
        ("k NaN literal", literal(r, "k", "NaN"), "k"),
        ("k Infinity literal", literal(r, "k", "Infinity"), "k"),
        ("k -Infinity literal", literal(r, "k", "-Infinity"), "k"),
        ("k of 5,001 digits", literal(r, "k", BIG_INT), None),
        ("customer_id 12345 (number)", changed(r, "customer_id", 12345), "customer_id"),
        ('customer_id ""', changed(r, "customer_id", ""), "customer_id"),
        ("customer_id of 201 characters", changed(r, "customer_id", "c" * 201), "customer_id"),
        ("customer_id a list", changed(r, "customer_id", ["a"]), "customer_id"),
        ("exclude a string", changed(r, "exclude", "SKU1"), "exclude"),
        ("exclude 501 SKUs", changed(r, "exclude", [f"S{i}" for i in range(501)]), "exclude"),
        ('exclude [""]', changed(r, "exclude", [""]), "exclude"),
        ("exclude [1]", changed(r, "exclude", [1]), "exclude"),
        ('country ""', changed(r, "country", ""), "country"),
        ('include_purchased "yes"', changed(r, "include_purchased", "yes"), "include_purchased"),
        ("include_purchased 1", changed(r, "include_purchased", 1), "include_purchased"),
        ("unknown field kk", changed(r, "kk", 5), "kk"),
        ("object instead of body fields", {"request": r}, "request"),
    ]
    good = [("guest (customer_id null)", changed(r, "customer_id", None), None),
            ("unknown customer gets the fallback", r, None)]
    return _field_cases("/v1/recommend", "storefront", bad, good)


def similar_cases() -> list[Case]:
    s = SIMILAR
    bad = [
        ("sku missing", without(s, "sku"), "sku"),
        ("sku 79874 (number)", changed(s, "sku", 79874), "sku"),
        ('sku ""', changed(s, "sku", ""), "sku"),
        ("sku of 201 characters", changed(s, "sku", "S" * 201), "sku"),
        ('k "5"', changed(s, "k", "5"), "k"),
        ("k 0", changed(s, "k", 0), "k"),
        ("k 101", changed(s, "k", 101), "k"),
        ("k NaN literal", literal(s, "k", "NaN"), "k"),
        ("exclude 501 SKUs", changed(s, "exclude", [f"S{i}" for i in range(501)]), "exclude"),
        ("unknown field", changed(s, "similar_to", "x"), "similar_to"),
    ]
    return _field_cases("/v1/similar-items", "storefront", bad, [("unknown SKU gets popular items", s, None)])


def events_cases() -> list[Case]:
    e = EVENTS
    bad = [
        ("events missing", {}, "events"),
        ("events []", {"events": []}, "events"),
        ("101 events", {"events": e["events"] * 101}, "events"),
        ("events an object", {"events": e["events"][0]}, "events"),
        ("event type missing", without(e, "events.0.type"), "type"),
        ('event type "click"', changed(e, "events.0.type", "click"), "type"),
        ("event sku missing", without(e, "events.0.sku"), "sku"),
        ("event sku 85123 (number)", changed(e, "events.0.sku", 85123), "sku"),
        ("event without customer_id or session_id", without(e, "events.0.session_id"), "session_id"),
        ('event customer_id ""', changed(e, "events.0.customer_id", ""), "customer_id"),
        ("event session_id of 201 characters", changed(e, "events.0.session_id", "s" * 201), "session_id"),
        ('event at "yesterday"', changed(e, "events.0.at", "yesterday"), "at"),
        ("event at a year ago", changed(e, "events.0.at", "2000-01-01T00:00:00Z"), "at"),
        ("event at next year", changed(e, "events.0.at", "2999-01-01T00:00:00Z"), "at"),
        ("event unknown field", changed(e, "events.0.price", 3), "price"),
    ]
    good = [("unknown SKU is kept and listed", e, ("unknown_skus", "NO-SUCH-SKU")),
            ("customer and session together", changed(e, "events.0.customer_id", "nobody-1"), None)]
    return _field_cases("/v1/events", "storefront", bad, good)


def assign_cases() -> list[Case]:
    a = ASSIGN
    variants = a["spec"]["variants"]
    bad = [
        ("spec missing", without(a, "spec"), "spec"),
        ("unit_id missing", without(a, "unit_id"), "unit_id"),
        ("unit_id 42 (number)", changed(a, "unit_id", 42), "unit_id"),
        ('unit_id ""', changed(a, "unit_id", ""), "unit_id"),
        ("weights summing to 0.8", changed(a, "spec.variants.1.weight", 0.3), "weights"),
        ("no variants", changed(a, "spec.variants", []), "variants"),
        ("duplicate variant names", changed(a, "spec.variants.1.name", "control"), "unique"),
        ("traffic 0", changed(a, "spec.traffic", 0), "traffic"),
        ("traffic 1.5", changed(a, "spec.traffic", 1.5), "traffic"),
        ("experiment with '|'", changed(a, "spec.experiment", "a|b"), "|"),
        ("holdout fraction 1", changed(a, "spec.holdout", {"name": "h", "fraction": 1}), "fraction"),
        ("weight NaN literal", literal(a, "spec.variants.0.weight", "NaN"), "weight"),
        ("unknown field in spec", changed(a, "spec.colour", "red"), "colour"),
        ("21 variants", changed(a, "spec.variants", [{"name": f"v{i}", "weight": 1 / 21} for i in range(21)]),
         "variants"),
        ("variant weight 0", changed(a, "spec.variants", [{**variants[0], "weight": 0}, {**variants[1], "weight": 1}]),
         "weight"),
    ]
    return _field_cases("/v1/experiments/assign", "marketing", bad, [("a valid assignment", a, None)])


def score_cases() -> list[Case]:
    s = SCORE
    bad = [
        ("customer_ids []", changed(s, "customer_ids", []), "customer_ids"),
        ("customer_ids missing", {}, "customer_ids"),
        ('customer_ids "abc" (a string)', changed(s, "customer_ids", "abc"), "customer_ids"),
        ("customer_ids [1, 2] (numbers)", changed(s, "customer_ids", [1, 2]), "customer_ids"),
        ('customer_ids [""]', changed(s, "customer_ids", [""]), "customer_ids"),
        ("1,001 customer ids", changed(s, "customer_ids", [f"c{i}" for i in range(1001)]), "customer_ids"),
        ("customer_ids null", changed(s, "customer_ids", None), "customer_ids"),
        ("an id of 201 characters", changed(s, "customer_ids", ["c" * 201]), "customer_ids"),
        ("unknown field", changed(s, "as_of", "2024-01-01"), "as_of"),
    ]
    good = [("unknown ids are listed (partial success)", changed(s, "customer_ids", ["nobody-1", "nobody-2"]),
             ("unknown", "nobody-2"))]
    return _field_cases("/v1/customers/score", "marketing", bad, good)


def audience_cases() -> list[Case]:
    a = AUDIENCE
    bad = [
        ('segment "at-rsk" (misspelled) names the choices', changed(a, "segments", ["at-rsk"]), "at_risk"),
        ('segments "at_risk" (a string)', changed(a, "segments", "at_risk"), "segments"),
        ("51 segments", changed(a, "segments", ["at_risk"] * 51), "segments"),
        ("page 0", changed(a, "page", 0), "page"),
        ("page_size 0", changed(a, "page_size", 0), "page_size"),
        ("page_size 1001", changed(a, "page_size", 1001), "page_size"),
        ("top_n 0", changed(a, "top_n", 0), "top_n"),
        ("top_n 100,001", changed(a, "top_n", 100_001), "top_n"),
        ("min_churn_probability 1.5", changed(a, "min_churn_probability", 1.5), "min_churn_probability"),
        ("max_churn_probability -0.1", changed(a, "max_churn_probability", -0.1), "max_churn_probability"),
        ("min_p_alive 2", changed(a, "min_p_alive", 2), "min_p_alive"),
        ("min_value NaN literal", literal(a, "min_value", "NaN"), "min_value"),
        ("min_value 1e400 literal (infinite)", literal(a, "min_value", "1e400"), "min_value"),
        ('min_value "abc"', changed(a, "min_value", "abc"), "min_value"),
        ('format "xml"', changed(a, "format", "xml"), "format"),
        ("unknown field", changed(a, "segment", "at_risk"), "segment"),
        ("page of 5,001 digits", literal(a, "page", BIG_INT), None),
        ("page 1e300", changed(a, "page", 1e300), "page"),
    ]
    good = [('segment "At-Risk" (accepted spelling)', changed(a, "segments", ["At-Risk"]), None),
            ("min_value 1e12 (empty audience)", {"min_value": 1e12}, None)]
    return _field_cases("/v1/audiences", "marketing", bad, good)


def evaluate_cases() -> list[Case]:
    e = EVALUATE
    bad = [
        ("one variant", changed(e, "variants", [e["variants"][0]]), "variants"),
        ("weights summing to 0.9", changed(e, "variants.1.weight", 0.4), "weights"),
        ("two controls", changed(e, "variants.1.control", True), "control"),
        ("no control", changed(e, "variants.0.control", False), "control"),
        ("impossible variance (sum_sq below sum**2/n)", changed(e, "data.control.revenue.sum_sq", 100.0), "sum_sq"),
        ("n -1", changed(e, "data.control.conversion.n", -1), "n"),
        ("n above a billion", changed(e, "data.control.conversion.n", 10**10), "n"),
        ("no metrics", changed(e, "metrics", []), "metrics"),
        ('metric type "median"', changed(e, "metrics.0.type", "median"), "type"),
        ("guardrail without margin", changed(e, "metrics.0.role", "guardrail"), "margin"),
        ("data for an unknown variant", changed(e, "data.ghost", e["data"]["new"]), "ghost"),
        ("data missing a metric", without(e, "data.new.revenue"), "revenue"),
        ("sum NaN literal", literal(e, "data.control.revenue.sum", "NaN"), "sum"),
        ("alpha 0.6", changed(e, "settings", {"alpha": 0.6}), "alpha"),
        ("unknown setting", changed(e, "settings", {"alpah": 0.05}), "alpah"),
        ("quantile metric without quantile", changed(e, "metrics.1.type", "quantile"), "quantile"),
        ("conversions above n", changed(e, "data.new.conversion.sum", 5000), None),
    ]
    return _field_cases("/v1/experiments/evaluate", "marketing", bad, [("a valid evaluation", e, None)])


def size_cases() -> list[Case]:
    s = SIZE
    bad = [
        ("plan missing", {}, "plan"),
        ("baseline NaN literal", literal(s, "plan.baseline", "NaN"), "baseline"),
        ("proportion baseline 1.5", changed(s, "plan.baseline", 1.5), "baseline"),
        ("baseline 0", changed(s, "plan.baseline", 0), "baseline"),
        ("mde 0", changed(s, "plan.mde", 0), "mde"),
        ('mde "abc"', changed(s, "plan.mde", "abc"), "mde"),
        ("power 0.3", changed(s, "plan.power", 0.3), "power"),
        ("weights [0.7, 0.7]", changed(s, "plan.weights", [0.7, 0.7]), "weights"),
        ("total_units 3", changed(s, "total_units", 3), "total_units"),
        ("total_units 10**13", changed(s, "total_units", 10**13), "total_units"),
        ("unknown field in plan", changed(s, "plan.effect", 0.05), "effect"),
        ("mean metric without unit_sd", changed(s, "plan.metric_type", "mean"), "unit_sd"),
        ('plan "x" (a string)', changed(s, "plan", "x"), "plan"),
        ("alpha 0", changed(s, "plan.alpha", 0), "alpha"),
        ("baseline Infinity literal", literal(s, "plan.baseline", "Infinity"), "baseline"),
    ]
    good = [("a valid plan", s, None), ("detectable effect for total_units", changed(s, "total_units", 100_000), None)]
    return _field_cases("/v1/experiments/size", "marketing", bad, good)


def forecast_cases(sku: str | None) -> list[Case]:
    f = FORECAST
    bad = [
        ("skus []", changed(f, "skus", []), "skus"),
        ("501 skus", changed(f, "skus", [f"S{i}" for i in range(501)]), "skus"),
        ('skus [""]', changed(f, "skus", [""]), "skus"),
        ("regions []", changed(f, "regions", []), "regions"),
        ("horizon 0", changed(f, "horizon", 0), "horizon"),
        ("horizon 105", changed(f, "horizon", 105), "horizon"),
        ("quantiles [0]", changed(f, "quantiles", [0]), "quantiles"),
        ("quantiles [1]", changed(f, "quantiles", [1]), "quantiles"),
        ("quantiles [1.5]", changed(f, "quantiles", [1.5]), "quantiles"),
        ("quantiles []", changed(f, "quantiles", []), "quantiles"),
        ("10 quantiles", changed(f, "quantiles", [i / 11 for i in range(1, 11)]), "quantiles"),
        ("unknown field", changed(f, "freq", "D"), "freq"),
        ("horizon NaN literal", literal(f, "horizon", "NaN"), "horizon"),
        ("horizon of 5,001 digits", literal(f, "horizon", BIG_INT), None),
        ("only unknown SKUs", f, "NO-SUCH-SKU"),
    ]
    good = []
    if sku is not None:
        bad.append(("horizon 100 (beyond the model's)", {"skus": [sku], "horizon": 100}, "horizon"))
        good = [("a known SKU", {"skus": [sku], "horizon": 2}, None),
                ("a known and an unknown SKU (partial success)", {"skus": [sku, "NO-SUCH-SKU"], "horizon": 2},
                 ("unknown_skus", "NO-SUCH-SKU"))]
    return _field_cases("/v1/forecast", "logistics", bad, good)


def _stops(n: int) -> list[dict]:
    return [{"id": f"s{i}", "location": {"x": i % 100, "y": i // 100}, "demand": {"kg": 1}} for i in range(n)]


def route_plan_cases() -> list[Case]:
    r = ROUTE
    bad = [
        ("time window ending at 1e12", changed(r, "stops.0.time_windows", [{"start": 0, "end": 1e12}]),
         "time_windows"),
        ("negative demand", changed(r, "stops.0.demand", {"kg": -1}), "demand"),
        ("demand 1e300", changed(r, "stops.0.demand", {"kg": 1e300}), "demand"),
        ("no vehicles", changed(r, "vehicles", []), "vehicles"),
        ("no depots", changed(r, "depots", []), "depots"),
        ("vehicle at an unknown depot", changed(r, "vehicles.0.start_depot", "nowhere"), "nowhere"),
        ("lat 91", changed(r, "depots.0.location", {"lat": 91, "lon": 0}), "lat"),
        ("101 stops (synchronous limit 100)", changed(r, "stops", _stops(101)), "stops"),
        ("time_limit 31 s", changed(r, "options.time_limit", 31), "time_limit"),
        ("time_limit 0", changed(r, "options.time_limit", 0), "time_limit"),
        ("workers 3", changed(r, "options.workers", 3), "workers"),
        ("duplicate stop ids", changed(r, "stops.1.id", "s1"), "duplicate"),
        ("window end before start", changed(r, "stops.0.time_windows", [{"start": 50, "end": 10}]), "time_windows"),
        ("lat/lon mixed with x/y", changed(r, "stops.0.location", {"lat": 1, "lon": 1}), "mix"),
        ("penalty 0", changed(r, "stops.0.penalty", 0), "penalty"),
        ("speed 0", changed(r, "vehicles.0.speed", 0), "speed"),
        ("distance matrix of the wrong shape", changed(r, "travel", {"distance_matrix": [[0, 1], [1, 0]]}),
         "distance_matrix"),
        ("warm start naming an unknown vehicle", changed(r, "warm_start", {"truck": ["s1"]}), "truck"),
        ("x NaN literal", literal(r, "stops.0.location.x", "NaN"), "x"),
        ("unknown option", changed(r, "options", {"time_limit": 1, "fast": True}), "fast"),
        ("demand dimension without capacity", changed(r, "stops.0.demand", {"m3": 1}), "m3"),
        ("x 1e300", changed(r, "stops.0.location.x", 1e300), "x"),
        ("service_time -5", changed(r, "stops.0.service_time", -5), "service_time"),
    ]
    return _field_cases("/v1/routes/plan", "logistics", bad)


def route_task_cases() -> list[Case]:
    r = ROUTE
    bad = [
        ("2,001 stops (refused at submit)", changed(r, "stops", _stops(2001)), "stops"),
        ("time_limit 601 s", changed(r, "options.time_limit", 601), "time_limit"),
        ("vehicle at an unknown depot (refused at submit)", changed(r, "vehicles.0.start_depot", "nowhere"), "nowhere"),
        ("time window ending at 1e12", changed(r, "stops.0.time_windows", [{"start": 0, "end": 1e12}]),
         "time_windows"),
        ("no vehicles", changed(r, "vehicles", []), "vehicles"),
        ("unknown option", changed(r, "options", {"time_limit": 1, "fast": True}), "fast"),
        ("duplicate stop ids", changed(r, "stops.1.id", "s1"), "duplicate"),
    ]
    return _field_cases("/v1/routes/plan-task/submit", "logistics", bad)


def allocation_cases() -> list[Case]:
    a = ALLOCATE
    bad = [
        ("demand 1e300", changed(a, "demand.0.demand", 1e300), "demand"),
        ("on_hand -1", changed(a, "stock.0.on_hand", -1), "on_hand"),
        ("capacity -5", changed(a, "warehouses.0.capacity", -5), "capacity"),
        ("lat 100", changed(a, "regions.0.lat", 100), "lat"),
        ("demand []", changed(a, "demand", []), "demand"),
        ("warehouses []", changed(a, "warehouses", []), "warehouses"),
        ("regions []", changed(a, "regions", []), "regions"),
        ("demand and quantiles both", changed(a, "demand.0.quantiles", {"p50": 4}), "demand"),
        ("neither demand nor quantiles", without(a, "demand.0.demand"), "demand"),
        ('quantile named "q10"', changed(a, "demand.0", {"sku": "S1", "region": "R1", "quantiles": {"q10": 1}}),
         "q10"),
        ("time_limit_s 61", changed(a, "options.time_limit_s", 61), "time_limit_s"),
        ("unknown option", changed(a, "options", {"solver": "glpk"}), "solver"),
        ("negative shipping cost", changed(a, "shipping_cost", {"W1": {"R1": -1}}), "shipping_cost"),
        ("demand NaN literal", literal(a, "demand.0.demand", "NaN"), "demand"),
        ("stock in an unknown warehouse", changed(a, "stock.0.warehouse_id", "W9"), "W9"),
        ('method "simplex"', changed(a, "options.method", "simplex"), "method"),
        ("on_hand of 5,001 digits", literal(a, "stock.0.on_hand", BIG_INT), None),
        ("demand in an unknown region", changed(a, "demand.0.region", "R9"), "R9"),
    ]
    return _field_cases("/v1/stock/allocate", "logistics", bad, [("a valid allocation", a, None)])


def catalogue(sku: str | None = None) -> list[Case]:
    """Every case; ``sku`` (one the forecaster knows, see :func:`known_sku`) adds the forecast partial success."""
    cases = [*auth_cases(), *transport_cases(), *route_cases(), *recommend_cases(), *similar_cases(),
             *events_cases(), *assign_cases(), *score_cases(), *audience_cases(), *evaluate_cases(), *size_cases(),
             *forecast_cases(sku), *route_plan_cases(), *route_task_cases(), *allocation_cases()]
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"duplicate case names: {duplicates}"
    return cases
