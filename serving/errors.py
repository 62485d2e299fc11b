"""How a client's mistake becomes a 4xx answer that names the field, and nothing a client sends becomes a 5xx.

Status codes: 400 for an invalid body (pydantic errors or a :class:`~shopml.errors.ShopmlError` from a model
package, which names the item and the fix), 401 / 403 for keys and roles, 404 for unknown paths or tasks,
413 for bodies above the size limit, 415 for a body that is not JSON, 422 for a plan that failed its own
verifier (:class:`~shopml.errors.VerificationError`, with the findings), 429 with ``Retry-After`` when the
solver lane is full, and 503 when a model the endpoint needs is not loaded
(:class:`~shopml.errors.NotTrainedError`) or the registry cannot be reached. Every error body is
``{"error": message, "detail": [{"field": ..., "message": ...}]}``.
"""

from __future__ import annotations

import logging
from typing import Any

from shopml.errors import NotTrainedError, ShopmlError, VerificationError

logger = logging.getLogger(__name__)

MAX_DETAILS = 20


class ServingError(ShopmlError):
    """An error with an HTTP status, raised by the serving layer itself."""

    status = 400

    def __init__(self, message: str, status: int | None = None, detail: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.detail = detail or []
        self.headers = headers or {}


class ModelNotLoadedError(ServingError):
    """The endpoint needs a model that is not loaded (not trained yet, or its loading failed)."""

    status = 503


def validation_details(exc: Any) -> list[dict[str, Any]]:
    """Pydantic errors as ``{"field": "a.b.0", "message": ...}`` without echoing the client's input."""
    details = []
    for err in exc.errors(include_input=False, include_url=False)[:MAX_DETAILS]:
        field = ".".join(str(p) for p in err.get("loc", ())) or "body"
        details.append({"field": field, "message": err.get("msg", "invalid")})
    return details


def describe(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """The status and JSON body for an exception raised while answering a request.

    Unknown exceptions are bugs: they are logged with their traceback and answered with 500 (the fuzz tests
    assert that no input reaches this branch).
    """
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        details = validation_details(exc)
        fields = ", ".join(d["field"] for d in details[:5])
        message = f"invalid request: {exc.error_count()} problem(s) in {fields}: {details[0]['message']}"
        return 400, {"error": message, "detail": details}
    if isinstance(exc, ServingError):
        return exc.status, {"error": str(exc), "detail": exc.detail}
    if isinstance(exc, NotTrainedError):
        return 503, {"error": str(exc), "detail": []}
    if isinstance(exc, VerificationError):
        return 422, {"error": str(exc), "detail": [{"field": "result", "message": f} for f in exc.findings]}
    from training.registry import RegistryUnavailableError

    if isinstance(exc, RegistryUnavailableError):
        return 503, {"error": str(exc), "detail": []}
    if isinstance(exc, ShopmlError):
        return 400, {"error": str(exc), "detail": []}
    logger.exception("unexpected error while answering a request")
    return 500, {"error": "internal error; see the service log", "detail": []}


def error_response(exc: BaseException):
    """A Starlette JSON response for ``exc`` (see :func:`describe`)."""
    from starlette.responses import JSONResponse

    status, body = describe(exc)
    return JSONResponse(body, status_code=status, headers=getattr(exc, "headers", None) or None)


class ClientErrorLogFilter:
    """Logging filter for BentoML's request logger: a client's invalid body is not a server error.

    BentoML logs every pydantic ``ValidationError`` of a request body at ERROR level with a traceback; under a
    fuzzer that is thousands of tracebacks that hide real bugs. This filter turns those records into one INFO
    line naming the path and the number of problems (never the body). Other records pass unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from pydantic import ValidationError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ValidationError):
            record.msg = f"{record.getMessage()}: invalid request body ({exc.error_count()} problem(s)), answered 400"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_client_errors() -> None:
    """Install :class:`ClientErrorLogFilter` on BentoML's HTTP app logger (idempotent)."""
    target = logging.getLogger("bentoml._internal.server.http_app")
    if not any(isinstance(f, ClientErrorLogFilter) for f in target.filters):
        target.addFilter(ClientErrorLogFilter())


class ErrorShapeMiddleware:
    """ASGI middleware that gives every error answer the service's shape, whoever wrote it.

    The service's own code answers ``{"error", "detail"}`` already; BentoML and Starlette answer their 404,
    405 and 500 with plain text (or their own JSON). Any response of status 400 or more whose body is not a
    JSON object with an ``error`` key is rewritten into ``{"error": what happened and what to do, "detail": []}``,
    keeping its status and headers such as ``Retry-After``.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in _PROBES:
            return await self.app(scope, receive, send)
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def shaped_send(message):
            if message["type"] == "http.response.start":
                if message["status"] < 400:
                    held["pass"] = True
                    return await send(message)
                held["start"] = message
                return None
            if message["type"] != "http.response.body" or held.get("pass"):
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return None
            start = held["start"]
            body = _shaped(start["status"], b"".join(chunks), scope)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length",
                                                                                      b"content-type")]
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": start["status"], "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return None

        await self.app(scope, receive, shaped_send)


_PROBES = frozenset({"/livez", "/readyz", "/metrics"})
"""Answered for orchestrators in their own formats (``/readyz`` 503 carries the models document)."""


def _shaped(status: int, body: bytes, scope) -> bytes:
    import json

    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        detail = parsed.get("detail")
        if isinstance(detail, list) and all(_is_item(item) for item in detail):
            return body
        if isinstance(detail, list):  # pydantic's raw errors (BentoML's task route): type, loc, msg, url
            items = [_as_item(item) for item in detail][:MAX_DETAILS]
            error = parsed["error"]
            if items and "validation error for " in error:  # its title names an internal class
                error = (f"invalid request: {len(detail)} problem(s), the first in {items[0]['field'] or 'the body'}: "
                         f"{items[0]['message']}; see /v1/openapi.json for the schema")
            return json.dumps({"error": error, "detail": items}).encode()
        return json.dumps({"error": parsed["error"], "detail": []}).encode()  # BentoML's task errors
    text = body.decode("utf-8", "replace").strip()
    route = f"{scope.get('method', '')} {scope.get('path', '')}"
    if status == 404:
        message = f"no such route or resource: {route}; the routes are listed in /v1/openapi.json"
    elif status == 405:
        message = f"method not allowed: {route}; the routes and their methods are in /v1/openapi.json"
    elif status >= 500:
        logger.error("%s answered %s: %s", route, status, text[:500])
        message = "internal error; see the service log"
    elif "validation error" in text:
        first = text.splitlines()[0] if text else ""
        message = f"invalid request body for {route}: {first}; see /v1/openapi.json for the schema"
    else:
        message = text[:500] or f"request refused with status {status}"
    return json.dumps({"error": message, "detail": []}).encode()


def _is_item(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("field"), str) and isinstance(item.get("message"), str)


def _as_item(item: Any) -> dict[str, str]:
    """A ``{field, message}`` detail from a pydantic error (``loc``, ``msg``) or anything else."""
    if isinstance(item, dict) and "msg" in item:
        loc = item.get("loc")
        parts = loc if isinstance(loc, list | tuple) else []
        return {"field": ".".join(str(part) for part in parts), "message": str(item["msg"])[:500]}
    return {"field": "", "message": str(item)[:500]}
