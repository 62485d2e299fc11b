"""Header injection: CR, LF and NUL in header values, oversized and repeated headers, and attacker-chosen
values (a request id, forwarding headers, a key, the console's ``next``) never reflected into a response header.

Requests are written byte for byte on a socket (:func:`raw_request`): HTTP client libraries refuse to send
these headers at all, so they would test the client, not the service.
"""

from __future__ import annotations

import contextlib
import socket
import urllib.parse

from serving.auth import ROUTE_ROLES

MARKER = "zq-injected-7f3a"


def raw_request(url: str, method: str, path: str, headers: dict[str, str] | list[tuple[str, str]],
                body: bytes = b"", timeout: float = 20.0, raw_head: bytes | None = None
                ) -> tuple[int | None, dict[str, str], bytes]:
    """One request on a fresh socket: (status or None, headers as sent back, body)."""
    parts = urllib.parse.urlsplit(url)
    items = list(headers.items()) if isinstance(headers, dict) else list(headers)
    if not any(name.lower() == "host" for name, _ in items):
        items.insert(0, ("Host", parts.netloc))
    if body and not any(name.lower() == "content-length" for name, _ in items):
        items.append(("Content-Length", str(len(body))))
    head = raw_head if raw_head is not None else (
        f"{method} {path} HTTP/1.1\r\n".encode() + b"".join(
            name.encode("latin-1") + b": " + value.encode("latin-1") + b"\r\n" for name, value in items))
    data = head + b"Connection: close\r\n\r\n" + body
    chunks = []
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(data)  # the service may answer (and close) before it read the whole body
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
    except TimeoutError:
        return None, {}, b"timeout"
    reply = b"".join(chunks)
    head_bytes, _, payload = reply.partition(b"\r\n\r\n")
    lines = head_bytes.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return None, {}, reply[:200]
    answer_headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        answer_headers[name.strip().lower()] = (answer_headers.get(name.strip().lower(), "") + " " +
                                                value.strip()).strip()
    if answer_headers.get("transfer-encoding") == "chunked":
        payload = _unchunk(payload)
    return status, answer_headers, payload


def _unchunk(data: bytes) -> bytes:
    out, rest = [], data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2:]
    return b"".join(out)


def _reflected(headers: dict[str, str]) -> list[str]:
    """Response headers that carry the marker or were injected."""
    return [f"{k}: {v}" for k, v in headers.items() if MARKER in k or MARKER in v or k == "x-injected"]


INJECTIONS = {
    "CR LF in the key": [("Authorization", "Bearer demo-admin-key\r\nX-Injected: " + MARKER)],
    "bare CR in the key": [("Authorization", "Bearer demo-admin-key\rX-Injected: " + MARKER)],
    "bare LF in the key": [("Authorization", "Bearer demo-admin-key\nX-Injected: " + MARKER)],
    "NUL in the key": [("Authorization", "Bearer demo-admin-key\x00" + MARKER)],
    "obs-fold continuation": [("Authorization", "Bearer"), (" demo-admin-key", MARKER)],
    "CR LF in a request id": [("Authorization", "Bearer demo-admin-key"),
                              ("X-Request-ID", "r1\r\nX-Injected: " + MARKER)],
    "encoded CR LF in a request id": [("Authorization", "Bearer demo-admin-key"),
                                      ("X-Request-ID", "r1%0d%0aX-Injected:%20" + MARKER)],
    "bytes above ASCII in the key": [("Authorization", "Bearer \xff\xfe" + MARKER)],
    "two Authorization headers": [("Authorization", "Bearer not-a-key"), ("Authorization", "Bearer demo-admin-key")],
    "1,000 headers": [("Authorization", "Bearer demo-admin-key")] + [(f"X-H{i}", MARKER) for i in range(1000)],
    "a header of 1 MiB": [("Authorization", "Bearer demo-admin-key"), ("X-Big", "a" * (1 << 20))],
}
REFLECTED = ("X-Request-ID", "X-Correlation-ID", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
             "Forwarded", "Origin", "Referer", "User-Agent", "Traceparent", "X-Amzn-Trace-Id", "Cookie")


def test_control_characters_in_headers_are_refused_and_never_reflected(secure_server, cases):
    with cases.of("header_injection") as check:
        for path in ("/v1/models", "/v1/recommend", "/v1/audiences", "/console/login", "/livez"):
            method = "POST" if path in ("/v1/recommend", "/v1/audiences") else "GET"
            for label, headers in INJECTIONS.items():
                body = b'{"k": 3}' if method == "POST" else b""
                items = [*headers, ("Content-Type", "application/json")] if body else headers
                status, answer, payload = raw_request(secure_server.url, method, path, items, body)
                check(status is not None and status < 500 and not _reflected(answer)
                      and MARKER.encode() not in payload,
                      f"{method} {path} with {label}: {status} {_reflected(answer)} {payload[:120]!r}")
                if path.startswith("/v1/") and label in ("bare CR in the key", "NUL in the key", "bytes above ASCII in the key"):
                    check(status in (400, 401), f"{method} {path} with {label}: {status}, expected 400 or 401")


def test_request_headers_are_never_reflected_on_any_route(secure_server, cases):
    with cases.of("header_injection") as check:
        for path in sorted(ROUTE_ROLES):
            for auth in ("Bearer not-a-" + MARKER, "Bearer demo-admin-key"):
                headers = [("Authorization", auth)] + [(name, f"{MARKER}-{i}") for i, name in enumerate(REFLECTED)]
                status, answer, payload = raw_request(secure_server.url, "GET", path, headers)
                leaked = _reflected(answer) + ([f"body echoes {MARKER}"] if auth.startswith("Bearer not") and
                                               MARKER.encode() in payload else [])
                check(status is not None and status < 500 and not leaked, f"GET {path} ({auth[:16]}): {status} {leaked}")


def test_the_console_login_redirect_stays_in_the_console(secure_server, cases):
    """``next`` after the login: only a console path; CR/LF and other hosts never reach ``Location``."""
    from tests.security.test_role_matrix import _console_client

    targets = ["https://evil.example/", "//evil.example/console/", "/console//evil.example", "/\\evil.example",
               "/console/\\evil.example", "/console/models\r\nSet-Cookie: x=" + MARKER,
               "/console/models%0d%0aSet-Cookie:%20x=" + MARKER, "/console/../v1/models", "/console/%2e%2e/v1/models",
               "javascript:alert(1)",
               "/console/models\x00" + MARKER, "/console/models?x=" + MARKER + "\n"]
    with cases.of("header_injection") as check:
        for target in targets:
            client = _console_client(secure_server.url)
            try:
                page = client.http.get("/console/login")
                token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                answer = client.http.post("/console/login", data={"csrf": token, "key": "demo-admin-key",
                                                                  "next": target})
                location = answer.headers.get("location", "")
                cookies = answer.headers.get_list("set-cookie")
                check(answer.status_code == 303 and location.startswith("/console/") and "//" not in location
                      and "\r" not in location and "\n" not in location and "evil" not in location
                      and ".." not in location and not any(MARKER in c for c in cookies),
                      f"next={target!r}: {answer.status_code} Location {location!r}")
            finally:
                client.close()
