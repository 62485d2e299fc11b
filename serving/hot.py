"""The storefront's hot path: a plain Starlette app mounted inside the BentoML service.

Why not ``@bentoml.api`` for these routes: measured here, a trivial ``@bentoml.api`` endpoint has a p99 of
100-280 ms while the same work in a mounted Starlette app is a few milliseconds at the median. Two causes, both
found by timing the garbage collector inside the BentoML worker (``gc.callbacks``):

* every request through BentoML's OpenTelemetry middleware creates a *recording* span (its sampler records even
  at a sample rate of 0); the span and its context stay reachable from uvicorn's cancelled keep-alive timers for
  about 5 s, so 100k+ container objects are alive at any time and each full (generation 2) collection scans
  them: 25-165 ms pauses that stall every request in flight;
* the worker imports a large object graph (BentoML, pydantic, OpenTelemetry, the models) that every full
  collection scans again.

The service therefore excludes the hot routes from tracing (``tracing.excluded_urls``) and from the access log,
freezes the start-up object graph (``gc.freeze()`` after the models load), and answers these routes with
:class:`serving.fastlane.HotEndpoints`: one pydantic ``model_validate_json`` of the body, the model call on the
event loop (sub-millisecond numpy work, so no thread hop), one serialisation. Validation errors become 400
answers naming the field. In the running service the hot POST routes are answered by the fast lane in front of
BentoML's middlewares (:mod:`serving.fastlane`); the same endpoints are mounted here for the app's own users
(tests, and any server that mounts this app without the lane).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel

from serving.auth import caller_id
from serving.errors import error_response
from serving.fastlane import HotEndpoints
from serving.schemas import (
    AssignRequest,
    AssignResponse,
    CustomerScoreRequest,
    CustomerScoreResponse,
    EventsRequest,
    EventsResponse,
    ModelsResponse,
    RecommendRequest,
    RecommendResponse,
    SimilarItemsRequest,
    SimilarItemsResponse,
)

logger = logging.getLogger(__name__)

HOT_ROUTES: tuple[tuple[str, str, type[BaseModel], type[BaseModel], str], ...] = (
    ("/v1/recommend", "recommend", RecommendRequest, RecommendResponse, "Top-k recommendations for a customer."),
    ("/v1/similar-items", "similar_items", SimilarItemsRequest, SimilarItemsResponse, "Items bought together."),
    ("/v1/events", "record_events", EventsRequest, EventsResponse,
     "Storefront events (view, add_to_cart, purchase) that shape the session's recommendations."),
    ("/v1/experiments/assign", "assign", AssignRequest, AssignResponse, "Variant of a unit in an experiment."),
    ("/v1/customers/score", "score_customers", CustomerScoreRequest, CustomerScoreResponse,
     "Churn probability, predicted value, P(alive) and segment per customer id."),
)
"""(path, runtime method, request model, response model, summary) of every hot POST route."""

HOT_PATHS = tuple(path for path, *_ in HOT_ROUTES)


def hot_endpoints(get_runtime: Callable[[], object]) -> HotEndpoints:
    """The ASGI app answering every hot POST route (mounted below, and in front of BentoML by the fast lane)."""
    return HotEndpoints(get_runtime, {path: (method, req) for path, method, req, _, _ in HOT_ROUTES})


def create_hot_app(get_runtime: Callable[[], object], base_openapi: Callable[[], dict] | None = None):
    """The Starlette app of the hot routes plus ``GET /v1/models``, ``POST /v1/admin/reload`` and the OpenAPI.

    ``base_openapi`` returns the BentoML service's own OpenAPI document; ``/v1/openapi.json`` merges it with
    the hot routes into one OpenAPI 3.1 document of the whole service.
    """
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    async def models(request):
        try:
            return Response(get_runtime().models_info().model_dump_json(), media_type="application/json")
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)

    async def kpis(request):
        import anyio.to_thread

        try:
            params = request.query_params
            unknown = sorted(set(params) - {"as_of", "freq", "by"})
            if unknown:
                from serving.errors import ServingError

                raise ServingError(f"unknown query parameter(s) {', '.join(unknown)}; use as_of, freq, by",
                                   detail=[{"field": name, "message": "unknown parameter"} for name in unknown])
            summary = await anyio.to_thread.run_sync(
                lambda: get_runtime().kpis(params.get("as_of"), params.get("freq", "week"), params.get("by")))
            return JSONResponse(summary)
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)

    async def reload(request):
        import gc

        import anyio.to_thread

        try:
            runtime = get_runtime()
            finished, body = await anyio.to_thread.run_sync(runtime.reload)
            runtime.audit.record(caller_id(request), "service.reload", finished=finished,
                                 reloaded=body.get("reloaded"), ready=body.get("ready"))
            gc.freeze()
            return JSONResponse(body, status_code=200 if finished else 202)
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)

    async def console_home(request):
        """``/console`` without its slash: the console is mounted at ``/console/``, where this sends a browser."""
        return RedirectResponse("/console/", status_code=307)

    async def openapi(request):
        try:
            return JSONResponse(hot_openapi(base_openapi() if base_openapi else None))
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)

    endpoints = hot_endpoints(get_runtime)
    routes = [Route(path, endpoints, methods=["POST"]) for path in HOT_PATHS]
    routes += [
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/kpis", kpis, methods=["GET"]),
        Route("/v1/admin/reload", reload, methods=["POST"]),
        Route("/v1/openapi.json", openapi, methods=["GET"]),
        Route("/console", console_home, methods=["GET"]),
    ]
    return Starlette(routes=routes)


def hot_openapi(base: dict | None = None) -> dict:
    """OpenAPI 3.1 document of the mounted routes, merged into ``base`` (BentoML's document) when given.

    BentoML labels its document OpenAPI 3.0.2 but embeds pydantic's JSON Schema 2020-12 (numeric
    ``exclusiveMinimum``, ``type: null``), which is OpenAPI 3.1; the merged document says 3.1 so that
    validators and fuzzers read those constraints as written.
    """
    from pydantic.json_schema import models_json_schema

    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]]
    models = [(req, "validation") for *_, req, _, _ in HOT_ROUTES]
    models += [(resp, "serialization") for *_, resp, _ in HOT_ROUTES]
    models.append((ModelsResponse, "serialization"))
    keys, schema = models_json_schema(models, ref_template="#/components/schemas/{model}")
    error = {"description": "client error", "content": {"application/json": {"schema": {"type": "object"}}}}
    paths: dict = {}
    for path, _, req, resp, summary in HOT_ROUTES:
        paths[path] = {
            "post": {
                "summary": summary,
                "security": [{"bearer": []}],
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": keys[(req, "validation")]}}},
                "responses": {
                    "200": {"description": "OK",
                            "content": {"application/json": {"schema": keys[(resp, "serialization")]}}},
                    **{code: error for code in ("400", "401", "403", "413", "503")},
                },
            }
        }
    paths["/v1/models"] = {
        "get": {
            "summary": "Model versions being served and where they came from.",
            "security": [{"bearer": []}],
            "responses": {"200": {"description": "OK", "content": {
                "application/json": {"schema": keys[(ModelsResponse, "serialization")]}}}, "401": error},
        }
    }
    paths["/v1/kpis"] = {
        "get": {
            "summary": "Shop KPIs as of a date, with alerts (docs/kpis.md).",
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
                {"name": "freq", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["day", "week", "month"]}},
                {"name": "by", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["country", "category"]}},
            ],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                          **{code: error for code in ("400", "401", "403", "503")}},
        }
    }
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "shopml service", "version": "1"},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
    if base:
        doc["info"] = base.get("info", doc["info"])
        doc["paths"].update(base.get("paths", {}))
        doc["components"]["schemas"].update(base.get("components", {}).get("schemas", {}))
        if "tags" in base:
            doc["tags"] = base["tags"]
    doc["paths"].update(paths)
    doc["components"]["schemas"].update(schema.get("$defs", {}))
    return doc
