"""The BentoML service: one process answering the storefront, marketing and logistics.

Start it with ``shopml serve`` (or ``bentoml serve serving.service:Shopml``). Routes:

* hot path: ``POST /v1/recommend``, ``/v1/similar-items``, ``/v1/events``, ``/v1/experiments/assign`` and
  ``/v1/customers/score`` in the fast lane in front of BentoML's middlewares (:mod:`serving.fastlane`);
  ``GET /v1/models``, ``/v1/kpis``, ``POST /v1/admin/reload`` in the mounted Starlette app (:mod:`serving.hot`);
* ``@bentoml.api``: ``/v1/audiences``, ``/v1/experiments/evaluate``, ``/v1/experiments/size``,
  ``/v1/forecast``, ``/v1/routes/plan``, ``/v1/stock/allocate``;
* ``@bentoml.task``: ``/v1/routes/plan-task`` (``/submit``, ``/status``, ``/get`` with ``?task_id=``);
* BentoML's own: ``/livez``, ``/readyz`` (503 until every model and the audience store are loaded),
  ``/metrics`` (Prometheus, plus ``shopml_model_info``), ``/docs.json`` (OpenAPI) and ``/v1/openapi.json``.

Every ``/v1`` route passes :class:`serving.auth.AuthMiddleware` and :class:`serving.limits.RequestGuardMiddleware`.
"""

from __future__ import annotations

import logging
from typing import Any

import bentoml
from starlette.responses import JSONResponse, Response

from serving.auth import AuthMiddleware, caller_id
from serving.console import create_console_app
from serving.errors import ErrorShapeMiddleware, error_response
from serving.fastlane import FastLane, LaneMetrics
from serving.hot import HOT_PATHS, create_hot_app, hot_endpoints
from serving.limits import RequestGuardMiddleware
from serving.readiness import ReadinessMiddleware
from serving.schemas import (
    AudienceRequest,
    ForecastRequest,
    RoutePlanRequest,
    SizeRequest,
    StockAllocateRequest,
)
from serving.shutdown import exit_after_grace_on_sigterm

logger = logging.getLogger(__name__)

_RUNTIME: list[Any] = []


def current_runtime():
    """The runtime of the service instance in this worker process."""
    if not _RUNTIME:
        from serving.errors import ServingError

        raise ServingError("the service is starting; retry shortly", status=503)
    return _RUNTIME[0]


def _config() -> dict[str, Any]:
    """Workers and threads from the shopml settings (read when BentoML imports this module)."""
    from shopml.settings import load_settings

    settings = load_settings()
    return {"workers": settings.serve_workers, "threads": settings.serve_threads}


def _max_body() -> int:
    from shopml.settings import load_settings

    return load_settings().serve_max_body_bytes


def _bentoml_openapi() -> dict:
    return Shopml.openapi_spec.asdict()


hot_app = create_hot_app(current_runtime, _bentoml_openapi)
console_app = create_console_app(current_runtime)  # the operations console (docs/console.md): its own cookie auth
_CONFIG = _config()


@bentoml.service(
    name="shopml",
    workers=_CONFIG["workers"],
    threads=_CONFIG["threads"],
    traffic={"timeout": 900},
    endpoints={"livez": "/livez", "readyz": "/readyz"},
    tracing={"excluded_urls": [p.lstrip("/") for p in HOT_PATHS]},
    logging={"access": {"enabled": True, "skip_paths": [*HOT_PATHS, "/metrics", "/livez", "/readyz"]}},
)
@bentoml.asgi_app(hot_app, path="/")
@bentoml.asgi_app(console_app, path="/console")  # mounted before "/", which would otherwise match /console/...
class Shopml:
    """Loads every champion once at start-up and serves them with the optimizers and the experiment engine."""

    def __init__(self) -> None:
        from serving.errors import quiet_client_errors
        from serving.runtime import ServingRuntime
        from shopml.settings import load_settings

        quiet_client_errors()
        settings = load_settings()
        self.runtime = ServingRuntime(settings)
        self.runtime.start()  # returns at once: the models load in the background (see ServingRuntime.start)
        _RUNTIME[:] = [self.runtime]
        exit_after_grace_on_sigterm(settings.serve_shutdown_seconds)

    @bentoml.on_shutdown
    def _stop(self) -> None:
        self.runtime.stop()

    def __is_ready__(self) -> bool:
        return self.runtime.ready

    def __metrics__(self, content: str) -> str:
        lines = ["# HELP shopml_model_info Model versions served (1 = loaded).", "# TYPE shopml_model_info gauge"]
        for info in self.runtime.models_info().models:
            lines.append(
                f'shopml_model_info{{model="{info.name}",version="{info.version or ""}",'
                f'source="{info.source or ""}"}} {1 if info.loaded else 0}'
            )
        log = self.runtime.predictions
        if log is not None:
            lines += ["# HELP shopml_predictions_logged_total Predictions written to the prediction log.",
                      "# TYPE shopml_predictions_logged_total counter", f"shopml_predictions_logged_total {log.written}",
                      "# HELP shopml_predictions_dropped_total Predictions lost because the log buffer was full.",
                      "# TYPE shopml_predictions_dropped_total counter",
                      f"shopml_predictions_dropped_total {log.dropped}"]
        return content + "\n".join(lines) + "\n" + LANE_METRICS.render()

    # --- marketing ---------------------------------------------------------------------------------------------

    @bentoml.api(route="/v1/audiences")
    def audiences(self, request: AudienceRequest, /, ctx: bentoml.Context) -> dict:
        """Customers matching segment / value / churn filters, highest value first; a page, or CSV."""
        try:
            req = _as(AudienceRequest, request)
            result = self.runtime.audience(req)
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)
        who = caller_id(ctx.request)
        filters = req.model_dump(mode="json", exclude_none=True, exclude={"format", "page", "page_size"})
        if isinstance(result, str):
            self.runtime.audit.record(who, "audience.export", via="api", rows=max(0, result.count("\n") - 1),
                                      filter=filters)
            return Response(result, media_type="text/csv",
                            headers={"Content-Disposition": 'attachment; filename="audience.csv"'})
        self.runtime.audit.tally(who, "audience.page", rows=len(result.customers))
        return Response(result.model_dump_json(), media_type="application/json")

    @bentoml.api(route="/v1/experiments/evaluate")
    def evaluate_experiment(self, spec: dict[str, Any], /) -> dict:
        """Evaluate an experiment spec with per-arm statistics (see docs/experiments.md)."""
        try:
            return JSONResponse(self.runtime.evaluate_experiment(spec))
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)

    @bentoml.api(route="/v1/experiments/size")
    def size_experiment(self, request: SizeRequest, /) -> dict:
        """Units needed to detect an effect, or the effect detectable with ``total_units``."""
        try:
            return JSONResponse(self.runtime.size_experiment(_as(SizeRequest, request)))
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)

    # --- logistics ---------------------------------------------------------------------------------------------

    @bentoml.api(route="/v1/forecast")
    def forecast(self, request: ForecastRequest, /) -> dict:
        """Demand quantiles per SKU and region for the next ``horizon`` periods."""
        try:
            result = self.runtime.forecast(_as(ForecastRequest, request))
            return Response(result.model_dump_json(), media_type="application/json")
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)

    @bentoml.api(route="/v1/routes/plan")
    async def plan_routes(self, request: RoutePlanRequest, /) -> dict:
        """A verified route plan for up to 100 stops within 30 s of solver time; larger plans: the task.

        Runs in the heavy lane (:mod:`serving.heavy`): 429 with ``Retry-After`` when the lane is full.
        """
        try:
            future = self.runtime.submit_route_plan(_as(RoutePlanRequest, request))
            return JSONResponse(await self.runtime.heavy.awaited(future))
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)

    @bentoml.task(route="/v1/routes/plan-task")
    def plan_routes_task(self, request: RoutePlanRequest, /) -> dict:
        """The same plan as a task: ``/submit`` returns a task id; poll ``/status`` and fetch ``/get``.

        The body is validated at submit (:class:`serving.limits.RequestGuardMiddleware`); the task waits for a
        place in the heavy lane rather than being refused.
        """
        try:
            return JSONResponse(self.runtime.plan_routes(_as(RoutePlanRequest, request), task=True))
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)

    @bentoml.api(route="/v1/stock/allocate")
    async def allocate_stock(self, request: StockAllocateRequest, /) -> dict:
        """Stock allocation across warehouses and regions (request: see docs/allocation.md); heavy lane."""
        try:
            future = self.runtime.submit_allocation(_as(StockAllocateRequest, request))
            return JSONResponse(await self.runtime.heavy.awaited(future))
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)


def _as(model, request):
    """BentoML hands the endpoint an instance of a generated subclass; re-validate it as the model itself."""
    if type(request) is model:
        return request
    return model.model_validate(request.model_dump())


def _check_route_task(body: bytes) -> None:
    """A task's body gets every check a synchronous plan's gets, including the routing request's own."""
    from optimization.routing import Options, RouteRequest

    request = RoutePlanRequest.model_validate_json(body)
    RouteRequest(**{**request.model_dump(exclude={"options"}), "options": Options(**request.options.model_dump())})


def _check_json_object(body: bytes) -> None:
    import json

    from serving.errors import ServingError

    if not isinstance(json.loads(body), dict):
        raise ServingError("the body must be a JSON object (an experiment spec; see docs/experiments.md)",
                           detail=[{"field": "body", "message": "expected a JSON object"}])


VALIDATED_BODIES = {
    "/v1/experiments/evaluate": _check_json_object,
    "/v1/audiences": AudienceRequest.model_validate_json,
    "/v1/experiments/size": SizeRequest.model_validate_json,
    "/v1/forecast": ForecastRequest.model_validate_json,
    "/v1/routes/plan": RoutePlanRequest.model_validate_json,
    "/v1/routes/plan-task/submit": _check_route_task,
    "/v1/stock/allocate": StockAllocateRequest.model_validate_json,
}
"""Body check of every ``@bentoml.api`` and task route: the guard runs it before BentoML parses the body, so
that an invalid body gets the service's error shape, and a task is refused at submit, not at ``get``."""


_AUTH: list[AuthMiddleware] = []


def _auth(app) -> AuthMiddleware:
    """The process's one :class:`AuthMiddleware` in front of ``app``: BentoML's stack and the fast lane share its
    key source and rate limiter."""
    if not _AUTH:
        _AUTH.append(AuthMiddleware(app))
        return _AUTH[0]
    return _AUTH[0].sharing(app)


LANE_METRICS = LaneMetrics(HOT_PATHS)


class _ServiceWithFastLane(type(Shopml)):  # type: ignore[misc]
    """BentoML's service class, whose ASGI app is wrapped in the storefront's fast lane (:mod:`serving.fastlane`).

    BentoML builds the worker's app with ``Service.to_asgi`` and offers no hook outside its own middlewares; the
    service object becomes an instance of this subclass (same slots, so same layout) to add the lane.
    """

    __slots__ = ()

    def to_asgi(self, is_main: bool = True):
        hot = _auth(RequestGuardMiddleware(hot_endpoints(current_runtime), max_bytes=_max_body(),
                                           skip_json_check=HOT_PATHS))
        return FastLane(super().to_asgi(is_main), hot, HOT_PATHS, LANE_METRICS)


Shopml.__class__ = _ServiceWithFastLane  # type: ignore[method-assign]
Shopml.add_asgi_middleware(ErrorShapeMiddleware)  # first added is outermost: it shapes every error below it
Shopml.add_asgi_middleware(_auth)
Shopml.add_asgi_middleware(ReadinessMiddleware, runtime=current_runtime)
Shopml.add_asgi_middleware(RequestGuardMiddleware, max_bytes=_max_body(), skip_json_check=(*HOT_PATHS, "/v1/admin/reload"),
                           validated_bodies=VALIDATED_BODIES)
