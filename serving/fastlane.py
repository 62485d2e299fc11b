"""The storefront's fast lane: the hot POST routes answered in front of BentoML's middleware stack.

Why: driving the service's ASGI app in-process (no sockets; ``bench/serving_parts.py``), a ``/v1/recommend``
with events, session blending and rules costs 326 µs of CPU through BentoML's app, 197 µs through the lane and
153 µs in the bare endpoint. The difference is BentoML's own middlewares (Prometheus instruments, OpenTelemetry,
the access log, the timeout middleware's task per request), its context middleware and a router that tries every
route before the ``/`` mount: about 130 µs a request, most of the recommendation's own cost. BentoML has no hook outside its
middlewares, so :mod:`serving.service` wraps the ASGI app BentoML builds in a :class:`FastLane`:

* a POST to one of the hot paths runs the service's :class:`~serving.auth.AuthMiddleware` (the same key source
  and rate limiter as the BentoML stack's, see :meth:`~serving.auth.AuthMiddleware.sharing`), the
  :class:`~serving.limits.RequestGuardMiddleware` and :class:`HotEndpoints`;
* everything else (other routes, other methods, lifespan) goes to BentoML's app unchanged.

What the lane gives up of the skipped layers, and what replaces it: BentoML's request metrics (the lane counts
its own answers and their latency, :class:`LaneMetrics`, rendered on ``/metrics``), tracing and the access log
(the hot routes were excluded from both already), the error-shaping middleware (every answer here is already
``{"error", "detail"}``) and the 900 s request timeout (these routes answer in microseconds).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
"""Upper bounds (seconds) of the lane's latency histogram: sub-millisecond resolution where the routes answer."""


class HotEndpoints:
    """ASGI app of the hot POST routes: one pydantic parse of the body, the runtime call, one serialisation.

    ``handlers`` maps a path to ``(runtime method, request model)``. The runtime call runs on the event loop: it is
    sub-millisecond numpy work, and a thread hop would cost more than it. Errors become the service's error
    answers (:func:`serving.errors.error_response`): 400 naming the field for an invalid body, 503 while a model
    loads.
    """

    def __init__(self, get_runtime: Callable[[], Any], handlers: dict[str, tuple[str, type[BaseModel]]]) -> None:
        self.get_runtime = get_runtime
        self.handlers = handlers

    async def __call__(self, scope, receive, send) -> None:
        method, request_model = self.handlers[scope["path"]]
        try:
            parsed = request_model.model_validate_json(await _body(receive))
            runtime = self.get_runtime()
            result = getattr(runtime, method)(parsed)
            if method == "score_customers":  # counts per key and minute, never the ids
                from serving.auth import caller_id

                runtime.audit.tally(caller_id(scope), "customers.score", customers=len(result.customers),
                                    unknown=len(result.unknown))
            payload = result.__pydantic_serializer__.to_json(result)
        except Exception as exc:  # noqa: BLE001 - mapped to 4xx/503; unexpected ones are logged as 500
            from serving.errors import error_response

            return await error_response(exc)(scope, receive, send)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


async def _body(receive) -> bytes:
    """The whole request body (the request guard in front has bounded its size)."""
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


class LaneMetrics:
    """Answers per route and status, and a latency histogram per route, of this worker's fast lane.

    Plain integers updated on the event loop (one thread), rendered as Prometheus text by :meth:`render`;
    a Prometheus client's labelled metrics would cost several microseconds a request here.
    """

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = tuple(paths)
        self.answers: dict[tuple[str, int], int] = {}
        self.buckets = {path: [0] * (len(LATENCY_BUCKETS) + 1) for path in self.paths}
        self.seconds = dict.fromkeys(self.paths, 0.0)

    def observe(self, path: str, status: int, seconds: float) -> None:
        key = (path, status)
        self.answers[key] = self.answers.get(key, 0) + 1
        self.buckets[path][bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.seconds[path] += seconds

    def render(self) -> str:
        lines = ["# HELP shopml_hot_requests_total Answers of the storefront's hot routes (this worker).",
                 "# TYPE shopml_hot_requests_total counter"]
        lines += [f'shopml_hot_requests_total{{route="{path}",status="{status}"}} {n}'
                  for (path, status), n in sorted(self.answers.items())]
        lines += ["# HELP shopml_hot_request_seconds Time to answer a hot route, in the service (this worker).",
                  "# TYPE shopml_hot_request_seconds histogram"]
        for path in self.paths:
            counts = self.buckets[path]
            running = 0
            for bound, n in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
                running += n
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f'shopml_hot_request_seconds_bucket{{route="{path}",le="{le}"}} {running}')
            lines.append(f'shopml_hot_request_seconds_sum{{route="{path}"}} {self.seconds[path]:.6f}')
            lines.append(f'shopml_hot_request_seconds_count{{route="{path}"}} {running}')
        return "\n".join(lines) + "\n"


class FastLane:
    """ASGI app: POSTs to ``paths`` go to ``hot``, everything else to ``app`` (BentoML's)."""

    def __init__(self, app, hot, paths: Iterable[str], metrics: LaneMetrics | None = None) -> None:
        self.app = app
        self.hot = hot
        self.paths = frozenset(paths)
        self.metrics = metrics if metrics is not None else LaneMetrics(sorted(self.paths))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def counted(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.hot(scope, receive, counted)
        finally:
            self.metrics.observe(scope["path"], status, time.perf_counter() - started)
