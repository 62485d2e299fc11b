"""The chunked generator (``features.synthetic.chunked``): chunk size never changes the data, same seed same
data, chunk-by-chunk output, sound tables whose manifest matches what is read back, and nothing half-written.

Fixtures are small (120 products, 300 days: about 11 lines a customer, so 30,000 lines is about 2,700
customers in three shards; each generation takes ~0.1 s).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.contracts import CONTRACTS
from features.store import fingerprint, load_tables
from features.synthetic import (
    ChunkedShopConfig,
    ShopConfig,
    ShopConfigError,
    ShopOutputError,
    SyntheticShop,
    check_output,
    generate_chunks,
    generate_shop,
    write_chunked_shop,
)
from features.synthetic.chunked import SHARD_CUSTOMERS

SHOP = ShopConfig(products=120, categories=6, days=300, seed=11)
LINES = 30_000


def tables_of(config: ChunkedShopConfig) -> tuple[dict[str, pd.DataFrame], list[int]]:
    """Every chunk's frames concatenated per table, and the customers in each chunk."""
    frames: dict[str, list[pd.DataFrame]] = {}
    customers = []
    for chunk in generate_chunks(config):
        customers.append(chunk.customers)
        for name, frame in chunk.tables.items():
            frames.setdefault(name, []).append(frame)
    return {name: pd.concat(parts, ignore_index=True) for name, parts in frames.items()}, customers


@pytest.fixture(scope="module")
def by_thousand() -> tuple[dict[str, pd.DataFrame], list[int]]:
    return tables_of(ChunkedShopConfig(LINES, chunk_customers=1_000, shop=SHOP))


def test_chunk_size_does_not_change_the_tables(by_thousand) -> None:
    small, _ = by_thousand
    large, _ = tables_of(ChunkedShopConfig(LINES, chunk_customers=5_000, shop=SHOP))
    assert small.keys() == large.keys() == set(CONTRACTS)
    for name in small:
        pd.testing.assert_frame_equal(small[name], large[name], check_exact=True, obj=name)


def test_same_seed_same_shop_and_another_seed_another(by_thousand) -> None:
    again, _ = tables_of(ChunkedShopConfig(LINES, chunk_customers=1_000, shop=SHOP))
    other, _ = tables_of(ChunkedShopConfig(LINES, chunk_customers=1_000, shop=SHOP.with_(seed=12)))
    first, _ = by_thousand
    assert all(fingerprint(first[n]) == fingerprint(again[n]) for n in first)
    assert fingerprint(first["orders"]) != fingerprint(other["orders"])


def test_generates_chunk_by_chunk_with_at_most_chunk_customers_each(by_thousand) -> None:
    _, customers = by_thousand
    order_chunks = [c for c in customers if c]
    assert len(order_chunks) >= 3  # products first, then several chunks of customers, logistics last
    assert customers[0] == 0 and customers[-1] == 0
    assert max(order_chunks) <= 1_000


def test_tables_are_sound_and_about_the_size_asked(by_thousand) -> None:
    tables, _ = by_thousand
    shop = SyntheticShop(**tables, truth={}, config=SHOP)
    assert shop.check() == []  # contract columns and dtypes, keys, cross-references
    assert abs(len(tables["orders"]) - LINES) < 0.03 * LINES
    orders = tables["orders"]
    owners = orders.dropna(subset=["customer_id"]).groupby("order_id")["customer_id"].nunique()
    assert (owners == 1).all()  # order numbers never collide across shards
    assert tables["customers"]["customer_id"].is_unique


def test_products_are_those_of_a_whole_shop_with_the_same_seed(by_thousand) -> None:
    tables, _ = by_thousand
    pd.testing.assert_frame_equal(tables["products"], generate_shop(SHOP.with_(customers=10)).products)


def test_a_shop_smaller_than_one_shard_is_one_smaller_shard() -> None:
    tables, customers = tables_of(ChunkedShopConfig(2_000, shop=SHOP))
    assert 0 < sum(customers) < SHARD_CUSTOMERS
    assert abs(len(tables["orders"]) - 2_000) < 600  # a few hundred customers: noisy, but about the size


def test_written_tables_read_back_as_generated_with_the_manifest_fingerprints(tmp_path: Path, by_thousand) -> None:
    calls = []
    written = write_chunked_shop(
        ChunkedShopConfig(LINES, chunk_customers=1_000, shop=SHOP), tmp_path / "lake", on_chunk=calls.append
    )
    assert len(calls) > 2 and written.chunks == len([c for c in calls if c.customers])
    assert pq.ParquetFile(tmp_path / "lake" / "orders.parquet").num_row_groups == written.chunks > 1
    manifest = json.loads((tmp_path / "lake" / "manifest.json").read_text())
    read = load_tables(tmp_path / "lake")
    generated, _ = by_thousand
    for name, frame in read.items():
        pd.testing.assert_frame_equal(frame, generated[name], check_exact=True, obj=name)
        assert manifest["tables"][name] == {"rows": len(frame), "fingerprint": fingerprint(frame)}
    assert {p.stem for p in (tmp_path / "lake" / "truth").glob("*.parquet")} >= {"customers", "tastes", "products"}
    assert not (tmp_path / "lake.tmp").exists()


def test_a_failure_midway_leaves_the_output_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "lake"
    config = ChunkedShopConfig(5_000, chunk_customers=1_000, shop=SHOP)

    def fail(chunk) -> None:
        if chunk.customers:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_chunked_shop(config, out, on_chunk=fail)
    assert not out.exists() and not (tmp_path / "lake.tmp").exists()

    before = write_chunked_shop(config, out).manifest
    with pytest.raises(KeyboardInterrupt):
        write_chunked_shop(ChunkedShopConfig(9_000, shop=SHOP), out, on_chunk=fail)
    assert json.loads((out / "manifest.json").read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]


def test_output_that_cannot_take_the_tables_is_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("keep me")
    for out, says in [("file", "is a file"), ("file/sub", "not a folder"), ("theirs", "not shopml tables")]:
        with pytest.raises(ShopOutputError, match=says):
            check_output(tmp_path / out)
        with pytest.raises(ShopOutputError, match=says):
            write_chunked_shop(ChunkedShopConfig(100, shop=SHOP), tmp_path / out)
    assert (tmp_path / "theirs" / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "theirs"]


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"order_lines": 0}, "order_lines=0 is out of range"),
        ({"chunk_customers": 1_500}, "multiple of 1,000"),
        ({"chunk_customers": 0}, "chunk_customers=0 is out of range"),
        ({"shop": "big"}, "must be a ShopConfig"),
    ],
)
def test_config_errors_name_the_parameter(changes: dict, says: str) -> None:
    with pytest.raises(ShopConfigError, match=says):
        ChunkedShopConfig(**{"order_lines": 1_000, **changes})
