"""What the service does per endpoint, independent of BentoML, so it can be called and tested in-process.

:class:`ServingRuntime` owns the settings, the :class:`~serving.models.ModelStore` and the
:class:`~serving.audiences.AudienceStore`; each public method takes a validated request model and returns a
response model (or raises a :class:`~shopml.errors.ShopmlError` that :mod:`serving.errors` turns into a 4xx).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from concurrent.futures import Future
from typing import Any

from serving import limits
from serving.audiences import AudienceStore, build_audience_store, require
from serving.errors import ServingError
from serving.events import session_key
from serving.heavy import HeavyLane, allocate_job, plan_routes_job
from serving.models import (
    CUSTOMERS,
    FORECAST,
    RECOMMENDER,
    REGISTRY,
    LoadedModel,
    ModelStore,
    bound_registry_calls,
)
from serving.parquet_log import BufferedParquetLog
from serving.predictions import PredictionLog
from serving.schemas import (
    AssignRequest,
    AssignResponse,
    AudienceRequest,
    AudienceResponse,
    CustomerScoreRequest,
    CustomerScoreResponse,
    EventsRequest,
    EventsResponse,
    ForecastRequest,
    ForecastResponse,
    ForecastRow,
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
from serving.storefront import Storefront
from shopml.settings import Settings
from training.contract import ServedModel

logger = logging.getLogger(__name__)


class ServingRuntime:
    """The service's state and endpoint logic."""

    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        self.settings = settings
        from shopml.audit import BackgroundRecorder

        self.audit = BackgroundRecorder.of(settings)  # exports, scoring counts, reloads (docs/security.md)
        self.models = store or ModelStore(settings)
        self.audiences: AudienceStore | None = None
        self.audience_error: str | None = None
        self.models.on_change.append(self._model_changed)
        self._loader: threading.Thread | None = None
        self._reloading: threading.Thread | None = None
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self.heavy = HeavyLane(settings.serve_heavy_workers, settings.serve_heavy_queue)
        self.predictions: PredictionLog | None = None
        if settings.prediction_log:
            self.predictions = PredictionLog(settings.data_home / "predictions", settings.prediction_log_buffer,
                                             keep_days=settings.prediction_log_days)
        self.storefront = Storefront(settings)
        from shopml.privacy import Edge

        self.edge = Edge(settings)  # callers' customer ids <-> the data home's pseudonyms (docs/security.md)
        self._erased_keys: tuple[int, frozenset[str]] = (0, frozenset())
        for log in (self.predictions, self.storefront.events):
            if log is not None:
                log.forget = functools.partial(self._erased_log_keys, log)  # taken before an erasure: never written
        self.storefront.exposures.forget = self._erased_ids  # its buffer holds the data home's ids
        self._exports = threading.BoundedSemaphore(limits.MAX_CONCURRENT_EXPORTS)
        self._kpi_lock = threading.Lock()
        self._kpi_cache: dict[tuple, dict[str, Any]] = {}
        self._kpi_tables: tuple[float, dict] | None = None

    def _erased_ids(self) -> set[str]:
        """The data home's ids of the customers erased while the service ran (called by the log threads)."""
        self.edge.identities()
        return self.edge.erased

    def _erased_log_keys(self, log: BufferedParquetLog) -> frozenset[str]:
        """``log``'s keys of the customers erased while the service ran (called by its thread; the prediction and
        event logs share one key, so one cache serves both)."""
        self.edge.identities()  # notice an erasure even when no request came since
        erased = self.edge.erased
        if len(erased) != self._erased_keys[0]:
            self._erased_keys = (len(erased), frozenset(str(log.subject(i)) for i in erased))
        return self._erased_keys[1]

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Load the models in the background and return at once, so that liveness never waits for a registry.

        ``ready`` turns true when every model (and the audience store) is loaded; a watcher thread then retries
        the registry every ``serve_retry_seconds`` while any model is served from its local copy, and polls the
        champion aliases every ``serve_poll_seconds`` when that is set.
        """
        if self._loader is not None:
            return
        bound_registry_calls(self.settings)
        self.heavy.warm_up()
        if self.predictions is not None:
            self.predictions.start()
        self.storefront.start()
        self._loader = threading.Thread(target=self._start, name="shopml-start", daemon=True)
        self._loader.start()

    def _start(self) -> None:
        import gc

        versions = self.models.load_all()
        logger.info("models at start: %s", versions)
        gc.collect()
        gc.freeze()  # the start-up object graph (libraries, models) is never scanned again; see serving.hot
        self._watch()

    def stop(self) -> None:
        self._stop.set()
        self.heavy.shutdown()
        self.audit.flush(timeout=2.0)
        if self.predictions is not None:
            self.predictions.stop()
        self.storefront.stop()

    def _watch(self) -> None:
        poll = float(self.settings.serve_poll_seconds or 0)
        retry = float(self.settings.serve_retry_seconds)
        tick = min(retry, poll) if poll > 0 else retry
        last_poll = time.monotonic()
        while not self._stop.wait(tick):
            try:
                degraded = self.models.degraded
                if degraded:
                    for name in degraded:
                        loaded = self.models.load(name)
                        if loaded is not None and loaded.source == REGISTRY:
                            logger.info("model %s: the registry is back; serving version %s", name, loaded.version)
                if poll > 0 and time.monotonic() - last_poll >= poll:
                    last_poll = time.monotonic()
                    changed = self.models.poll_once()
                    if changed:
                        logger.info("reloaded new champions: %s", changed)
            except Exception:  # noqa: BLE001 - the watcher must never die
                logger.exception("registry watch failed")

    def reload(self) -> tuple[bool, dict[str, Any]]:
        """Reload every model, waiting at most ``serve_load_wait_seconds`` + 10 s; never two reloads at once.

        Returns (finished, body): the version or failure per model when it finished, else a note that it goes
        on in the background (``GET /v1/models`` shows the outcome).
        """
        with self._reload_lock:
            if self._reloading is not None and self._reloading.is_alive():
                return False, {"note": "a reload is already running; see GET /v1/models", "ready": self.ready}
            result: dict[str, str] = {}
            self._reloading = threading.Thread(target=lambda: result.update(self.models.reload()),
                                               name="shopml-reload", daemon=True)
            self._reloading.start()
        self._reloading.join(self.settings.serve_load_wait_seconds + 10)
        if self._reloading.is_alive():
            return False, {"note": "the reload goes on in the background; see GET /v1/models", "ready": self.ready}
        return True, {"reloaded": result, "ready": self.ready}

    def _model_changed(self, loaded: LoadedModel[ServedModel]) -> None:
        if loaded.name == RECOMMENDER.name:
            try:
                self.storefront.model_loaded(loaded.version, loaded.obj)  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 - the plain lists are still served; the watcher retries
                logger.exception("storefront state not built for recommender %s", loaded.version)
            return
        if loaded.name != CUSTOMERS.name:
            return
        try:
            self.audiences = build_audience_store(loaded.obj, self.settings.features_dir, loaded.versions,
                                                  self.edge)
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
            if spec.name == RECOMMENDER.name and self.storefront.note:
                note = f"{note + '; ' if note else ''}{self.storefront.note}"
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
        inner = self.edge.inward(req.customer_id)  # the data home's id of the caller's customer
        customer = inner if self.edge.present(inner) else None  # erased: a guest to the models
        # the A/B test's variant of the unit (the data home's customer id, else the session; serving.experiment)
        choice = self.storefront.experiment.choose(customer, req.session_id)
        model, version = choice.arm.serving(loaded.obj, loaded.version) if choice else (loaded.obj, loaded.version)
        known = customer is not None and model.knows_customer(customer)
        state = self.storefront.live_for(version)
        session_events, applied = 0, []
        if state is None:  # for the moment between a model load and its live state: the plain list
            if req.categories is not None or req.min_price is not None or req.max_price is not None:
                raise ServingError("the recommender's catalogue (categories, prices) is being loaded; retry shortly",
                                   status=503, headers={"Retry-After": "2"})
            recs = model.recommend(customer, k=req.k, exclude=tuple(req.exclude), country=req.country,
                                   include_purchased=req.include_purchased)
        else:
            session = self.storefront.sessions.recent(session_key(req.session_id, inner))
            region = req.country or model.country_of(customer)
            rules = state.rules.for_request(region, req.categories, req.min_price, req.max_price)
            answer = state.live.recommend(customer, k=req.k, exclude=req.exclude, country=req.country,
                                          include_purchased=req.include_purchased, session=session, rules=rules)
            recs, session_events, applied = answer.items, answer.session_events, answer.rules_applied
        items = _items(recs)
        if self.predictions is not None:
            self.predictions.record("recommend", RECOMMENDER.name, version,
                                    self.predictions.subject(inner), [i["sku"] for i in items])
        if choice is not None:
            self.storefront.exposures.record(choice, version)
        return RecommendResponse.model_validate(  # one validation of plain dicts: cheaper than an Item per item
            {"customer_id": req.customer_id, "known_customer": known, "items": items, "model_version": version,
             "session_events": session_events, "rules_applied": applied,
             "experiment": choice.experiment if choice else None, "variant": choice.variant if choice else None})

    def similar_items(self, req: SimilarItemsRequest) -> SimilarItemsResponse:
        loaded = self.models.get(RECOMMENDER)
        model = loaded.obj
        state = self.storefront.live_for(loaded.version)
        applied: list[str] = []
        if state is None:
            recs = model.similar_items(req.sku, k=req.k, exclude=tuple(req.exclude))
            known_item = bool(model.knows_item(req.sku))
        else:
            answer = state.live.similar_items(req.sku, k=req.k, exclude=req.exclude, rules=state.rules.for_similar())
            recs, applied = answer.items, answer.rules_applied
            known_item = state.live.knows_item(req.sku)
        items = _items(recs)
        if self.predictions is not None:
            self.predictions.record("similar-items", RECOMMENDER.name, loaded.version, req.sku,
                                    [i["sku"] for i in items])
        return SimilarItemsResponse.model_validate({"sku": req.sku, "known_item": known_item, "items": items,
                                                    "model_version": loaded.version, "rules_applied": applied})

    def record_events(self, req: EventsRequest) -> EventsResponse:
        """Keep each event in its session (and its customer's) and append it to the event log."""
        now = time.time()
        sessions, log = self.storefront.sessions, self.storefront.events
        loaded = self.models.loaded(RECOMMENDER.name)
        state = self.storefront.live_for(loaded.version) if loaded is not None else None
        unknown: dict[str, None] = {}
        for event in req.events:
            at = event.at.timestamp() if event.at is not None else now
            customer = self.edge.inward(event.customer_id)
            keys = [k for k in (session_key(event.session_id, None), session_key(None, customer)) if k]
            sessions.add(keys, at, event.sku, event.type)
            if log is not None:
                log.record(at, event.type, event.sku, customer, event.session_id)
            if state is not None and not state.live.knows_item(event.sku):
                unknown[event.sku] = None
        return EventsResponse(accepted=len(req.events), unknown_skus=list(unknown))

    def assign(self, req: AssignRequest) -> AssignResponse:
        from experiments import assign

        result = assign(req.spec, req.unit_id)
        return AssignResponse(experiment=req.spec.experiment, unit_id=req.unit_id, variant=result.variant,
                              reason=result.reason, bucket=result.bucket)

    # --- marketing ---------------------------------------------------------------------------------------------

    def score_customers(self, req: CustomerScoreRequest) -> CustomerScoreResponse:
        store = require(self.audiences)
        inner = [self.edge.inward(c) for c in req.customer_ids]
        callers = dict(zip(inner, req.customer_ids, strict=True))
        found, unknown_inner = store.lookup(inner)  # type: ignore[arg-type]
        unknown = [callers[u] for u in unknown_inner]
        rows = store.rows(found)
        if self.predictions is not None and len(rows) == len(found):  # (unequal only when erased meanwhile)
            version = ",".join(f"{k}={v}" for k, v in sorted(store.model_versions.items()))
            for row, i in zip(rows, found, strict=True):
                self.predictions.record("customers/score", CUSTOMERS.name, version,
                                        self.predictions.subject(store.customer_ids[i]),
                                        {"churn_probability": row["churn_probability"],
                                         "predicted_value": row["predicted_value"], "segment": row["segment"],
                                         "as_of": store.as_of})
        return CustomerScoreResponse(as_of=store.as_of, model_versions=store.model_versions,
                                     customers=rows, unknown=unknown)

    def audience(self, req: AudienceRequest) -> AudienceResponse | str:
        """One page of the audience, or (``format="csv"``) every match as CSV text."""
        store = require(self.audiences)
        positions = store.select(req.segments, req.min_value, req.min_churn_probability,
                                 req.max_churn_probability, req.min_p_alive, req.top_n)
        if req.format == "csv":
            if not self._exports.acquire(blocking=False):
                raise ServingError(f"{limits.MAX_CONCURRENT_EXPORTS} audience files are being written; retry shortly",
                                   status=429, headers={"Retry-After": "2"})
            try:
                return store.to_csv(positions[: limits.MAX_AUDIENCE_FILE])
            finally:
                self._exports.release()
        start = (req.page - 1) * req.page_size
        page = positions[start : start + req.page_size]
        return AudienceResponse(as_of=store.as_of, model_versions=store.model_versions, total=int(positions.size),
                                page=req.page, page_size=req.page_size, customers=store.rows(page))

    def kpis(self, as_of: str | None = None, freq: str = "week", by: str | None = None) -> dict[str, Any]:
        """The shop's KPIs from the canonical tables (``monitoring.kpi_summary``), cached per data version.

        The tables are read once per version of the raw data (its manifest's modification time) and the answer
        is kept for the last 32 (as_of, freq, by) asked: a summary costs a pass over every order line.
        """
        from monitoring.report import kpi_summary

        if freq not in ("day", "week", "month"):
            raise ServingError(f"freq: {freq!r}; use day, week or month",
                               detail=[{"field": "freq", "message": "one of day, week, month"}])
        if by not in (None, "country", "category"):
            raise ServingError(f"by: {by!r}; use country or category, or leave it out",
                               detail=[{"field": "by", "message": "one of country, category"}])
        as_of = as_of or None
        if as_of is not None:
            import pandas as pd

            try:
                as_of = pd.Timestamp(as_of).date().isoformat()
            except (ValueError, TypeError, OverflowError):
                raise ServingError(f"as_of: {as_of[:40]!r} is not a date; use YYYY-MM-DD",
                                   detail=[{"field": "as_of", "message": "a date, YYYY-MM-DD"}]) from None
        version = self._raw_version()
        key = (version, as_of, freq, by)
        with self._kpi_lock:
            if key in self._kpi_cache:
                return self._kpi_cache[key]
            if self._kpi_tables is None or self._kpi_tables[0] != version:
                from features.store import load_tables

                self._kpi_tables = (version, load_tables(self.settings.raw_dir, ("orders", "products")))
            tables = self._kpi_tables[1]
        summary = kpi_summary(tables, as_of, freq=freq, by=by)
        with self._kpi_lock:
            self._kpi_cache[key] = summary
            while len(self._kpi_cache) > 32:
                self._kpi_cache.pop(next(iter(self._kpi_cache)))
        return summary

    def _raw_version(self) -> float:
        manifests = sorted(self.settings.raw_dir.glob("*.json"))
        if not manifests:
            raise ServingError(f"no shop data in {self.settings.raw_dir}: run `shopml data load` or "
                               "`shopml data generate`", status=503)
        return max(m.stat().st_mtime for m in manifests)

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
        quantiles = tuple(sorted(set(req.quantiles)))
        max_horizon = model.max_horizon
        if req.horizon > max_horizon:
            raise ServingError(f"horizon: {req.horizon} exceeds the model's {max_horizon} periods",
                               detail=[{"field": "horizon", "message": f"at most {max_horizon}"}])
        skus, unknown = req.skus, []
        if skus is not None:  # partial success: the known SKUs are forecast, the unknown ones listed
            unknown = [s for s in skus if not model.knows_sku(s)]
            skus = [s for s in skus if model.knows_sku(s)] or skus  # all unknown: the model's error names them
        frame = model.forecast(skus=skus, regions=req.regions, horizon=req.horizon, quantiles=quantiles)
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
        if self.predictions is not None:
            for row in rows:
                self.predictions.record("forecast", FORECAST.name, loaded.version, f"{row.sku}|{row.region}",
                                        {"period_start": row.period_start, "horizon": row.horizon,
                                         "quantiles": row.quantiles})
        return ForecastResponse(freq=str(model.freq), model_version=loaded.version, rows=rows, unknown_skus=unknown)

    def check_route_plan(self, req: RoutePlanRequest, task: bool = False) -> None:
        """Refuse what a synchronous plan may not ask for (the task endpoint allows larger plans)."""
        if task:
            return
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

    def submit_route_plan(self, req: RoutePlanRequest, task: bool = False) -> Future:
        """Start a plan in the heavy lane (429 when it is full, unless ``task``, which waits for a place)."""
        self.check_route_plan(req, task)
        return self.heavy.submit(plan_routes_job, req.model_dump(), wait=task)

    def plan_routes(self, req: RoutePlanRequest, task: bool = False) -> dict[str, Any]:
        """A verified plan (blocking; the service awaits :meth:`submit_route_plan` instead)."""
        return self.heavy.result(self.submit_route_plan(req, task))

    def check_allocation(self, req: StockAllocateRequest) -> None:
        if req.options.time_limit_s > limits.MAX_SYNC_ALLOCATION_TIME_S:
            raise ServingError(
                f"options.time_limit_s: {req.options.time_limit_s} s exceeds {limits.MAX_SYNC_ALLOCATION_TIME_S} s",
                detail=[{"field": "options.time_limit_s", "message": "too long for a synchronous request"}],
            )

    def submit_allocation(self, req: StockAllocateRequest) -> Future:
        self.check_allocation(req)
        return self.heavy.submit(allocate_job, req.model_dump())

    def allocate(self, req: StockAllocateRequest) -> dict[str, Any]:
        return self.heavy.result(self.submit_allocation(req))


def _is_validation(exc: BaseException) -> bool:
    from pydantic import ValidationError

    return isinstance(exc, ValidationError)


def _items(recs) -> list[dict[str, Any]]:
    """Recommendations as the answer's item dicts (a score that is not finite becomes null)."""
    return [{"sku": str(r.sku), "score": _finite(r.score), "source": str(r.source)} for r in recs]


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
