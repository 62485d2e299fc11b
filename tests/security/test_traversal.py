"""Path traversal in every parameter that names a file: ``../`` and absolute paths are refused or confined.

The service and the console take file *names* in four places, each checked against a list it owns: the console's
model plots (``/console/models/plot?path=``: only the plots the champion's run logged), its examples (the
``example`` field of the experiment, route-plan and allocation forms: only ``serving/console/examples``), its
static assets (``/console/static/``, Starlette's ``StaticFiles``) and BentoML's (``/static_content/``); task ids
are looked up, never joined to a path. Uploaded files are read in memory (their file name is never used). The CLI
takes key ids that are looked up in the store. Output paths the CLI writes (``-o``, ``--plot``, reports) are the
operator's choice on their own machine, and are not confined.
"""

from __future__ import annotations

import urllib.parse

from tests.security.test_headers import raw_request

PAYLOADS = ["../../../../../../etc/passwd", "/etc/passwd", "..%2f..%2f..%2f..%2fetc%2fpasswd",
            "%2e%2e/%2e%2e/%2e%2e/etc/passwd", "....//....//etc/passwd", "..\\..\\..\\etc\\passwd",
            "plots/../../../../etc/passwd", "file:///etc/passwd", "../keys.json", "../../keys.json",
            "../serving/console_secret", "experiment_../../../../etc/passwd", "/proc/self/environ",
            "examples/../app.py", "%00../../etc/passwd", "..", "."]


def _secrets(home) -> list[bytes]:
    """Byte strings that must never appear in an answer: system files and the data home's secrets."""
    found = [b"root:x:0:0", b"root:*:0:0", b"SHOPML_DATA_HOME="]
    for relative in ("serving/console_secret", "keys.json"):
        path = home / relative
        if path.is_file():
            text = path.read_bytes()
            found.append(text.strip()[:64] if relative != "keys.json" else b'"sha256"')
    return found


def _leaks(payload: bytes, home) -> list[str]:
    return [s[:20].decode("latin-1") for s in _secrets(home) if s and s in payload]


def test_console_file_parameters(secure_server, cases):
    from tests.security.test_role_matrix import _console_client

    client = _console_client(secure_server.url)
    home = secure_server.home
    try:
        assert client.login("demo-admin-key").status_code == 303
        csrf = client.csrf()
        with cases.of("path_traversal") as check:
            for payload in PAYLOADS:
                for model in ("churn", "../churn", "recommender"):
                    query = urllib.parse.urlencode({"model": model, "path": payload})
                    answer = client.get(f"/console/models/plot?{query}")
                    check(answer.status_code == 404 and answer.headers["content-type"].startswith("application/json")
                          and not _leaks(answer.content, home),
                          f"plot path={payload!r} model={model!r}: {answer.status_code}")
                for action, field in (("experiments/evaluate", "example"), ("logistics/plan", "example"),
                                      ("logistics/allocate", "example")):
                    answer = client.http.post(f"/console/{action}", data={"csrf": csrf, field: payload},
                                              files={"unused": ("x", b"")})
                    check(answer.status_code == 200 and "not found" in answer.text and not _leaks(answer.content, home),
                          f"{action} example={payload!r}: {answer.status_code}")
            marker = secure_server.home.parent / "sec-uploaded.json"
            for name in (f"../../../../../..{marker}", str(marker), "..\\..\\sec-uploaded.json"):
                answer = client.http.post("/console/experiments/evaluate", data={"csrf": csrf},
                                          files={"spec_file": (name, b'{"name": "x"}', "application/json")})
                check(answer.status_code == 200 and not marker.exists(),
                      f"an upload named {name!r}: {answer.status_code}, written: {marker.exists()}")
    finally:
        client.close()


def test_static_and_task_paths(secure_server, cases):
    home = secure_server.home
    with cases.of("path_traversal") as check:
        for prefix in ("/console/static/", "/static_content/"):
            for payload in PAYLOADS + ["../app.py", "..%2fapp.py", "%2e%2e%2fapp.py", "..%5capp.py",
                                       "../../../../keys.json", "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"]:
                status, headers, body = raw_request(secure_server.url, "GET", prefix + payload, {})
                check(status in (400, 404, 405) and not _leaks(body, home) and b"def create_console_app" not in body,
                      f"GET {prefix}{payload}: {status} {body[:80]!r}")
        for payload in PAYLOADS:
            for op in ("status", "get"):
                query = urllib.parse.urlencode({"task_id": payload})
                status, _, body = raw_request(secure_server.url, "GET", f"/v1/routes/plan-task/{op}?{query}",
                                              {"Authorization": "Bearer demo-logistics-key"})
                check(status in (400, 404) and not _leaks(body, home), f"task {op} task_id={payload!r}: {status}")


def test_cli_key_ids_are_looked_up_not_joined(monkeypatch, capsys, settings, cases):
    from serving.keys import KeyStore
    from tests.cli.test_cli_keys import _shopml

    store = KeyStore(settings)
    store.create(["marketing"], actor="cli:t")
    before = store.path.read_bytes()
    with cases.of("path_traversal") as check:
        for payload in PAYLOADS[:8]:
            for command in (("keys", "revoke", payload), ("keys", "rotate", payload)):
                code, out, err = _shopml(monkeypatch, capsys, settings, *command)
                check(code != 0 and "no key" in (out + err) and store.path.read_bytes() == before,
                      f"shopml {' '.join(command)}: exit {code} {(out + err)[-120:]!r}")
