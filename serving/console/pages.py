"""What each console page shows, computed with the service's own runtime and the domain packages.

Every function returns the template context of one page (plain dicts and lists, figures as JSON text). A
section whose data is missing (no shop data, a model not trained yet, a monitoring feature that has not
landed) carries a ``missing`` message that says what is missing and the command that makes it, never an
error. Answers go through the same code as the API: audiences through :class:`serving.audiences.AudienceStore`
and ``ServingRuntime.audience``, experiments through ``ServingRuntime.evaluate_experiment`` and
``size_experiment``, forecasts through ``ServingRuntime.forecast``, route plans and allocations through the
heavy lane (``submit_route_plan`` / ``submit_allocation``).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serving.console import charts

logger = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "docs" / "examples"
"""The repository's example requests (present in a checkout, absent from an installed wheel)."""

PREVIEW_ROWS = 20


def missing(exc: BaseException) -> str:
    """The message a page shows for data it cannot get: the domain's own words (they name the fix)."""
    from serving.errors import ServingError
    from shopml.errors import ShopmlError

    if isinstance(exc, ShopmlError | ServingError):
        return str(exc)
    if type(exc).__name__ == "ValidationError":
        errors = exc.errors()  # type: ignore[attr-defined]
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors[:5])
    if isinstance(exc, ValueError):  # a number field that is not a number, and the like: the user's to fix
        return f"invalid input: {str(exc)[:200]}"
    logger.exception("console section failed")
    return f"this part could not be computed ({type(exc).__name__}); the service log has the details"


def fmt(value: Any, kind: str = "") -> str:
    """A number for people: thousands separators, percentages for rates, a dash for missing values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int | float | np.number):
        v = float(value)
        if kind == "%":
            return f"{v:.1%}"
        if kind == "+%":
            return f"{v:+.1%}"
        return f"{v:,.0f}" if abs(v) >= 100 or v == int(v) else f"{v:,.3g}"
    return str(value)


def examples(prefix: str) -> list[str]:
    """Names of the repository's example files starting with ``prefix`` (none outside a checkout)."""
    if not EXAMPLES_DIR.is_dir():
        return []
    return sorted(p.name for p in EXAMPLES_DIR.glob(f"{prefix}*.json"))


def read_example(name: str, prefix: str) -> dict[str, Any]:
    from shopml.errors import ShopmlError

    if name not in examples(prefix):
        raise ShopmlError(f"example {name[:60]!r} not found; choose one of {', '.join(examples(prefix)) or 'none'}")
    return json.loads((EXAMPLES_DIR / name).read_text())


class ShopTables:
    """The canonical tables the pages read besides the runtime's answers, reloaded when the raw data changes."""

    def __init__(self, raw_dir: Path):
        self.raw_dir = raw_dir
        self._lock = threading.Lock()
        self._version: float | None = None
        self._tables: dict[str, Any] = {}
        self._derived: dict[str, Any] = {}

    def version(self) -> float:
        from shopml.errors import ShopmlError

        manifests = sorted(self.raw_dir.glob("*.json"))
        if not manifests:
            raise ShopmlError(f"no shop data in {self.raw_dir}: run `shopml data generate` (demo shop) or "
                              "`shopml data load PATH`")
        return max(m.stat().st_mtime for m in manifests)

    def get(self, name: str):
        from features.store import load_tables

        version = self.version()
        with self._lock:
            if self._version != version:
                self._version, self._tables, self._derived = version, {}, {}
            if name not in self._tables:
                self._tables[name] = load_tables(self.raw_dir, (name,))[name]
            return self._tables[name]

    def derived(self, key: str, compute: Callable[[], Any]):
        """A value computed from the tables, kept until the data changes."""
        version = self.version()
        with self._lock:
            if self._version == version and key in self._derived:
                return self._derived[key]
        value = compute()
        with self._lock:
            if self._version == version:
                self._derived[key] = value
        return value


# ------------------------------------------------------------------------------------------------ overview
HEADLINE = (("gmv", "GMV (net)", ""), ("orders", "Orders", ""), ("aov", "Average order value", ""),
            ("customers", "Customers", ""), ("new_customers", "New customers", ""),
            ("active_30d", "Active (30 days)", ""), ("repeat_purchase_rate", "Repeat-purchase rate", "%"),
            ("return_rate", "Return rate", "%"))
"""(KPI, label, format) of the Overview's tiles; the definitions are monitoring's (docs/kpis.md)."""
LOWER_IS_BETTER = frozenset({"return_rate"})


def overview(runtime) -> dict[str, Any]:
    try:
        summary = runtime.kpis(None, "week", None)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        return {"missing": missing(exc)}
    periods = summary["periods"]
    tiles = []
    for key, label, kind in HEADLINE:
        head = summary["headline"]["kpis"].get(key)
        if head is None:
            continue
        xs = [p["period"] for p in periods if p.get("complete", True)]
        ys = [p.get(key) for p in periods if p.get("complete", True)]
        tiles.append({"key": key, "label": label, "value": fmt(head["value"], kind),
                      "change": fmt(head["change"], "+%"),
                      "trend": _trend(key, head["change"]),
                      "figure": charts.sparkline(xs, ys)})
    alerts = summary.get("alerts") or {}
    return {"as_of": summary["as_of"], "period": summary["headline"].get("period"), "data": summary["data"],
            "tiles": tiles, "running": alerts.get("running", []), "recent": alerts.get("recent", []),
            "judged_days": alerts.get("judged_days")}


def _trend(key: str, change: float | None) -> str:
    """``good`` or ``bad`` for the colour of a change (a higher return rate is bad)."""
    if not change:
        return ""
    better = change < 0 if key in LOWER_IS_BETTER else change > 0
    return "good" if better else "bad"


# ------------------------------------------------------------------------------------------------ customers
@dataclass(frozen=True)
class AudienceFilter:
    """The audience builder's filters: the API's (``AudienceRequest``) plus a delivery country."""

    request: Any  # serving.schemas.AudienceRequest
    country: str | None

    @classmethod
    def parse(cls, fields: dict[str, Any]) -> AudienceFilter:
        """From form or query fields; empty fields are no filter. Invalid ones raise pydantic's error."""
        from serving.schemas import AudienceRequest

        def number(name: str) -> float | None:
            text = str(fields.get(name) or "").strip()
            return float(text) if text else None  # ValueError: reported as the field's problem

        segments = [s for s in fields.get("segment", []) if s] if isinstance(fields.get("segment"), list) \
            else ([fields["segment"]] if fields.get("segment") else [])
        top = str(fields.get("top_n") or "").strip()
        raw = {"segments": segments or None, "min_value": number("min_value"),
               "min_churn_probability": number("min_churn"), "max_churn_probability": number("max_churn"),
               "top_n": int(top) if top else None}
        request = AudienceRequest.model_validate({k: v for k, v in raw.items() if v is not None})
        country = str(fields.get("country") or "").strip() or None
        return cls(request, country[:100] if country else None)


def customer_countries(runtime, tables: ShopTables, store) -> np.ndarray:
    """Each audience-store customer's home country (from the canonical customers table)."""

    def compute():
        frame = tables.get("customers")
        lookup = dict(zip(frame["customer_id"].astype(str), frame["country"].astype(str), strict=True))
        return np.array([lookup.get(c, "") for c in store.customer_ids], dtype=object)

    return tables.derived(f"countries:{id(store)}", compute)


def select_audience(runtime, tables: ShopTables, flt: AudienceFilter):
    """(store, positions): the customers the filter selects, by predicted value, as ``POST /v1/audiences``."""
    from serving.audiences import require

    store = require(runtime.audiences)
    r = flt.request
    positions = store.select(r.segments, r.min_value, r.min_churn_probability, r.max_churn_probability,
                             r.min_p_alive, None if flt.country else r.top_n)
    if flt.country:
        positions = positions[customer_countries(runtime, tables, store)[positions] == flt.country]
        if r.top_n is not None:
            positions = positions[: r.top_n]
    return store, positions


def audience_count(runtime, tables: ShopTables, flt: AudienceFilter) -> dict[str, Any]:
    store, positions = select_audience(runtime, tables, flt)
    value = float(np.nansum(store.columns["predicted_value"][positions]))
    return {"count": int(positions.size), "value": value, "count_text": f"{positions.size:,}",
            "value_text": fmt(value), "as_of": store.as_of}


def audience_preview(runtime, tables: ShopTables, flt: AudienceFilter) -> list[dict[str, Any]]:
    store, positions = select_audience(runtime, tables, flt)
    rows = store.rows(positions[:PREVIEW_ROWS])
    countries = customer_countries(runtime, tables, store)
    for row, i in zip(rows, positions[:PREVIEW_ROWS], strict=True):
        row["country"] = countries[i]
    return rows


def audience_csv(runtime, tables: ShopTables, flt: AudienceFilter) -> str:
    """Every match as CSV: ``ServingRuntime.audience`` (the API's code) itself when no country is chosen."""
    from serving import limits

    if flt.country is None:
        return runtime.audience(flt.request.model_copy(update={"format": "csv"}))
    store, positions = select_audience(runtime, tables, flt)
    return store.to_csv(positions[: limits.MAX_AUDIENCE_FILE])


def customers(runtime, tables: ShopTables, flt: AudienceFilter | None, problem: str | None,
              preview: bool = False) -> dict[str, Any]:
    from training.customers import SEGMENTS

    out: dict[str, Any] = {"segments_all": list(SEGMENTS), "problem": problem}
    store = runtime.audiences
    if store is None:
        from serving.audiences import require

        try:
            require(store)
        except Exception as exc:  # noqa: BLE001
            out["missing"] = missing(exc)
    else:
        names, sizes, values = [], [], []
        for segment in SEGMENTS:
            mask = store.segments == segment
            names.append(segment)
            sizes.append(int(mask.sum()))
            values.append(float(np.nansum(store.columns["predicted_value"][mask])))
        out["as_of"] = store.as_of
        out["segments"] = [{"name": n, "size": fmt(s), "value": fmt(v)} for n, s, v in zip(names, sizes, values,
                                                                                            strict=True)]
        out["segment_figure"] = charts.segment_bars(names, sizes, values)
        try:
            countries = customer_countries(runtime, tables, store)
            out["countries"] = sorted({c for c in countries if c})
        except Exception as exc:  # noqa: BLE001
            out["countries"], out["country_missing"] = [], missing(exc)
        if flt is not None and problem is None:
            try:
                out["count"] = audience_count(runtime, tables, flt)
                if preview:
                    out["preview"] = audience_preview(runtime, tables, flt)
            except Exception as exc:  # noqa: BLE001
                out["problem"] = missing(exc)
    out |= segment_history(runtime.settings)
    try:
        cohorts = runtime.kpis(None, "month", None)["cohorts"]
        out["cohort_figure"] = charts.cohort_heatmap(cohorts) if cohorts else None
        if not cohorts:
            out["cohort_missing"] = "no cohorts in the data yet"
    except Exception as exc:  # noqa: BLE001
        out["cohort_missing"] = missing(exc)
    return out


# ------------------------------------------------------------------------------------------------ experiments
def experiment_result(runtime, spec: dict[str, Any], raw_csv: str | None = None,
                      period_column: str = "day") -> dict[str, Any]:
    """Evaluate ``spec`` as ``POST /v1/experiments/evaluate`` does, plus the forest plot and, with raw
    per-unit rows, the sequential monitor (a spec without per-arm statistics is evaluated on those rows)."""
    monitor: dict[str, Any] = {}
    if raw_csv:
        monitor, final = sequential(spec, raw_csv, period_column)
        if final is not None and not spec.get("data"):
            spec = final
    result = runtime.evaluate_experiment(spec)
    rows, forest = [], []
    for c in result["comparisons"]:
        status = c["outcome"] if c["role"] == "goal" else (c.get("guardrail") or "unknown")
        relative = c.get("relative_lift") is not None
        lift = c["relative_lift"] if relative else c["absolute_lift"]
        lower = c.get("adjusted_relative_lower") if relative else c.get("adjusted_absolute_lower")
        upper = c.get("adjusted_relative_upper") if relative else c.get("adjusted_absolute_upper")
        if lower is None or upper is None:
            lower = c.get("relative_lower") if relative else c.get("absolute_lower")
            upper = c.get("relative_upper") if relative else c.get("absolute_upper")
        rows.append({"metric": c["metric"], "arm": c["arm"], "role": c["role"], "status": status,
                     "control": fmt(c["control_mean"]), "treatment": fmt(c["treatment_mean"]),
                     "lift": fmt(lift, "+%") if relative else fmt(lift),
                     "interval": f"[{fmt(lower, '+%' if relative else '')}, {fmt(upper, '+%' if relative else '')}]",
                     "p": fmt(c.get("adjusted_p_value") if c.get("adjusted_p_value") is not None else c["p_value"]),
                     "warnings": c.get("warnings", [])})
        if relative and lift is not None:
            forest.append({"metric": c["metric"], "arm": c["arm"], "lift": lift, "lower": lower, "upper": upper,
                           "status": status})
    srm = result["srm"]
    out: dict[str, Any] = {
        "name": result["name"], "control": result["control"], "trustworthy": result["trustworthy"],
        "decision": result["decision"], "rows": rows, "warnings": result.get("warnings", []),
        "srm": {"flagged": srm["flagged"], "p_value": fmt(srm["p_value"]), "observed": srm["observed"],
                "expected": {k: fmt(v) for k, v in srm["expected"].items()}},
        "forest_figure": charts.forest_plot(forest) if forest else None,
    }
    out.update(monitor or {"sequential_missing": (
        "the sequential monitor needs per-unit rows: upload a CSV with unit_id, variant, a period column "
        f"({period_column!r}) and one column per metric, with \"settings\": {{\"sequential\": true}} in the spec")})
    return out


def sequential(spec: dict[str, Any], raw_csv: str, period_column: str) -> tuple[dict[str, Any], dict | None]:
    """The sequential monitor's chart (the first goal, the first treatment arm) from per-unit rows, and the
    spec with the cumulative statistics of the last period (None when the rows cannot be read)."""
    import io

    import pandas as pd

    from experiments import ExperimentSpec, evaluate
    from experiments.aggregate import aggregate_by_period

    try:
        experiment = ExperimentSpec.model_validate(spec)
        rows = pd.read_csv(io.StringIO(raw_csv))
        looks = aggregate_by_period(experiment, rows, period_column)
        goals = [m.name for m in experiment.metrics if m.role == "goal"] or [experiment.metrics[0].name]
        arm = experiment.treatments[0]
        points = [(str(p), evaluate(cumulative).comparison(goals[0], arm)) for p, cumulative in looks]
        figure = charts.sequential_chart([p for p, _ in points], [c.absolute_lift for _, c in points],
                                         [c.absolute_lower for _, c in points], [c.absolute_upper for _, c in points],
                                         goals[0])
        final = looks[-1][1].model_dump(mode="json") if looks else None
        return {"sequential_figure": figure}, final
    except Exception as exc:  # noqa: BLE001
        return {"sequential_missing": f"the per-unit rows could not be used: {missing(exc)}"}, None


def size_plan(runtime, fields: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/experiments/size`` from the planner form."""
    from serving.schemas import SizeRequest

    def num(name: str) -> float | None:
        text = str(fields.get(name) or "").strip()
        return float(text) if text else None

    plan = {"metric_type": fields.get("metric_type") or "proportion", "baseline": num("baseline"),
            "mde": num("mde"), "alpha": num("alpha") or 0.05, "power": num("power") or 0.8,
            "daily_units": num("daily_units"), "unit_sd": num("unit_sd")}
    arms = int(num("arms") or 2)
    plan["weights"] = [1 / arms] * arms
    answer = runtime.size_experiment(SizeRequest.model_validate({"plan": {k: v for k, v in plan.items()
                                                                           if v is not None}}))
    return {"summary": answer.get("summary", ""), "fields": {k: fields.get(k, "") for k in fields}}


# ------------------------------------------------------------------------------------------------ demand
def demand(runtime, tables: ShopTables, query: str, region: str) -> dict[str, Any]:
    from serving.models import FORECAST
    from serving.schemas import ForecastRequest

    out: dict[str, Any] = {"query": query, "region": region or "ALL"}
    try:
        loaded = runtime.models.get(FORECAST)
    except Exception as exc:  # noqa: BLE001
        out["missing"] = missing(exc)
        return out
    model = loaded.obj
    out["regions"] = list(model.regions)
    out["model_version"] = loaded.version
    try:
        products = tables.get("products")
    except Exception as exc:  # noqa: BLE001
        out["missing"] = missing(exc)
        return out
    q = query.strip().upper()
    sku = q if q and model.knows_sku(q) else None
    if q and sku is None:
        text = query.strip().lower()
        hit = products[products["category"].astype(str).str.lower().str.contains(text, regex=False)
                       | products["description"].fillna("").astype(str).str.lower().str.contains(text, regex=False)
                       | products["sku"].astype(str).str.contains(q, regex=False)]
        out["matches"] = [{"sku": r.sku, "description": r.description or "", "category": r.category}
                          for r in hit.head(30).itertuples() if model.knows_sku(str(r.sku))]
        if not out["matches"]:
            out["problem"] = f"no SKU, category or description matches {query[:60]!r}"
    if sku is None and not q:
        sku = top_skus(tables, 1)[0] if top_skus(tables, 1) else None
    if sku is not None:
        out["sku"] = sku
        reg = region if region in model.regions else "ALL"
        try:
            answer = runtime.forecast(ForecastRequest(skus=[sku], regions=[reg], horizon=model.max_horizon))
            rows = answer.rows
            hist_x, hist_y = sku_history(tables, sku, reg, model.freq)
            out["figure"] = charts.demand_bands(hist_x, hist_y, [r.period_start for r in rows],
                                                [r.quantiles.get("p10") for r in rows],
                                                [r.quantiles.get("p50") for r in rows],
                                                [r.quantiles.get("p90") for r in rows], f"{sku} · {reg}")
            out["rows"] = [{"period": r.period_start, "p10": fmt(r.quantiles.get("p10")),
                            "p50": fmt(r.quantiles.get("p50")), "p90": fmt(r.quantiles.get("p90"))} for r in rows]
        except Exception as exc:  # noqa: BLE001
            out["problem"] = missing(exc)
    try:
        out["replenishment"] = replenishment(runtime, tables, loaded)
    except Exception as exc:  # noqa: BLE001
        out["replenishment_missing"] = missing(exc)
    return out


def top_skus(tables: ShopTables, n: int) -> list[str]:
    def compute():
        orders = tables.get("orders")
        return orders.groupby("sku")["quantity"].sum().sort_values(ascending=False).index.astype(str).tolist()

    return tables.derived("top_skus", compute)[:n]


def sku_history(tables: ShopTables, sku: str, region: str, freq: str) -> tuple[list[str], list[float]]:
    """Units sold per period (weeks starting Monday, or days) of ``sku`` in ``region`` (``ALL``: everywhere)."""
    import pandas as pd

    orders = tables.get("orders")
    lines = orders[orders["sku"].astype(str) == sku]
    if region != "ALL":
        lines = lines[lines["country"].astype(str) == region]
    if lines.empty:
        return [], []
    when = pd.to_datetime(lines["ordered_at"])
    period = when.dt.to_period("W-SUN").dt.start_time if freq == "W" else when.dt.normalize()
    series = lines["quantity"].groupby(period).sum().sort_index()
    series = series.iloc[-52:] if freq == "W" else series.iloc[-120:]
    return [f"{d:%Y-%m-%d}" for d in series.index], [float(v) for v in series.to_numpy()]


def replenishment(runtime, tables: ShopTables, loaded) -> dict[str, Any]:
    """ABC classes and reorder points from the champion forecast and the shop's stock (cached per version)."""

    def compute():
        import pandas as pd

        from optimization import replenishment_proposal
        from optimization.allocation.replenishment import nearest_warehouse

        model = loaded.obj
        regions, warehouses = tables.get("regions"), tables.get("warehouses")
        stock, products = tables.get("stock"), tables.get("products")
        skus = top_skus(tables, 60)
        frame = model.forecast(skus=[s for s in skus if model.knows_sku(s)], horizon=model.max_horizon)
        frame = frame[frame["region"] != "ALL"]
        mapping = nearest_warehouse(regions, warehouses)
        frame = frame[frame["region"].isin(mapping.index)]
        prices = products.drop_duplicates("sku").set_index(products["sku"].astype(str).drop_duplicates())["price"]
        plan = replenishment_proposal(frame.drop(columns=["period_start"]), stock, prices=prices,
                                      region_to_warehouse=mapping)
        proposal = plan.proposal.sort_values("order_qty", ascending=False)
        classes = plan.classes["abc_class"].value_counts().reindex(["A", "B", "C"], fill_value=0)
        keep = ["sku", "warehouse_id", "abc_class", "inventory_position", "safety_stock", "reorder_point",
                "order_up_to", "order_qty"]
        rows = [{k: (fmt(v) if isinstance(v, float | int | np.number) else v) for k, v in r.items()}
                for r in proposal[[c for c in keep if c in proposal.columns]].head(25).to_dict("records")]
        return {"summary": plan.summary(), "classes": {k: int(v) for k, v in classes.items()}, "rows": rows,
                "skus": int(plan.proposal["sku"].nunique()), "as_of": str(pd.Timestamp(model.origin).date())}

    return tables.derived(f"replenishment:{loaded.version}", compute)


# ------------------------------------------------------------------------------------------------ logistics
def route_view(request: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """The plan's routes drawn on the request's coordinates, stop tables with windows, verdict, unserved."""

    def xy(location: dict[str, Any]) -> tuple[float, float]:
        if "lon" in location:
            return float(location["lon"]), float(location["lat"])
        return float(location["x"]), float(location["y"])

    geographic = any("lat" in d["location"] for d in request["depots"])
    depots = {d["id"]: xy(d["location"]) for d in request["depots"]}
    stops = {s["id"]: xy(s["location"]) for s in request.get("stops", [])}
    windows = {s["id"]: ", ".join(f"{clock(w['start'])}–{clock(w['end'])}" for w in s.get("time_windows") or [])
               for s in request.get("stops", [])}
    routes = []
    for route in plan["routes"]:
        routes.append({"vehicle": route["vehicle_id"], "departure": clock(route["departure"]),
                       "return": clock(route["return_time"]), "distance": fmt(route["distance"]),
                       "cost": fmt(route["cost"]),
                       "visits": [{"stop": v["stop_id"], "arrival": clock(v["arrival"]), "start": clock(v["start"]),
                                   "departure": clock(v["departure"]), "window": windows.get(v["stop_id"], "") or "any",
                                   "waiting": fmt(v["waiting"]),
                                   "latest": clock(v["latest_arrival"]) if v.get("latest_arrival") is not None else "–"}
                                  for v in route["visits"]]})
    unserved = plan.get("unserved", [])
    return {"plan": {k: plan.get(k) for k in ("status", "feasible", "complete", "objective", "engine", "seconds")},
            "totals": plan.get("totals", {}), "violations": plan.get("violations", []), "routes": routes,
            "unserved": unserved,
            "figure": charts.routes_plot(depots, stops, plan["routes"], [u["stop_id"] for u in unserved], geographic)}


def clock(minutes: float | None) -> str:
    """Minutes from midnight as HH:MM (the routing examples' convention)."""
    if minutes is None:
        return "–"
    m = int(round(float(minutes)))
    return f"{m // 60:02d}:{m % 60:02d}"


def allocation_view(request: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    sites = {str(w["warehouse_id"]): (float(w["lat"]), float(w["lon"])) for w in request["warehouses"]}
    sites.update({str(r["region"]): (float(r["lat"]), float(r["lon"])) for r in request["regions"]})
    totals: dict[tuple[str, str], float] = {}
    for s in plan.get("shipments", []):
        key = (str(s["warehouse_id"]), str(s["region"]))
        totals[key] = totals.get(key, 0.0) + float(s["units"])
    flows = [(a, b, q) for (a, b), q in sorted(totals.items())]
    return {"status": plan.get("status"), "method": plan.get("method"), "verified": plan.get("verified"),
            "violations": plan.get("violations", []), "fill_rate": fmt(plan.get("fill_rate"), "%"),
            "flows": [{"from": a, "to": b, "units": fmt(q)} for a, b, q in flows],
            "transfers": plan.get("transfers", []), "notes": plan.get("notes", []),
            "figure": charts.flows_plot(sites, flows, [str(w["warehouse_id"]) for w in request["warehouses"]])}


# ------------------------------------------------------------------------------------------------ models
_REGISTRY_CACHE: dict[str, tuple[float, Any]] = {}
REGISTRY_SECONDS = 30.0
"""After this the Models page reads the registry again, in the background (a read costs 100-300 ms)."""


def models(runtime) -> dict[str, Any]:
    info = runtime.models_info()
    out: dict[str, Any] = {"served": [m.model_dump() for m in info.models], "ready": info.ready,
                           "features_as_of": info.features_as_of}
    try:
        out["registry"] = _cached("registry", lambda: registry_view(runtime.settings))
    except Exception as exc:  # noqa: BLE001
        out["registry_missing"] = missing(exc)
    out["monitoring"] = monitoring_view(runtime.settings)
    return out


def segment_history(settings) -> dict[str, Any]:
    """Segment sizes and value over time from the scores ``shopml monitor`` keeps (one point per run)."""
    from monitoring.history import History

    table = History(Path(settings.data_home) / "monitoring").segment_sizes()
    if table["scored_at"].nunique() < 2:
        return {"segment_history_missing": "segment sizes over time need at least two `shopml monitor` runs (each "
                                           "keeps every customer's segment as of its date); schedule it weekly"}
    dates = sorted(table["scored_at"].unique())
    labels = [f"{pd_date:%Y-%m-%d}" for pd_date in dates]
    wide = table.pivot_table(index="scored_at", columns="segment", values=["customers", "predicted_value"],
                             fill_value=0).reindex(dates)
    sizes = {s: [int(v) for v in wide["customers"][s]] for s in wide["customers"].columns}
    values = {s: [float(v) for v in wide["predicted_value"][s]] for s in wide["predicted_value"].columns}
    return {"segment_history_figure": charts.segments_over_time(labels, sizes, values)}


def monitoring_view(settings) -> dict[str, Any]:
    """Calibration and drift from the monitoring store's reports, when that monitoring exists and has run."""
    folder = Path(settings.data_home) / "monitoring" / "reports"
    reports = sorted(folder.glob("monitor-*.json"))[-12:] if folder.is_dir() else []
    if not reports:
        return {"missing": f"no monitoring report in {folder} yet: calibration (ECE, reliability) and drift (PSI) "
                           "appear here once the monitoring run has scored customers and their horizon has passed"}
    rows = []
    figures = _monitoring_figures(reports)
    for path in reversed(reports):
        try:
            report = json.loads(path.read_text())
            try:
                from monitoring.monitor import verdict

                findings = list(verdict(report))
            except Exception:  # noqa: BLE001 - the monitoring package is young; show the report's date at least
                findings = []
            rows.append({"date": path.stem.removeprefix("monitor-"), "findings": findings or ["no finding"]})
        except (OSError, ValueError) as exc:
            rows.append({"date": path.stem, "findings": [f"unreadable: {exc}"]})
    return {"reports": rows, **figures}


def _monitoring_figures(reports: list[Path]) -> dict[str, str]:
    """The newest report's judged churn cohorts (ROC-AUC and ECE by scoring date and version) and the PSI of
    the model outputs across the reports."""
    figures: dict[str, str] = {}
    dates: list[str] = []
    psi: dict[str, list[float | None]] = {}
    newest = None
    for path in reports:
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        newest = report
        columns = (report.get("drift") or {}).get("predictions", {}).get("columns") or []
        if columns:
            dates.append(str(report.get("as_of")))
            for column in columns:
                psi.setdefault(column["column"], [])
            for name, values in psi.items():
                values.extend([None] * (len(dates) - 1 - len(values)))
                values.append(next((c["psi"] for c in columns if c["column"] == name), None))
    judged = [c for c in ((newest or {}).get("outcomes") or {}).get("churn") or [] if c.get("roc_auc") is not None]
    if judged:
        figures["calibration_figure"] = charts.calibration_over_time(judged)
    if dates:
        figures["drift_figure"] = charts.drift_over_time(dates, psi)
    return figures


_REFRESHING: set[str] = set()
_REFRESH_LOCK = threading.Lock()


def _cached(key: str, compute: Callable[[], Any]):
    """``compute()`` kept for :data:`REGISTRY_SECONDS`; after that the kept value is still answered while one
    background thread reads it again (so a page never waits for the registry once it has been read)."""
    now = time.monotonic()
    hit = _REGISTRY_CACHE.get(key)
    if hit is None:
        value = compute()
        _REGISTRY_CACHE[key] = (time.monotonic(), value)
        return value
    if now - hit[0] >= REGISTRY_SECONDS:
        with _REFRESH_LOCK:
            start = key not in _REFRESHING
            _REFRESHING.add(key)
        if start:
            def refresh() -> None:
                try:
                    _REGISTRY_CACHE[key] = (time.monotonic(), compute())
                except Exception:  # noqa: BLE001 - keep the last good value; the next expiry retries
                    logger.warning("console: registry refresh failed", exc_info=True)
                finally:
                    with _REFRESH_LOCK:
                        _REFRESHING.discard(key)

            threading.Thread(target=refresh, name=f"console-refresh-{key}", daemon=True).start()
    return hit[1]


def registry_view(settings) -> list[dict[str, Any]]:
    """Per registered model: champion, every version with its numeric evaluation tags and promotion reason."""
    from training.names import ALL_MODELS
    from training.registry import TRAIN_COMMANDS, champion_summary
    from training.tracking import configure_mlflow

    client = configure_mlflow(settings)
    out: list[dict[str, Any]] = []
    for row in champion_summary(client, list(ALL_MODELS)):
        name = str(row["model"])
        if row["champion"] is None:
            out.append({"model": name, "champion": None, "missing": f"not trained yet: run `{TRAIN_COMMANDS[name]}`"})
            continue
        versions = sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
        metric_names = sorted({k for v in versions for k, t in (v.tags or {}).items() if _number(t) is not None
                               and k not in ("evaluation_key",)})
        metrics = {m: [_number((v.tags or {}).get(m)) for v in versions] for m in metric_names}
        run_id = str(row.get("run_id") or "")
        tags: dict[str, str] = dict(row["tags"])  # type: ignore[call-overload]
        run = client.get_run(run_id) if run_id else None
        evaluation = {k: fmt(v) for k, v in sorted((run.data.metrics if run else {}).items())
                      if k.startswith(("evaluation", "baselines"))}
        plots = [a.path for a in client.list_artifacts(run_id, "plots") if a.path.endswith(".png")] if run_id else []
        out.append({
            "model": name, "champion": row["champion"], "run_id": run_id, "evaluation": evaluation,
            "plots": plots,
            "metrics": {k: fmt(_number(v)) for k, v in tags.items() if _number(v) is not None},
            "promotion": tags.get("promotion", ""),
            "versions": [{"version": v.version, "champion": str(v.version) == str(row["champion"]),
                          "created": time.strftime("%Y-%m-%d %H:%M", time.gmtime(v.creation_timestamp / 1000)),
                          "promotion": (v.tags or {}).get("promotion", ""),
                          "metrics": {m: fmt(metrics[m][i]) for m in metric_names}}
                         for i, v in reversed(list(enumerate(versions)))],
            "figure": charts.versions_plot(name, [v.version for v in versions], metrics)
            if metric_names and len(versions) > 1 else None,
        })
    return out


_PLOTS: dict[tuple[str, str], bytes] = {}


def champion_plot(settings, model: str, path: str) -> bytes:
    """A PNG the champion's training run logged under ``plots/`` (only paths that run lists are served)."""
    from shopml.errors import ShopmlError

    entry = next((m for m in _cached("registry", lambda: registry_view(settings)) if m["model"] == model), None)
    if entry is None or path not in entry.get("plots", []):
        raise ShopmlError(f"no plot {path[:80]!r} for model {model[:40]!r}")
    key = (entry["run_id"], path)
    if key not in _PLOTS:
        import tempfile

        import mlflow

        from training.tracking import configure_mlflow

        configure_mlflow(settings)
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(run_id=entry["run_id"], artifact_path=path, dst_path=tmp)
            _PLOTS[key] = Path(local).read_bytes()
    return _PLOTS[key]


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
