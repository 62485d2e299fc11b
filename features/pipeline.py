"""Build every feature table as of a cutoff and write it under the data home with a manifest.

The manifest says which data (fingerprint of the orders), which cutoff and horizon, and which features
each table holds, so that a model trained on these files can record exactly what it saw.

A build is a plan (:func:`plan_tables`: one :class:`TableTask` per table, each the feature set's own
per-partition function with its arguments) run by an engine: :func:`build_features` runs every task on the
whole orders table in this process (one partition); :func:`build_features_spark` runs the same tasks on
Apache Spark, one hash partition of customers or SKUs at a time (:mod:`features.spark`). Both derive the
cutoff, the label window and the manifest from the same :class:`OrderFacts`, so they write the same tables and
the same manifest (up to ``built_at``, ``engine`` and the number of Parquet part files).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from features.cleaning import customer_model_orders, demand_orders
from features.contracts import ORDERS
from features.customers import CUSTOMER_SET, build_customer_features, check_label_window
from features.demand import DemandFeatureSpec, build_demand_features, demand_feature_set
from features.interactions import BUYER_SET, INTERACTION_SET, build_buyer_features, build_interaction_features
from features.items import ITEM_SET, build_item_features
from features.partitions import canonical_order, run_partition
from features.schema import FeatureSet
from features.store import fingerprint
from shopml.errors import DataValidationError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from features.spark import Lake

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STEPS = ("customers", "interactions", "demand_weekly", "demand_daily", "demand_weekly_region")
HALF_LIFE_DAYS = 60.0
"""Half-life of the interactions' recency weight."""
CONCURRENT_TABLES = 4
"""Spark jobs (one per table) a Spark build runs at once."""


@dataclass
class FeatureBuild:
    """What a feature build wrote and from which data."""

    directory: Path | str
    cutoff: pd.Timestamp
    horizon_days: int
    manifest: dict[str, object] = field(default_factory=dict)

    def summary_rows(self) -> list[tuple[str, str, str]]:
        """(table, rows, features) per table, for the CLI's summary."""
        tables = self.manifest["tables"]
        return [(name, f"{info['rows']:,}", str(len(info.get("features", [])))) for name, info in tables.items()]


# ----------------------------------------------------------------------------- what a build needs to know
@dataclass(frozen=True)
class OrderFacts:
    """What a build needs to know about the whole orders table, computable from any split of it and combined
    (:meth:`combine`): its extent, when the labels' data ends, and what the protocol cleanings set aside."""

    lines: int
    first: pd.Timestamp
    last: pd.Timestamp
    label_data_end: pd.Timestamp
    customer_set_aside: Mapping[str, int]
    demand_set_aside: Mapping[str, int]

    @classmethod
    def of(cls, orders: pd.DataFrame) -> OrderFacts:
        """The facts of ``orders`` (the whole table, or one part of it)."""
        customer_sales, customer_aside = customer_model_orders(orders)
        _, demand_aside = demand_orders(orders)
        when = orders["ordered_at"]
        return cls(len(orders), when.min(), when.max(), customer_sales["ordered_at"].max(), customer_aside, demand_aside)

    @classmethod
    def combine(cls, parts: Iterable[OrderFacts]) -> OrderFacts:
        """The facts of the union of disjoint parts."""
        parts = list(parts)

        def extreme(values, pick):
            known = [v for v in values if not pd.isna(v)]
            return pick(known) if known else pd.NaT

        def summed(dicts):
            out: dict[str, int] = {}
            for d in dicts:
                for k, v in d.items():
                    out[k] = out.get(k, 0) + int(v)
            return out

        return cls(sum(p.lines for p in parts), extreme([p.first for p in parts], min),
                   extreme([p.last for p in parts], max), extreme([p.label_data_end for p in parts], max),
                   summed(p.customer_set_aside for p in parts), summed(p.demand_set_aside for p in parts))

    SPARK_SCHEMA = ("lines bigint, first timestamp_ntz, last timestamp_ntz, label_data_end timestamp_ntz, "
                    "customer_set_aside string, demand_set_aside string")

    def to_frame(self) -> pd.DataFrame:
        """One row (:attr:`SPARK_SCHEMA`), for an engine that computes the facts part by part."""
        return pd.DataFrame({"lines": [self.lines], "first": [self.first], "last": [self.last],
                             "label_data_end": [self.label_data_end],
                             "customer_set_aside": [json.dumps(dict(self.customer_set_aside))],
                             "demand_set_aside": [json.dumps(dict(self.demand_set_aside))]}).astype(
            {"first": "datetime64[us]", "last": "datetime64[us]", "label_data_end": "datetime64[us]"})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> OrderFacts:
        """The combined facts of the rows written by :meth:`to_frame`."""
        return cls.combine(
            cls(int(r.lines), pd.Timestamp(r.first), pd.Timestamp(r.last), pd.Timestamp(r.label_data_end),
                json.loads(r.customer_set_aside), json.loads(r.demand_set_aside))
            for r in frame.itertuples(index=False)
        )

    def cutoff_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """See :func:`cutoff_range`."""
        if self.lines == 0 or pd.isna(self.first):
            raise DataValidationError("the orders table is empty: load or generate data first.")
        day = pd.Timedelta(days=1)
        return self.first.floor("D") + day, self.last.floor("D") + day

    def check_cutoff(self, cutoff: str | pd.Timestamp | None, name: str = "cutoff") -> pd.Timestamp:
        """See :func:`check_cutoff`; None is the default cutoff (the day after the last order)."""
        earliest, latest = self.cutoff_range()
        if cutoff is None:
            return latest
        try:
            cutoff = pd.Timestamp(cutoff)
        except ValueError as exc:
            raise DataValidationError(f"{name} {cutoff!r} is not a date; use YYYY-MM-DD.") from exc
        if earliest <= cutoff <= latest:
            return cutoff
        where = "before the first order" if cutoff < earliest else "after the last order"
        raise DataValidationError(
            f"{name} {cutoff:%Y-%m-%d} is {where}: the orders run from {self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}; "
            f"pick a {name} from {earliest:%Y-%m-%d} to {latest:%Y-%m-%d} (the day after the last order, the default)."
        )


FACTS = "orders (extent and set-aside counts)"


def order_facts_frame(orders: pd.DataFrame) -> pd.DataFrame:
    """:meth:`OrderFacts.to_frame` of ``orders`` (any part of the table) in contract dtypes: what every engine
    runs on its parts (through :func:`~features.partitions.run_partition`, which names a malformed row)."""
    return OrderFacts.of(ORDERS.cast(orders)).to_frame()


def _extent(orders: pd.DataFrame) -> OrderFacts:
    """Only the extent of ``orders`` (what the cutoff checks read), without the cleanings' counts."""
    when = orders["ordered_at"]
    return OrderFacts(len(orders), when.min(), when.max(), pd.NaT, {}, {})


def default_cutoff(orders: pd.DataFrame) -> pd.Timestamp:
    """The day after the last order: features 'as of now', for scoring."""
    return cutoff_range(orders)[1]


def cutoff_range(orders: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The earliest and latest cutoff the orders support: the day after the first order's day (one day of
    history) and the day after the last order's day (the default, 'as of now')."""
    return _extent(orders).cutoff_range()


def check_cutoff(orders: pd.DataFrame, cutoff: str | pd.Timestamp, name: str = "cutoff") -> pd.Timestamp:
    """``cutoff`` as a timestamp, refused unless it lies in :func:`cutoff_range`.

    A cutoff after the data is not "as of now": every customer's last order looks ever older, so scoring
    calls them all lapsed and audiences empty without any error. Since validation rejects orders in the
    future, this also refuses future dates. ``name`` is how the caller's user spells the field (``--as-of``).
    """
    return _extent(orders).check_cutoff(cutoff, name)


def feature_dir(features_home: Path | str, cutoff: pd.Timestamp) -> Path:
    return Path(features_home) / f"cutoff={cutoff:%Y-%m-%d}"


# ----------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class TableTask:
    """One table of a build: the feature set's per-partition function and its arguments.

    ``task(orders)`` computes the table's rows for the entities in ``orders`` (all of them, or one partition
    by ``feature_set.partition_key``); ``manifest`` holds the table's manifest entry besides its counts.
    """

    name: str
    step: str
    feature_set: FeatureSet
    function: Callable[..., pd.DataFrame]
    kwargs: Mapping[str, object]
    manifest: Mapping[str, object]
    with_labels: bool = False
    counts_series: bool = False

    def __call__(self, orders: pd.DataFrame) -> pd.DataFrame:
        return self.function(orders, **self.kwargs)

    @property
    def key(self) -> str:
        return self.feature_set.partition_key

    @property
    def what(self) -> str:
        return f"feature table {self.name}"

    @property
    def schema(self) -> str:
        return self.feature_set.spark_ddl(self.with_labels)

    def entry(self, rows: int, series: int | None = None) -> dict[str, object]:
        """The table's manifest entry."""
        counts: dict[str, object] = {"rows": rows}
        if self.counts_series:
            counts["series"] = series
        return {**counts, **self.manifest}


SERIES = ("sku", "region")
"""The key columns of one demand series (the manifest counts them)."""


def customer_task(cutoff: pd.Timestamp, products: pd.DataFrame | None, facts: OrderFacts | None = None,
                  horizon_days: int | None = None, label_note: str | None = None) -> TableTask:
    """The customers table as of ``cutoff``; with labels for ``horizon_days`` when given (``facts`` then
    supplies the whole table's label data end). What scoring computes too, without labels."""
    data_end = facts.label_data_end if facts is not None else None
    return TableTask(
        "customers", "customers", CUSTOMER_SET, build_customer_features,
        {"cutoff": cutoff, "products": products, "horizon_days": horizon_days, "data_end": data_end, "allow_empty": True},
        {"features": CUSTOMER_SET.feature_names,
         "labels": CUSTOMER_SET.label_names if horizon_days is not None else [],
         "labels_missing_because": label_note,
         "set_aside": dict(facts.customer_set_aside) if facts is not None else {}},
        with_labels=horizon_days is not None,
    )


def plan_tables(facts: OrderFacts, cutoff: pd.Timestamp, horizon_days: int, *, products: pd.DataFrame | None = None,
                demand_spec: DemandFeatureSpec | None = None) -> list[TableTask]:
    """Every table of a build, in :data:`STEPS` order.

    Labels for the horizon are planned only when the data covers the whole horizon; otherwise the
    customers' manifest entry says why they are missing.
    """
    try:
        check_label_window(cutoff, horizon_days, facts.label_data_end)
        label_horizon, label_note = horizon_days, None
    except DataValidationError as exc:
        label_horizon, label_note = None, str(exc)
    tasks = [customer_task(cutoff, products, facts, label_horizon, label_note)]
    tasks += [
        TableTask("interactions", "interactions", INTERACTION_SET, build_interaction_features,
                  {"cutoff": cutoff, "half_life_days": HALF_LIFE_DAYS},
                  {"features": INTERACTION_SET.feature_names, "half_life_days": HALF_LIFE_DAYS}),
        TableTask("buyers", "interactions", BUYER_SET, build_buyer_features, {"cutoff": cutoff},
                  {"features": BUYER_SET.feature_names}),
        TableTask("items", "interactions", ITEM_SET, build_item_features, {"cutoff": cutoff, "products": products},
                  {"features": ITEM_SET.feature_names}),
    ]
    spec = demand_spec or DemandFeatureSpec()
    demand_set = demand_feature_set(spec)
    for name, freq, by_region in (("demand_weekly", "W", False), ("demand_daily", "D", False),
                                  ("demand_weekly_region", "W", True)):
        # the forecaster's features (features.demand), one row per series and period; by region adds SKU x country
        tasks.append(TableTask(
            name, name, demand_set, build_demand_features,
            {"cutoff": cutoff, "freq": freq, "by_region": by_region, "spec": spec, "products": products},
            {"keys": demand_set.key_names, "features": demand_set.feature_names,
             "set_aside": dict(facts.demand_set_aside)},
            counts_series=True,
        ))
    return tasks


def manifest_of(facts: OrderFacts, cutoff: pd.Timestamp, horizon_days: int, data_fingerprint: str,
                tables: dict[str, dict[str, object]], engine: str) -> dict[str, object]:
    """The build's manifest: the data, the cutoff and horizon, and one entry per table."""
    if tables["customers"]["rows"] == 0:
        raise DataValidationError(f"no purchases by known customers before the cutoff {cutoff:%Y-%m-%d}: pick a "
                                  f"later cutoff (the data starts {facts.first:%Y-%m-%d}).")
    return {
        "cutoff": cutoff.isoformat(),
        "horizon_days": horizon_days,
        "data_fingerprint": data_fingerprint,
        "data_range": [facts.first.isoformat(), facts.last.isoformat()],
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine": engine,
        "tables": tables,
    }


def _stepper(on_step: Callable[[str], None] | None) -> Callable[[str], None]:
    """``on_step`` called once per step of :data:`STEPS` (tasks of one step share it)."""
    seen: set[str] = set()

    def step(name: str) -> None:
        if on_step is not None and name not in seen:
            seen.add(name)
            on_step(name)

    return step


# ----------------------------------------------------------------------------- the pandas engine
def build_features(
    tables: dict[str, pd.DataFrame],
    out_root: Path,
    *,
    cutoff: str | pd.Timestamp | None = None,
    horizon_days: int = 90,
    demand_spec: DemandFeatureSpec | None = None,
    on_step: Callable[[str], None] | None = None,
    data_fingerprint: str | None = None,
) -> FeatureBuild:
    """Compute customer, interaction and demand features as of ``cutoff`` and write them to Parquet.

    ``data_fingerprint`` is the orders' :func:`features.store.fingerprint` as stored (a caller that put the
    orders in canonical order first passes the stored table's; by default it is computed here).

    Labels for the horizon are added to the customer table only when the data covers the whole horizon;
    otherwise the manifest says why they are missing. A cutoff outside :func:`cutoff_range` is refused
    (:func:`check_cutoff`) before anything is written. Tables are written to a staging folder that replaces
    the cutoff's folder only when the build is complete.
    """
    orders = canonical_order(tables["orders"])  # the order both engines sum in (features.partitions)
    facts = OrderFacts.from_frame(run_partition(order_facts_frame, orders, what=FACTS, key="order_id"))
    cutoff = facts.check_cutoff(cutoff)
    tasks = plan_tables(facts, cutoff, horizon_days, products=tables.get("products"), demand_spec=demand_spec)
    directory = feature_dir(out_root, cutoff)
    staging = directory.with_name(directory.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    step = _stepper(on_step)
    entries: dict[str, dict[str, object]] = {}
    try:
        for task in tasks:
            step(task.step)
            table = run_partition(task, orders, what=task.what, key=task.key)
            table.to_parquet(staging / f"{task.name}.parquet", index=False)
            series = int(table.groupby(list(SERIES)).ngroups) if task.counts_series and len(table) else 0
            entries[task.name] = task.entry(len(table), series)
        manifest = manifest_of(facts, cutoff, horizon_days, data_fingerprint or fingerprint(tables["orders"]), entries, "pandas")
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        if directory.exists():
            shutil.rmtree(directory)
        staging.rename(directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return FeatureBuild(directory=directory, cutoff=cutoff, horizon_days=horizon_days, manifest=manifest)


# ----------------------------------------------------------------------------- the spark engine
def order_facts_spark(orders: DataFrame) -> OrderFacts:
    """:class:`OrderFacts` of a Spark orders table: :meth:`OrderFacts.of` on every input partition, combined."""
    from features.spark import collect, map_partitions

    parts = map_partitions(orders, order_facts_frame, key="order_id", schema=OrderFacts.SPARK_SCHEMA, what=FACTS)
    return OrderFacts.from_frame(collect(parts))


def spark_table(shuffled: DataFrame, task: TableTask, n_partitions: int) -> DataFrame:
    """``task`` on Spark: its function on each partition of ``shuffled`` (orders split by the task's key with
    :func:`features.spark.partitioned`), through ``applyInPandas``."""
    from features.spark import apply_by_partition

    return apply_by_partition(shuffled, task, key=task.key, n_partitions=n_partitions, schema=task.schema,
                              what=task.what, contract=ORDERS)


def customer_features_spark(spark: SparkSession, lake: Lake, as_of: str | pd.Timestamp | None = None,
                            n_partitions: int = 0) -> tuple[DataFrame, pd.Timestamp]:
    """The customers table (no labels) as of ``as_of`` (checked; default: the day after the last order) from a
    lake, on Spark: what scoring reads."""
    from features.spark import partition_count, partitioned, spark_errors

    with spark_errors():
        facts = order_facts_spark(lake.orders)
    cutoff = facts.check_cutoff(as_of, "--as-of")
    n = partition_count(spark, facts.lines, n_partitions)
    task = customer_task(cutoff, lake.products)
    return spark_table(partitioned(lake.orders, task.key, n), task, n), cutoff


def build_features_spark(
    spark: SparkSession,
    lake: str,
    out_root: Path | str,
    *,
    cutoff: str | pd.Timestamp | None = None,
    horizon_days: int = 90,
    demand_spec: DemandFeatureSpec | None = None,
    on_step: Callable[[str], None] | None = None,
    n_partitions: int = 0,
) -> FeatureBuild:
    """:func:`build_features` on Spark, over the canonical tables at ``lake`` (a path or Hadoop URI).

    Each table is a folder of Parquet part files (each sorted by the table's keys) under
    ``<out_root>/cutoff=<date>``, written into a ``.tmp`` sibling renamed when the build is complete; the
    manifest is :func:`build_features`' own. The orders' fingerprint is the lake manifest's (its writer
    computed ``features.store.fingerprint`` on the same rows). ``n_partitions`` 0 picks
    :func:`features.spark.partition_count`.
    """
    from features.spark import (
        HadoopFiles,
        is_remote,
        join,
        partition_count,
        partitioned,
        read_lake,
        spark_errors,
    )

    source = read_lake(spark, lake)
    with spark_errors():
        facts = order_facts_spark(source.orders)
    cutoff = facts.check_cutoff(cutoff)
    tasks = plan_tables(facts, cutoff, horizon_days, products=source.products, demand_spec=demand_spec)
    n = partition_count(spark, facts.lines, n_partitions)
    directory = join(str(out_root), f"cutoff={cutoff:%Y-%m-%d}")
    staging = directory + ".tmp"
    files = HadoopFiles(spark, directory)
    files.delete(staging)
    step = _stepper(on_step)
    shuffled = {key: partitioned(source.orders, key, n) for key in dict.fromkeys(task.key for task in tasks)}

    def write(task: TableTask) -> dict[str, object]:
        path = join(staging, f"{task.name}.parquet")
        table = spark_table(shuffled[task.key], task, n)
        table.sortWithinPartitions(*task.feature_set.key_names).write.parquet(path)
        return task.entry(*_written_counts(spark, path, task))

    entries: dict[str, dict[str, object]] = {}
    try:
        # Tables are independent jobs: submitted together, they keep the executors busy while one job waits
        # on the driver (planning, a small table's last task, counting what it wrote).
        with spark_errors(), ThreadPoolExecutor(CONCURRENT_TABLES, thread_name_prefix="shopml-table") as pool:
            jobs = [pool.submit(write, task) for task in tasks]
            try:
                for task, job in zip(tasks, jobs, strict=True):
                    entries[task.name] = job.result()
                    step(task.step)
            except BaseException:
                for job in jobs:
                    job.cancel()
                spark.sparkContext.cancelAllJobs()
                raise
        manifest = manifest_of(facts, cutoff, horizon_days, source.fingerprint, entries, "spark")
        files.write_text(join(staging, MANIFEST), json.dumps(manifest, indent=2, default=str))
        files.delete(directory)
        files.rename(staging, directory)
    finally:
        files.delete(staging)
        for frame in shuffled.values():
            frame.unpersist()
    local = not is_remote(directory) and not directory.startswith("file:")
    return FeatureBuild(directory=Path(directory) if local else directory, cutoff=cutoff,
                        horizon_days=horizon_days, manifest=manifest)


def _written_counts(spark: SparkSession, path: str, task: TableTask) -> tuple[int, int | None]:
    """Rows (and series) of a table as written (one job over its Parquet files)."""
    from pyspark.sql import functions as F

    written = spark.read.parquet(path)
    if not task.counts_series:
        return written.count(), None
    row = written.agg(F.count(F.lit(1)), F.countDistinct(*SERIES)).first()
    return int(row[0]), int(row[1])


def latest_feature_dir(features_home: Path) -> Path:
    """The feature build with the latest cutoff."""
    from shopml.errors import NotTrainedError

    candidates = sorted(p for p in Path(features_home).glob("cutoff=*") if (p / MANIFEST).is_file())
    if not candidates:
        raise NotTrainedError(f"no features in {features_home}: run `shopml features build` first.")
    return candidates[-1]
