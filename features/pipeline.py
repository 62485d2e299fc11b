"""Build every feature table as of a cutoff and write it under the data home with a manifest.

The manifest says which data (fingerprint of the orders), which cutoff and horizon, and which features
each table holds, so that a model trained on these files can record exactly what it saw.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from features.cleaning import customer_model_orders, demand_orders
from features.customers import CUSTOMER_SET, build_customer_features, check_label_window, label_data_end
from features.demand import DemandFeatureSpec, build_demand_features, demand_feature_set
from features.interactions import BUYER_SET, INTERACTION_SET, build_buyer_features, build_interaction_features
from features.items import ITEM_SET, build_item_features
from features.store import fingerprint
from shopml.errors import DataValidationError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STEPS = ("customers", "interactions", "demand_weekly", "demand_daily", "demand_weekly_region")


@dataclass
class FeatureBuild:
    """What a feature build wrote and from which data."""

    directory: Path
    cutoff: pd.Timestamp
    horizon_days: int
    manifest: dict[str, object] = field(default_factory=dict)

    def summary_rows(self) -> list[tuple[str, str, str]]:
        """(table, rows, features) per table, for the CLI's summary."""
        tables = self.manifest["tables"]
        return [(name, f"{info['rows']:,}", str(len(info.get("features", [])))) for name, info in tables.items()]


def default_cutoff(orders: pd.DataFrame) -> pd.Timestamp:
    """The day after the last order: features 'as of now', for scoring."""
    return cutoff_range(orders)[1]


def cutoff_range(orders: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The earliest and latest cutoff the orders support: the day after the first order's day (one day of
    history) and the day after the last order's day (the default, 'as of now')."""
    if orders.empty:
        raise DataValidationError("the orders table is empty: load or generate data first.")
    day = pd.Timedelta(days=1)
    return orders["ordered_at"].min().floor("D") + day, orders["ordered_at"].max().floor("D") + day


def check_cutoff(orders: pd.DataFrame, cutoff: str | pd.Timestamp, name: str = "cutoff") -> pd.Timestamp:
    """``cutoff`` as a timestamp, refused unless it lies in :func:`cutoff_range`.

    A cutoff after the data is not "as of now": every customer's last order looks ever older, so scoring
    calls them all lapsed and audiences empty without any error. Since validation rejects orders in the
    future, this also refuses future dates. ``name`` is how the caller's user spells the field (``--as-of``).
    """
    try:
        cutoff = pd.Timestamp(cutoff)
    except ValueError as exc:
        raise DataValidationError(f"{name} {cutoff!r} is not a date; use YYYY-MM-DD.") from exc
    earliest, latest = cutoff_range(orders)
    if earliest <= cutoff <= latest:
        return cutoff
    first, last = orders["ordered_at"].min(), orders["ordered_at"].max()
    where = "before the first order" if cutoff < earliest else "after the last order"
    raise DataValidationError(
        f"{name} {cutoff:%Y-%m-%d} is {where}: the orders run from {first:%Y-%m-%d} to {last:%Y-%m-%d}; "
        f"pick a {name} from {earliest:%Y-%m-%d} to {latest:%Y-%m-%d} (the day after the last order, the default)."
    )


def feature_dir(features_home: Path, cutoff: pd.Timestamp) -> Path:
    return Path(features_home) / f"cutoff={cutoff:%Y-%m-%d}"


def build_features(
    tables: dict[str, pd.DataFrame],
    out_root: Path,
    *,
    cutoff: str | pd.Timestamp | None = None,
    horizon_days: int = 90,
    demand_spec: DemandFeatureSpec | None = None,
    on_step: Callable[[str], None] | None = None,
) -> FeatureBuild:
    """Compute customer, interaction and demand features as of ``cutoff`` and write them to Parquet.

    Labels for the horizon are added to the customer table only when the data covers the whole horizon;
    otherwise the manifest says why they are missing. A cutoff outside :func:`cutoff_range` is refused
    (:func:`check_cutoff`) before anything is written.
    """
    orders = tables["orders"]
    cutoff = check_cutoff(orders, cutoff) if cutoff is not None else default_cutoff(orders)
    first, last = orders["ordered_at"].min(), orders["ordered_at"].max()
    directory = feature_dir(out_root, cutoff)
    staging = directory.with_name(directory.name + ".tmp")
    staging.mkdir(parents=True, exist_ok=True)
    step = on_step or (lambda name: None)
    products = tables.get("products")
    manifest: dict[str, object] = {
        "cutoff": cutoff.isoformat(),
        "horizon_days": horizon_days,
        "data_fingerprint": fingerprint(orders),
        "data_range": [first.isoformat(), last.isoformat()],
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": {},
    }
    customer_orders, set_aside = customer_model_orders(orders)
    step("customers")
    data_end = label_data_end(orders)
    try:
        check_label_window(cutoff, horizon_days, data_end)
        label_horizon, label_note = horizon_days, None
    except DataValidationError as exc:
        label_horizon, label_note = None, str(exc)
    customers = build_customer_features(orders, cutoff, products=products, horizon_days=label_horizon, data_end=data_end)
    customers.to_parquet(staging / "customers.parquet", index=False)
    manifest["tables"]["customers"] = {
        "rows": len(customers),
        "features": CUSTOMER_SET.feature_names,
        "labels": CUSTOMER_SET.label_names if label_horizon is not None else [],
        "labels_missing_because": label_note,
        "set_aside": set_aside,
    }

    step("interactions")
    half_life_days = 60.0
    for feature_set, table in (
        (INTERACTION_SET, build_interaction_features(customer_orders, cutoff, half_life_days=half_life_days)),
        (BUYER_SET, build_buyer_features(customer_orders, cutoff)),
        (ITEM_SET, build_item_features(customer_orders, cutoff, products)),
    ):
        table.to_parquet(staging / f"{feature_set.name}.parquet", index=False)
        manifest["tables"][feature_set.name] = {"rows": len(table), "features": feature_set.feature_names}
    manifest["tables"]["interactions"]["half_life_days"] = half_life_days

    sales, demand_set_aside = demand_orders(orders)
    spec = demand_spec or DemandFeatureSpec()
    demand_set = demand_feature_set(spec)
    for name, freq, by_region in (("demand_weekly", "W", False), ("demand_daily", "D", False), ("demand_weekly_region", "W", True)):
        step(name)  # the forecaster's features (features.demand), one row per series and period; by region adds SKU x country
        table = build_demand_features(sales, cutoff, freq=freq, by_region=by_region, spec=spec, products=products)
        table.to_parquet(staging / f"{name}.parquet", index=False)
        manifest["tables"][name] = {
            "rows": len(table),
            "series": int(table.groupby(["sku", "region"]).ngroups) if len(table) else 0,
            "keys": demand_set.key_names,
            "features": demand_set.feature_names,
            "set_aside": demand_set_aside,
        }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    if directory.exists():
        import shutil

        shutil.rmtree(directory)
    staging.rename(directory)
    return FeatureBuild(directory=directory, cutoff=cutoff, horizon_days=horizon_days, manifest=manifest)


def latest_feature_dir(features_home: Path) -> Path:
    """The feature build with the latest cutoff."""
    from shopml.errors import NotTrainedError

    candidates = sorted(p for p in Path(features_home).glob("cutoff=*") if (p / MANIFEST).is_file())
    if not candidates:
        raise NotTrainedError(f"no features in {features_home}: run `shopml features build` first.")
    return candidates[-1]
