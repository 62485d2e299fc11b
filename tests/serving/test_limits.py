"""Request size limit: declared and streamed bodies above the limit get 413 before the endpoint runs."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from serving.limits import BodyLimitMiddleware


def _client(limit: int) -> tuple[TestClient, list[int]]:
    seen: list[int] = []

    async def echo(request):
        body = await request.body()
        seen.append(len(body))
        return JSONResponse({"bytes": len(body)})

    app = BodyLimitMiddleware(Starlette(routes=[Route("/x", echo, methods=["POST"])]), max_bytes=limit)
    return TestClient(app), seen


def test_small_body_passes():
    client, seen = _client(1024)
    assert client.post("/x", content=b"a" * 1024).json() == {"bytes": 1024}
    assert seen == [1024]


def test_declared_large_body_is_rejected_unread():
    client, seen = _client(1024)
    response = client.post("/x", content=b"a" * 1025)
    assert response.status_code == 413 and "1024" in response.json()["error"]
    assert seen == []


def test_streamed_large_body_is_rejected():
    client, seen = _client(1024)

    def chunks():
        for _ in range(10):
            yield b"b" * 500

    response = client.post("/x", content=chunks())
    assert response.status_code == 413
    assert seen == []
