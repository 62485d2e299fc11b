"""Oversized, malformed and mistyped bodies on every route and console form: 4xx in the error shape, never a 5xx
and never a hang.

The bad-input catalogue's transport cases (``bench/bad_inputs.py``: invalid JSON, non-UTF-8 bytes, empty, array
and null bodies, 100,000-deep nesting, three wrong content types and a body above 1 MiB on every body route, two
chunked ones) run here against the suite's service, with cases the catalogue does not have: deep objects, a
compressed body that would inflate to 64 MiB, a UTF-16 body, duplicate keys, and the console's form limits.
"""

from __future__ import annotations

import gzip

from serving.auth import ROUTE_ROLES
from tests.security.test_headers import raw_request

BODY_ROUTES = sorted(p for p in ROUTE_ROLES if p not in ("/v1/models", "/v1/kpis")
                     and not p.endswith(("/status", "/get", "/cancel")))


def _role(path: str) -> str:
    roles = sorted(ROUTE_ROLES[path])
    return str(roles[0]) if roles else "admin"


def test_the_catalogue_transport_cases(secure_server, bad_inputs, cases):
    with cases.of("bodies") as check:
        for case in bad_inputs.transport_cases():
            ok, why = bad_inputs.run_case(secure_server.url, case, timeout=30)
            check(ok, f"{case.name}: {why}")


EXTRA = {
    "object nested 100,000 deep": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json", {}),
    "gzip body inflating to 64 MiB": (gzip.compress(b" " * (64 << 20), 1), "application/json",
                                      {"Content-Encoding": "gzip"}),
    "UTF-16 body": ('{"k": 5}'.encode("utf-16"), "application/json; charset=utf-16", {}),
    "duplicate keys": (b'{"k": 5, "k": "five"}', "application/json", {}),
    "no content type": (b"{}", None, {}),
    "JSON with a BOM": (b'\xef\xbb\xbf{"k": 5}', "application/json", {}),
    "a lone surrogate": (b'{"customer_id": "\\ud800"}', "application/json", {}),
    "integer of 100,000 digits": (b'{"k": 1' + b"0" * 100_000 + b"}", "application/json", {}),
    "float 1e999": (b'{"k": 1e999}', "application/json", {}),
}


def test_more_malformed_bodies_on_every_route(secure_server, bad_inputs, cases):
    with cases.of("bodies") as check:
        for path in BODY_ROUTES:
            for label, (body, content_type, headers) in EXTRA.items():
                head = {"Authorization": f"Bearer demo-{_role(path)}-key", **headers}
                if content_type:
                    head["Content-Type"] = content_type
                status, answer_headers, payload = raw_request(secure_server.url, "POST", path, head, body,
                                                              timeout=30)
                shape = None
                if status is not None and status >= 400 and payload:
                    shape = bad_inputs.error_shape_problem(bad_inputs.Answer(status, payload, answer_headers))
                check(status is not None and status < 500 and shape is None,
                      f"POST {path} {label}: {status} {shape or ''} {payload[:160]!r}")


def test_console_forms_are_bounded(secure_server, cases):
    from tests.security.test_role_matrix import _console_client

    client = _console_client(secure_server.url)
    try:
        assert client.login("demo-admin-key").status_code == 303
        csrf = client.csrf()
        with cases.of("bodies") as check:
            big = client.http.post("/console/experiments/evaluate", data={"csrf": csrf},
                                   files={"spec_file": ("spec.json", b"x" * (3 << 20), "application/json")})
            check(big.status_code == 413, f"a 3 MiB console upload: {big.status_code}")
            many = client.http.post("/console/experiments/evaluate", data={"csrf": csrf},
                                    files=[("spec_file", (f"f{i}.json", b"{}", "application/json")) for i in range(6)])
            check(400 <= many.status_code < 500, f"six files in one form: {many.status_code}")
            fields = client.http.post("/console/experiments/size", data={"csrf": csrf,
                                                                          **{f"f{i}": "1" for i in range(300)}})
            check(400 <= fields.status_code < 500, f"300 form fields: {fields.status_code}")
            token_page = client.http.get("/console/login")
            login = client.http.post("/console/login", data={"csrf": "x", "key": "k" * 20_000})
            check(login.status_code == 413 and token_page.status_code in (200, 303),
                  f"a 20 KB login form: {login.status_code}")
            for label, content in (("not UTF-8 JSON", b"\xff\xfe{"), ("a JSON array", b"[1, 2]"),
                                   ("100,000-deep JSON", b"[" * 100_000)):
                answer = client.http.post("/console/logistics/plan", data={"csrf": csrf},
                                          files={"request_file": ("r.json", content, "application/json")})
                check(answer.status_code == 200 and 'id="route-problem"' in answer.text,
                      f"console route plan upload, {label}: {answer.status_code}")
    finally:
        client.close()
