"""Fixtures of the console tests: the real service (``server`` from tests/serving/conftest.py), an HTTP client
with a cookie jar that logs in like a browser does, and the system Chromium for Playwright."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.serving.conftest import KEYS

ROLES = tuple(KEYS)
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
"""Where the browser tests write a screenshot of every page (git-ignored; docs/console/ keeps a few)."""


def chromium_path() -> str:
    """The system Chromium (Playwright cannot download its own browser here); fails, never skips, without it."""
    for candidate in (os.environ.get("SHOPML_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                      shutil.which("google-chrome")):
        if candidate:
            return candidate
    pytest.fail("no Chromium for the console's browser tests: install it with `apt-get install -y chromium` "
                "(.ci/run does this in CI) or set SHOPML_CHROMIUM to a Chromium executable", pytrace=False)


class ConsoleClient:
    """An httpx client on the service that keeps the console's cookies and never follows redirects."""

    def __init__(self, url: str):
        import httpx

        self.http = httpx.Client(base_url=url, follow_redirects=False, timeout=120)
        self.last = ""

    def get(self, path: str, **kwargs):
        response = self.http.get(path, **kwargs)
        self.last = response.text
        return response

    def post(self, path: str, data=None, files=None, csrf: bool = True, **kwargs):
        fields = dict(data or {})
        if csrf:
            fields.setdefault("csrf", self.csrf())
        response = self.http.post(path, data=fields, files=files, **kwargs)
        self.last = response.text
        return response

    def csrf(self) -> str:
        """The CSRF token of the session (read from a page every role may open)."""
        page = self.http.get("/console/models").text
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found, "no CSRF token on the Models page"
        return found.group(1)

    def login(self, key: str):
        page = self.http.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        return self.http.post("/console/login", data={"csrf": token, "key": key, "next": ""})

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def console(server):
    """``console(role)``: a client logged in with that role's demo key (None: not logged in)."""
    clients = []

    def make(role: str | None = None) -> ConsoleClient:
        client = ConsoleClient(server.url)
        clients.append(client)
        if role is not None:
            answer = client.login(KEYS[role])
            assert answer.status_code == 303, answer.text[:500]
        return client

    yield make
    for client in clients:
        client.close()
