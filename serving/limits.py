"""Limits on one request, in one place, so that the schemas, the docs and the tests agree.

Each bound keeps a single request cheap enough to answer within its latency budget; a client that needs more
asks several times (paging) or, for route plans, submits a task.
"""

import json
from collections.abc import Callable

MAX_K = 100
"""Most recommendations or similar items per request."""

MAX_EXCLUDE = 500
"""Most SKUs a client may exclude from one recommendation request."""

MAX_ID_LENGTH = 200
"""Longest customer id, SKU, experiment or unit id."""

MAX_EVENTS_PER_REQUEST = 100
"""Most storefront events in one ``POST /v1/events`` (a client batches what happened since its last call)."""

MAX_EVENT_AGE_S = 7 * 86_400
"""Oldest event time accepted (seconds before now): a client that was offline may send a week late."""

MAX_EVENT_SKEW_S = 300
"""Latest event time accepted (seconds after now): clock skew of the client."""

MAX_FILTER_CATEGORIES = 50
"""Most categories a recommendation request may restrict itself to."""

MAX_PRICE = 1e9
"""Largest price a request may filter on."""

MAX_SCORE_CUSTOMERS = 1000
"""Most customer ids scored in one request."""

MAX_AUDIENCE_PAGE = 1000
"""Largest page of an audience listing (a file download may hold up to ``MAX_AUDIENCE_FILE`` rows)."""

MAX_AUDIENCE_FILE = 100_000

MAX_CONCURRENT_EXPORTS = 2
"""Audience files written at once; a third export is answered 429 so that exports cannot starve the pages."""

MAX_FORECAST_SKUS = 500
MAX_FORECAST_REGIONS = 100
MAX_FORECAST_HORIZON = 104
MAX_FORECAST_ROWS = 50_000

MAX_SYNC_STOPS = 100
"""Route plans with more stops than this must go through the task endpoint (submit, then poll)."""

MAX_STOPS = 2000
MAX_VEHICLES = 200
MAX_SYNC_TIME_LIMIT_S = 30.0
"""Longest solver time a synchronous route request may ask for; tasks may ask for ``MAX_TASK_TIME_LIMIT_S``."""

MAX_TASK_TIME_LIMIT_S = 600.0

MAX_SYNC_ALLOCATION_TIME_S = 60.0
"""Longest solver time an allocation request may ask for (the allocation default is 60 s)."""

MAX_ALLOCATION_ROWS = 20_000
"""Most rows in any one table of an allocation request."""


class RequestGuardMiddleware:
    """ASGI middleware in front of every ``/v1`` POST: size limit, JSON content type, well-formed JSON.

    * a body above ``max_bytes`` (declared by Content-Length, or counted while a chunked body streams) is
      answered 413 before the endpoint runs;
    * a ``Content-Type`` other than ``application/json`` (or none) is answered 415, so BentoML's form and
      multipart parsers never see client bytes they crash on;
    * on the ``@bentoml.api`` routes (``check_json`` paths) a body that is not UTF-8 JSON is answered 400 with
      the position of the error; the hot routes parse with pydantic themselves and skip this second parse;
    * a path in ``validated_bodies`` has its body checked by its function (a pydantic ``model_validate_json``,
      or more) before BentoML sees it, so the answer has the service's error shape and names the field, and a
      task is refused at submit rather than failing at ``get``.
    """

    def __init__(self, app, max_bytes: int = 1_048_576, skip_json_check: tuple[str, ...] = (),
                 validated_bodies: dict[str, Callable[[bytes], object]] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.skip_json_check = frozenset(skip_json_check)
        self.validated_bodies = dict(validated_bodies or {})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT") or not scope["path"].startswith("/v1"):
            return await self.app(scope, receive, send)
        declared = None
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await _reply(send, 400, "Content-Length is not a number")
            elif name == b"content-type":
                content_type = value
        if declared is not None and declared > self.max_bytes:
            return await _reply(send, 413, f"request body of {declared} bytes exceeds {self.max_bytes}")
        media = content_type.split(b";")[0].strip().lower()
        if media not in (b"application/json", b""):
            return await _reply(send, 415, f"Content-Type {media.decode('latin-1')!r}: send application/json")
        check_json = scope["path"] not in self.skip_json_check
        if declared is not None and not check_json:
            return await self.app(scope, receive, send)
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                return await _reply(send, 413, f"request body exceeds {self.max_bytes} bytes")
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if check_json:
            try:
                json.loads(body.decode("utf-8"))
            except UnicodeDecodeError as exc:
                return await _reply(send, 400, f"request body is not UTF-8 (byte {exc.start}); send JSON")
            except json.JSONDecodeError as exc:
                return await _reply(send, 400, f"request body is not valid JSON: {exc.msg} at position {exc.pos}")
            except ValueError as exc:  # an integer longer than Python converts (4,300 digits)
                return await _reply(send, 400, f"request body holds a number that cannot be read: {exc}")
            except RecursionError:
                return await _reply(send, 400, "request body is nested too deeply")
            check = self.validated_bodies.get(scope["path"])
            if check is not None:
                try:
                    check(body)
                except Exception as exc:  # noqa: BLE001 - describe() maps it (and logs a bug as 500)
                    from serving.errors import describe

                    status, answer = describe(exc)
                    return await _reply(send, status, answer["error"], answer["detail"])
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _reply(send, status: int, message: str, detail: list | None = None) -> None:
    body = json.dumps({"error": message, "detail": detail or []}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
