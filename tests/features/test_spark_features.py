"""The Spark engine builds the feature tables and manifest pandas builds, row for row, and names bad input.

Spark in local mode, one session for the module (it takes seconds to start); a small synthetic shop written
as a lake by ``features.store.save_tables``, the layout ``shopml data generate`` writes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from features.partitions import PartitionError, partition_of
from features.pipeline import STEPS, build_features, build_features_spark
from features.spark import (
    LakeError,
    SparkUnavailableError,
    apply_by_partition,
    check_local_lake,
    check_master,
    find_java,
    partitioned,
    read_lake,
    start_spark,
)
from features.store import save_tables
from features.synthetic import ShopConfig, generate_shop

SHOP = ShopConfig(customers=300, products=60, days=400, seed=5)
"""About 3,500 order lines: every table non-trivial, labels covered at the test's cutoff."""


@pytest.fixture(scope="module")
def spark():
    session = start_spark("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def shop():
    return generate_shop(SHOP)


@pytest.fixture(scope="module")
def lake(shop, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lake") / "data"
    save_tables(shop.tables(), path, source="test")
    return path


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def test_spark_build_equals_the_pandas_build_row_by_row(spark, shop, lake, tmp_path):
    cutoff = shop.orders["ordered_at"].min() + pd.Timedelta(days=250)
    by_pandas = build_features(shop.tables(), tmp_path / "pandas", cutoff=cutoff, horizon_days=60)
    steps: list[str] = []
    by_spark = build_features_spark(spark, str(lake), tmp_path / "spark", cutoff=cutoff, horizon_days=60,
                                    n_partitions=3, on_step=steps.append)
    assert steps == list(STEPS)
    assert by_spark.manifest["engine"] == "spark" and by_pandas.manifest["engine"] == "pandas"
    drop = ("built_at", "engine")
    assert {k: v for k, v in by_spark.manifest.items() if k not in drop} == \
        {k: v for k, v in by_pandas.manifest.items() if k not in drop}
    assert by_spark.manifest["tables"]["customers"]["labels"]  # the label window is covered: labels compared too
    for name, info in by_pandas.manifest["tables"].items():
        expected = pd.read_parquet(by_pandas.directory / f"{name}.parquet")
        written = by_spark.directory / f"{name}.parquet"
        assert written.is_dir() and len(list(written.glob("part-*.parquet"))) >= 2, name  # partitioned Parquet
        keys = [c for c in ("customer_id", "sku", "region", "period_start") if c in expected.columns]
        got = _sorted(pd.read_parquet(written), keys)
        assert len(got) == info["rows"] > 0
        pd.testing.assert_frame_equal(got, _sorted(expected, keys), check_exact=True, obj=name)
    assert sorted(p.name for p in (tmp_path / "spark").iterdir()) == [by_spark.directory.name]  # no .tmp left


def test_spark_partitions_are_the_partitions_of_features_partitions(spark, shop):
    """A function failing on one customer names that customer and the partition ``partition_of`` gives it."""
    orders = spark.createDataFrame(shop.orders.loc[shop.orders["customer_id"].notna(), ["customer_id", "sku"]])
    victim = sorted(shop.orders["customer_id"].dropna().unique())[17]

    def fails_on_victim(part: pd.DataFrame) -> pd.DataFrame:
        if (part["customer_id"] == victim).any():
            raise ValueError("planted failure")
        return part

    frame = apply_by_partition(partitioned(orders, "customer_id", 5), fails_on_victim, key="customer_id",
                               n_partitions=5, schema="customer_id string, sku string", what="test table")
    expected = int(partition_of(pd.Series([victim]), 5)[0])
    from features.spark import collect

    with pytest.raises(PartitionError) as failure:
        collect(frame)
    message = str(failure.value)
    assert message.startswith(f"test table: partition {expected} of 5 (by customer_id")
    assert f"at the row (customer_id={victim!r}" in message and "ValueError: planted failure" in message
    assert "\n" not in message and "Traceback" not in message


def test_a_malformed_row_fails_with_its_partition_and_row_and_writes_nothing(spark, shop, tmp_path):
    orders = shop.orders.astype({"quantity": "Int64"})
    bad = orders.index[len(orders) // 2]
    orders.loc[bad, "quantity"] = pd.NA  # slipped past validation: a line without a quantity
    lake = tmp_path / "lake"
    save_tables({**shop.tables(), "orders": orders}, lake, source="test")
    with pytest.raises(PartitionError) as failure:
        build_features_spark(spark, str(lake), tmp_path / "out", n_partitions=2)
    message = str(failure.value)
    assert "partition" in message and f"order_id={orders.at[bad, 'order_id']!r}" in message
    assert "quantity=null" in message and "\n" not in message
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    with pytest.raises(PartitionError, match=f"order_id={orders.at[bad, 'order_id']!r}"):  # pandas names it too
        build_features({**shop.tables(), "orders": orders}, tmp_path / "pandas")
    assert not (tmp_path / "pandas").exists()


def test_a_lake_that_is_missing_or_holds_another_layout_is_one_clear_error(spark, shop, tmp_path):
    with pytest.raises(LakeError, match="does not exist"):
        check_local_lake(str(tmp_path / "nowhere"))
    other = tmp_path / "other"
    other.mkdir()
    shop.orders.to_csv(other / "orders.csv", index=False)
    with pytest.raises(LakeError, match=r"holds another layout \(no manifest.json, orders.parquet\)"):
        check_local_lake(str(other))
    renamed = tmp_path / "renamed"
    save_tables({"orders": shop.orders.rename(columns={"sku": "stock_code"})}, renamed, source="test")
    with pytest.raises(LakeError, match="orders.parquet has no column.s. sku"):
        read_lake(spark, str(renamed))
    with pytest.raises(LakeError, match="does not exist"):
        read_lake(spark, f"file://{tmp_path}/nowhere")


def test_no_java_and_unreachable_masters_are_refused_before_spark_starts(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", "/nonexistent")
    with pytest.raises(SparkUnavailableError, match="JAVA_HOME=/nonexistent has no bin/java"):
        find_java()
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SparkUnavailableError, match="finds no java on PATH"):
        find_java()
    with pytest.raises(SparkUnavailableError, match="unreachable"):
        check_master("spark://127.0.0.1:9")
    with pytest.raises(SparkUnavailableError, match="not one Spark knows"):
        check_master("spark-cluster-7")
    for fine in ("local", "local[2]", "local[*]", "yarn", "k8s://https://example:6443"):
        check_master(fine)
    assert os.environ["PATH"] == str(tmp_path)
