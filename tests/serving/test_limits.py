"""Request guard: size limit (declared or streamed), JSON content type, well-formed JSON on BentoML routes."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from serving.limits import RequestGuardMiddleware

JSON = {"Content-Type": "application/json"}


def _client(limit: int = 1024) -> tuple[TestClient, list[int]]:
    seen: list[int] = []

    async def echo(request):
        body = await request.body()
        seen.append(len(body))
        return JSONResponse({"bytes": len(body)})

    routes = [Route(p, echo, methods=["POST", "GET"]) for p in ("/v1/hot", "/v1/cold", "/other")]
    app = RequestGuardMiddleware(Starlette(routes=routes), max_bytes=limit, skip_json_check=("/v1/hot",))
    return TestClient(app), seen


@pytest.mark.parametrize("path", ["/v1/hot", "/v1/cold"])
def test_small_json_body_passes(path):
    client, seen = _client()
    body = b'{"a": "' + b"x" * 1000 + b'"}'
    assert client.post(path, content=body, headers=JSON).json() == {"bytes": len(body)}
    assert seen == [len(body)]


def test_declared_large_body_is_rejected_unread():
    client, seen = _client()
    response = client.post("/v1/hot", content=b"a" * 1025, headers=JSON)
    assert response.status_code == 413 and "1024" in response.json()["error"]
    assert seen == []


@pytest.mark.parametrize("path", ["/v1/hot", "/v1/cold"])
def test_streamed_large_body_is_rejected(path):
    client, seen = _client()

    def chunks():
        for _ in range(10):
            yield b"b" * 500

    response = client.post(path, content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert seen == []


@pytest.mark.parametrize("content_type", ["multipart/form-data", "text/plain", "application/x-www-form-urlencoded"])
def test_non_json_content_type_is_415(content_type):
    client, seen = _client()
    response = client.post("/v1/cold", content=b"{}", headers={"Content-Type": content_type})
    assert response.status_code == 415 and "application/json" in response.json()["error"]
    assert seen == []


@pytest.mark.parametrize("body", [b"\x00", b"{", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000])
def test_malformed_json_is_400_on_checked_routes(body):
    client, seen = _client(limit=1_000_000)
    response = client.post("/v1/cold", content=body, headers=JSON)
    assert response.status_code == 400, response.text
    assert seen == []
    assert client.post("/v1/hot", content=body, headers=JSON).status_code == 200  # the hot route parses itself


def test_other_paths_and_gets_pass_untouched():
    client, seen = _client()
    assert client.post("/other", content=b"a" * 2000, headers={"Content-Type": "text/plain"}).status_code == 200
    assert client.get("/v1/cold").status_code == 200
