"""Limits on one request, in one place, so that the schemas, the docs and the tests agree.

Each bound keeps a single request cheap enough to answer within its latency budget; a client that needs more
asks several times (paging) or, for route plans, submits a task.
"""

import json

MAX_K = 100
"""Most recommendations or similar items per request."""

MAX_EXCLUDE = 500
"""Most SKUs a client may exclude from one recommendation request."""

MAX_ID_LENGTH = 200
"""Longest customer id, SKU, experiment or unit id."""

MAX_SCORE_CUSTOMERS = 1000
"""Most customer ids scored in one request."""

MAX_AUDIENCE_PAGE = 1000
"""Largest page of an audience listing (a file download may hold up to ``MAX_AUDIENCE_FILE`` rows)."""

MAX_AUDIENCE_FILE = 100_000

MAX_FORECAST_SKUS = 500
MAX_FORECAST_REGIONS = 100
MAX_FORECAST_HORIZON = 104

MAX_SYNC_STOPS = 100
"""Route plans with more stops than this must go through the task endpoint (submit, then poll)."""

MAX_STOPS = 2000
MAX_VEHICLES = 200
MAX_SYNC_TIME_LIMIT_S = 30.0
"""Longest solver time a synchronous route request may ask for; tasks may ask for ``MAX_TASK_TIME_LIMIT_S``."""

MAX_TASK_TIME_LIMIT_S = 600.0

MAX_ALLOCATION_ROWS = 20_000
"""Most rows in any one table of an allocation request."""


class BodyLimitMiddleware:
    """ASGI middleware: 413 for a body above ``max_bytes`` (declared by Content-Length or streamed)."""

    def __init__(self, app, max_bytes: int = 1_048_576):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await _too_large(send, 400, "Content-Length is not a number")
                if declared > self.max_bytes:
                    return await _too_large(send, 413, f"request body of {declared} bytes exceeds {self.max_bytes}")
                return await self.app(scope, receive, send)
        # No Content-Length (chunked upload): read up to the limit here, then replay the body to the app.
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                return await _too_large(send, 413, f"request body exceeds {self.max_bytes} bytes")
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(send, status: int, message: str) -> None:
    body = json.dumps({"error": message, "detail": []}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
