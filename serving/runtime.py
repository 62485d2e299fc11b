"""What the service does per endpoint, independent of BentoML, so it can be called and tested in-process.

:class:`ServingRuntime` owns the settings, the :class:`~serving.models.ModelStore` and the
:class:`~serving.audiences.AudienceStore`; each public method takes a validated request model and returns a
response model (or raises a :class:`~shopml.errors.ShopmlError` that :mod:`serving.errors` turns into a 4xx).
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

from serving import limits
from serving.audiences import AudienceStore, build_audience_store, require
from serving.errors import ServingError
from serving.models import CUSTOMERS, FORECAST, RECOMMENDER, LoadedModel, ModelStore
from serving.schemas import (
    AssignRequest,
    AssignResponse,
    AudienceRequest,
    AudienceResponse,
    CustomerScoreRequest,
    CustomerScoreResponse,
    ForecastRequest,
    ForecastResponse,
    ForecastRow,
    Item,
    ModelInfo,
    ModelsResponse,
    RecommendRequest,
    RecommendResponse,
    RoutePlanRequest,
    SimilarItemsRequest,
    SimilarItemsResponse,
    SizeRequest,
    StockAllocateRequest,
)
from shopml.settings import Settings
from training.contract import ServedModel
from training.customers.predict import CustomerScorer

logger = logging.getLogger(__name__)


class ServingRuntime:
    """The service's state and endpoint logic."""

    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        self.settings = settings
        self.models = store or ModelStore(settings)
        self.audiences: AudienceStore | None = None
        self.audience_error: str | None = None
        self.models.on_change.append(self._model_changed)
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Load every model (and the audience store); start the alias poller when configured."""
        self.models.load_all()
        poll = float(getattr(self.settings, "serve_poll_seconds", 0) or 0)
        if poll > 0 and self._poller is None:
            self._poller = threading.Thread(target=self._poll, args=(poll,), name="shopml-alias-poll", daemon=True)
            self._poller.start()

    def stop(self) -> None:
        self._stop.set()

    def _poll(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                changed = self.models.poll_once()
                if changed:
                    logger.info("reloaded new champions: %s", changed)
            except Exception:  # noqa: BLE001 - polling must never kill the service
                logger.exception("alias poll failed")

    def _model_changed(self, loaded: LoadedModel[ServedModel]) -> None:
        if loaded.name != CUSTOMERS.name or not isinstance(loaded.obj, CustomerScorer):
            return
        try:
            self.audiences = build_audience_store(loaded.obj, self.settings.features_dir, loaded.versions)
            self.audience_error = None
        except Exception as exc:  # noqa: BLE001 - keep the previous store; /readyz reports the problem
            self.audience_error = f"{type(exc).__name__}: {exc}"
            logger.warning("audience store not rebuilt: %s", self.audience_error)

    @property
    def ready(self) -> bool:
        return self.models.ready and self.audiences is not None

    def models_info(self) -> ModelsResponse:
        infos = []
        for spec in self.models.specs:
            loaded = self.models.loaded(spec.name)
            note = loaded.note if loaded else self.models.error(spec.name)
            if spec.name == CUSTOMERS.name and self.audience_error:
                note = f"{note + '; ' if note else ''}audience store: {self.audience_error}"
            infos.append(
                ModelInfo(
                    name=spec.name,
                    loaded=loaded is not None,
                    version=loaded.version if loaded else None,
                    source=loaded.source if loaded else None,
                    loaded_at=loaded.loaded_at if loaded else None,
                    note=note,
                )
            )
        as_of = self.audiences.as_of if self.audiences else None
        return ModelsResponse(models=infos, features_as_of=as_of, ready=self.ready)

    # --- storefront --------------------------------------------------------------------------------------------

    def recommend(self, req: RecommendRequest) -> RecommendResponse:
        loaded = self.models.get(RECOMMENDER)
        model = loaded.obj
        known = req.customer_id is not None and model.knows_customer(req.customer_id)
        recs = model.recommend(
            req.customer_id, k=req.k, exclude=tuple(req.exclude), country=req.country,
            include_purchased=req.include_purchased,
        )
        items = [Item(sku=str(r.sku), score=_finite(r.score), source=str(r.source)) for r in recs]
        return RecommendResponse(customer_id=req.customer_id, known_customer=known, items=items,
                                 model_version=loaded.version)

    def similar_items(self, req: SimilarItemsRequest) -> SimilarItemsResponse:
        loaded = self.models.get(RECOMMENDER)
        model = loaded.obj
        recs = model.similar_items(req.sku, k=req.k, exclude=tuple(req.exclude))
        items = [Item(sku=str(r.sku), score=_finite(r.score), source=str(r.source)) for r in recs]
        return SimilarItemsResponse(sku=req.sku, known_item=bool(model.knows_item(req.sku)), items=items,
                                    model_version=loaded.version)

    def assign(self, req: AssignRequest) -> AssignResponse:
        from experiments import assign

        result = assign(req.spec, req.unit_id)
        return AssignResponse(experiment=req.spec.experiment, unit_id=req.unit_id, variant=result.variant,
                              reason=result.reason, bucket=result.bucket)

    # --- marketing ---------------------------------------------------------------------------------------------

    def score_customers(self, req: CustomerScoreRequest) -> CustomerScoreResponse:
        store = require(self.audiences)
        found, unknown = store.lookup(req.customer_ids)
        return CustomerScoreResponse(as_of=store.as_of, model_versions=store.model_versions,
                                     customers=store.rows(found), unknown=unknown)

    def audience(self, req: AudienceRequest) -> AudienceResponse | str:
        """One page of the audience, or (``format="csv"``) every match as CSV text."""
        store = require(self.audiences)
        positions = store.select(req.segments, req.min_value, req.min_churn_probability,
                                 req.max_churn_probability, req.min_p_alive, req.top_n)
        if req.format == "csv":
            return store.to_csv(positions[: limits.MAX_AUDIENCE_FILE])
        start = (req.page - 1) * req.page_size
        page = positions[start : start + req.page_size]
        return AudienceResponse(as_of=store.as_of, model_versions=store.model_versions, total=int(positions.size),
                                page=req.page, page_size=req.page_size, customers=store.rows(page))

    def evaluate_experiment(self, spec: dict[str, Any]) -> dict[str, Any]:
        from experiments import evaluate

        try:
            return evaluate(spec).to_dict()
        except (ArithmeticError, ValueError) as exc:
            if _is_validation(exc):
                raise
            raise ServingError(f"the experiment cannot be evaluated from these statistics: {exc}") from exc

    def size_experiment(self, req: SizeRequest) -> dict[str, Any]:
        from dataclasses import asdict

        from experiments import PlanRequest, minimum_detectable_effect, plan_sample_size

        plan_request = PlanRequest.model_validate(req.plan)
        try:
            if req.total_units is not None:
                plan = minimum_detectable_effect(req.total_units, plan_request)
            else:
                plan = plan_sample_size(plan_request)
        except (ArithmeticError, ValueError) as exc:
            if _is_validation(exc):
                raise
            raise ServingError(f"no sample size can be planned for this request: {exc}") from exc
        out = {k: (_finite(v) if isinstance(v, float) else v) for k, v in asdict(plan).items()}
        out["summary"] = str(plan)
        return out

    # --- logistics ---------------------------------------------------------------------------------------------

    def forecast(self, req: ForecastRequest) -> ForecastResponse:
        loaded = self.models.get(FORECAST)
        model = loaded.obj
        for q in req.quantiles:
            if not 0 < q < 1:
                raise ServingError(f"quantiles: {q} is not in (0, 1)", detail=[{"field": "quantiles",
                                                                                 "message": "must be in (0, 1)"}])
        quantiles = tuple(sorted(set(req.quantiles)))
        max_horizon = model.max_horizon
        if req.horizon > max_horizon:
            raise ServingError(f"horizon: {req.horizon} exceeds the model's {max_horizon} periods",
                               detail=[{"field": "horizon", "message": f"at most {max_horizon}"}])
        frame = model.forecast(skus=req.skus, regions=req.regions, horizon=req.horizon, quantiles=quantiles)
        if len(frame) > limits.MAX_FORECAST_ROWS:
            raise ServingError(f"the answer would have {len(frame)} rows (at most {limits.MAX_FORECAST_ROWS}); "
                               "name fewer skus or regions, or a shorter horizon",
                               detail=[{"field": "skus", "message": "too many series for one request"}])
        qcols = [c for c in frame.columns if c.startswith("p") and c[1:].replace(".", "").isdigit()]
        rows = [
            ForecastRow(sku=str(r["sku"]), region=str(r["region"]), period_start=str(r["period_start"])[:10],
                        horizon=int(r["horizon"]), quantiles={c: _finite(r[c]) for c in qcols})
            for r in frame.to_dict("records")
        ]
        return ForecastResponse(freq=str(model.freq), model_version=loaded.version, rows=rows)

    def plan_routes(self, req: RoutePlanRequest, task: bool = False) -> dict[str, Any]:
        from optimization.routing import Options, RouteRequest, plan_routes

        if not task:
            if len(req.stops) > limits.MAX_SYNC_STOPS:
                raise ServingError(
                    f"stops: {len(req.stops)} stops exceed {limits.MAX_SYNC_STOPS} for a synchronous plan; "
                    "submit it as a task: POST /v1/routes/plan-task/submit, then poll its status",
                    detail=[{"field": "stops", "message": "too many stops for a synchronous plan"}],
                )
            if req.options.time_limit > limits.MAX_SYNC_TIME_LIMIT_S:
                raise ServingError(
                    f"options.time_limit: {req.options.time_limit} s exceeds {limits.MAX_SYNC_TIME_LIMIT_S} s for a "
                    "synchronous plan; lower it or submit a task",
                    detail=[{"field": "options.time_limit", "message": "too long for a synchronous plan"}],
                )
        body = req.model_dump(exclude={"options"})
        body["options"] = Options(**req.options.model_dump())
        request = RouteRequest(**body)
        plan = plan_routes(request)
        return _json_safe(plan.to_dict())

    def allocate(self, req: StockAllocateRequest) -> dict[str, Any]:
        from optimization.allocation import AllocationRequest, allocate

        if req.options.time_limit_s > limits.MAX_SYNC_ALLOCATION_TIME_S:
            raise ServingError(
                f"options.time_limit_s: {req.options.time_limit_s} s exceeds {limits.MAX_SYNC_ALLOCATION_TIME_S} s",
                detail=[{"field": "options.time_limit_s", "message": "too long for a synchronous request"}],
            )
        request = AllocationRequest(**req.model_dump(exclude={"options"}), options=req.options)
        try:
            plan = allocate(request)
        except (ArithmeticError, ValueError) as exc:
            if _is_validation(exc):
                raise
            raise ServingError(f"the allocation cannot be solved: {exc}") from exc
        return _json_safe(plan.to_dict())


def _is_validation(exc: BaseException) -> bool:
    from pydantic import ValidationError

    return isinstance(exc, ValidationError)


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _json_safe(value: Any) -> Any:
    """Replace NaN and infinities (which JSON cannot carry) by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        try:
            return _json_safe(value.item())
        except (TypeError, ValueError):
            return value
    return value
