"""How a client's mistake becomes a 4xx answer that names the field, and nothing a client sends becomes a 5xx.

Status codes: 400 for an invalid body (pydantic errors or a :class:`~shopml.errors.ShopmlError` from a model
package, which names the item and the fix), 401 / 403 for keys and roles, 404 for unknown paths or tasks,
413 for bodies above the size limit, 415 for a body that is not JSON, and 503 when a model the endpoint needs is
not loaded (:class:`~shopml.errors.NotTrainedError`). Every error body is ``{"error": message, "detail": [...]}``.
"""

from __future__ import annotations

import logging
from typing import Any

from shopml.errors import NotTrainedError, ShopmlError

logger = logging.getLogger(__name__)

MAX_DETAILS = 20


class ServingError(ShopmlError):
    """An error with an HTTP status, raised by the serving layer itself."""

    status = 400

    def __init__(self, message: str, status: int | None = None, detail: list[dict[str, Any]] | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.detail = detail or []


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
    if isinstance(exc, ShopmlError):
        return 400, {"error": str(exc), "detail": []}
    logger.exception("unexpected error while answering a request")
    return 500, {"error": "internal error; see the service log", "detail": []}


def error_response(exc: BaseException):
    """A Starlette JSON response for ``exc`` (see :func:`describe`)."""
    from starlette.responses import JSONResponse

    status, body = describe(exc)
    return JSONResponse(body, status_code=status)


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
