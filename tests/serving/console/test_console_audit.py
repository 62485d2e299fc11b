"""The console in the audit trail and with managed keys (the app without BentoML): logins that succeed or fail
are recorded with the key id only, exports with their size and filter; a revoked key can neither log in nor keep
its session."""

from __future__ import annotations

import re
import time

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from serving.console import create_console_app
from serving.keys import KeyStore
from shopml.audit import AuditLog
from tests.serving.console.test_missing import EmptyRuntime


class CsvRuntime(EmptyRuntime):
    """A runtime whose audience answer is a fixed three-customer CSV."""

    def audience(self, request):
        assert request.format == "csv"
        return "customer_id,segment\nA,at_risk\nB,at_risk\nC,at_risk\n"


def _login(client: TestClient, key: str):
    page = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/console/login", data={"csrf": token, "key": key}, follow_redirects=False)


def test_logins_and_exports_are_recorded_and_revocation_ends_the_session(settings):
    store = KeyStore(settings)
    key, secret = store.create(["marketing"], name="crm", actor="cli:t")
    app = Starlette(routes=[Mount("/console", create_console_app(lambda: CsvRuntime(settings), settings=settings))])
    trail = AuditLog.of(settings)
    with TestClient(app, base_url="http://testserver") as client:
        assert _login(client, "not-a-key").status_code == 200  # the form again, with the problem
        assert _login(client, secret).status_code == 303
        page = client.get("/console/customers")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        export = client.post("/console/customers/export", data={"csrf": csrf, "segment": "at_risk", "min_value": "5"})
        assert export.status_code == 200 and export.text.startswith("customer_id")

        store.revoke(key.id, actor="cli:t")
        time.sleep(1.1)  # the console looks at the key store at most once a second
        ended = client.post("/console/customers/export", data={"csrf": csrf, "segment": "at_risk"})
        assert ended.status_code == 401 and "(ended session)" in ended.json()["error"]
        assert "was revoked or has expired" in client.get("/console/customers").text  # to the login form
        again = _login(client, secret)
        assert again.status_code == 200 and "may no longer be used" in again.text

    records = [(r["actor"], r["action"], r["details"]) for r in trail.records() if r["action"] != "keys.create"]
    actions = [(actor, action) for actor, action, _ in records]
    assert actions == [("unknown", "console.login_failed"), (key.id, "console.login"), (key.id, "audience.export"),
                       ("cli:t", "keys.revoke"), (key.id, "console.login_failed")]
    export_details = records[2][2]
    assert export_details["rows"] == 3 and export_details["via"] == "console"
    assert export_details["filter"] == {"segments": ["at_risk"], "min_value": 5.0}
    assert secret not in trail.path.read_text() and "not-a-key" not in trail.path.read_text()
    assert records[4][2]["reason"].startswith(f"API key {key.id} was revoked")
    assert trail.verify().ok
