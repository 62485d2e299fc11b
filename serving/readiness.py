"""``/readyz`` that says why: the same status codes as BentoML's probe, with the models behind them.

BentoML answers its readiness probe with an empty body. An operator whose service serves a last-good local copy
because the registry is down, or is not ready because a model failed to load, should see that in the probe
itself, so this middleware answers ``GET /readyz`` with the ``/v1/models`` document: 200 when every model and
the audience store are loaded, 503 otherwise (also while the worker is still starting).
"""

from __future__ import annotations

import json
from collections.abc import Callable


class ReadinessMiddleware:
    def __init__(self, app, runtime: Callable[[], object]):
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/readyz" or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        try:
            runtime = self.runtime()
        except Exception:  # noqa: BLE001 - the worker has not finished loading: not ready, and say so
            status, body = 503, json.dumps({"ready": False, "note": "the service is starting"}).encode()
        else:
            info = runtime.models_info()
            status, body = (200 if runtime.ready else 503), info.model_dump_json().encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body if scope["method"] == "GET" else b""})
