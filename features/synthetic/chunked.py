"""A synthetic shop too big for memory, generated and written chunk by chunk.

The customers are simulated in *shards* of :data:`SHARD_CUSTOMERS` consecutive customer ids, each shard with
its own random streams (``seed`` and the shard's number), the guests' orders that go with it and its returns.
All shards share one world (calendar, catalogue, promotions: the same as :func:`generate_shop` draws for that
seed), so ``products`` is the table a whole shop of that config would have. A *chunk* is a run of shards
held in memory together and written as one Parquet row group; its size bounds memory and never changes the
data. The number of customers is not fixed in advance: shards are added until the order lines reach the
target, each one sized from the lines per customer seen so far, so the shop ends within about one shard's
noise of the target (a few hundred lines).

``write_chunked_shop`` writes the canonical tables (``<out>/<table>.parquet``, one file per table, read by
:func:`features.store.load_tables`, pandas and Spark alike) with the manifest of :func:`features.store.save_tables`
and the ground truth in ``<out>/truth``. It writes into ``<out>.tmp`` and renames it when done, so an error or
an interrupt leaves ``<out>`` as it was. See ``docs/synthetic.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from features.store import MANIFEST
from features.synthetic.config import ShopConfig, ShopConfigError, check_int
from features.synthetic.shop import TABLES, Segment, World, stage_streams
from shopml.errors import ShopmlError
from shopml.privacy import VAULT_FILE

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from features.identities import Ingestion

logger = logging.getLogger(__name__)

SHARD_CUSTOMERS = 1_000
"""Customers simulated with one set of random streams; the unit that makes chunk size irrelevant."""
MAX_ORDER_LINES = 500_000_000
TRUTH_DIR = "truth"


class ShopOutputError(ShopmlError):
    """The folder a chunked shop should be written to cannot be used; the message names it and the fix."""


@dataclass(frozen=True)
class ChunkedShopConfig:
    """A shop of about ``order_lines`` order lines, generated ``chunk_customers`` customers at a time.

    Parameters
    ----------
    order_lines
        Target number of order lines, guests' and returns included (1 to 500 million).
    chunk_customers
        Customers held in memory at once (a multiple of :data:`SHARD_CUSTOMERS`, 1,000 to 1,000,000); about
        21 order lines each with the default behaviour. It bounds memory and never changes the data.
    shop
        Everything else about the shop (catalogue, history, behaviour, seed); its ``customers`` is ignored.
    """

    order_lines: int
    chunk_customers: int = 20_000
    shop: ShopConfig = field(default_factory=ShopConfig)

    def __post_init__(self) -> None:
        check_int("order_lines", self.order_lines, 1, MAX_ORDER_LINES)
        check_int("chunk_customers", self.chunk_customers, SHARD_CUSTOMERS, 1_000_000)
        if self.chunk_customers % SHARD_CUSTOMERS:
            raise ShopConfigError(
                f"chunk_customers={self.chunk_customers:,} must be a multiple of {SHARD_CUSTOMERS:,} (the customers "
                f"simulated together); use e.g. {max(1, round(self.chunk_customers / SHARD_CUSTOMERS)) * SHARD_CUSTOMERS:,}."
            )
        if not isinstance(self.shop, ShopConfig):
            raise ShopConfigError(f"shop must be a ShopConfig, got {type(self.shop).__name__}.")


@dataclass(frozen=True)
class ShopChunk:
    """Rows to append to the canonical tables (``tables``) and to the ground truth (``truth``), by name.

    The first chunk holds ``products`` and the shop-wide truth, the middle ones ``orders`` and ``customers``
    (with the customers' truth), the last one ``regions``, ``warehouses`` and ``stock``.
    """

    index: int
    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]

    @property
    def order_lines(self) -> int:
        return len(self.tables["orders"]) if "orders" in self.tables else 0

    @property
    def customers(self) -> int:
        return len(self.tables["customers"]) if "customers" in self.tables else 0


def generate_chunks(config: ChunkedShopConfig) -> Iterator[ShopChunk]:
    """Generate the shop chunk by chunk; concatenating the chunks' frames gives the same tables for any chunk size.

    Only one chunk (``config.chunk_customers`` customers and their orders) is in memory at a time.
    """
    shop = config.shop
    rng = stage_streams(shop.seed)
    world = World.build(shop, rng)
    yield ShopChunk(0, {"products": world.products()}, world.truth())

    units_sold = 0
    index = 0
    pending: list[tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]] = []
    in_chunk = 0
    for segment, orders, customers in _segments(config, world):
        units_sold += segment.units_sold
        pending.append((orders, customers, segment.truth(world)))
        in_chunk += len(customers)
        if in_chunk >= config.chunk_customers:
            index += 1
            yield _chunk(index, pending)
            pending, in_chunk = [], 0
    if pending:
        index += 1
        yield _chunk(index, pending)

    logistics, logistics_truth = world.logistics(units_sold, rng["logistics"])
    yield ShopChunk(index + 1, logistics, logistics_truth)


def _segments(config: ChunkedShopConfig, world: World) -> Iterator[tuple[Segment, pd.DataFrame, pd.DataFrame]]:
    """Shards of customers until the order lines reach the target; each sized from the lines per customer so far.

    Shard ``k`` has its own streams, so its data depends on the seed, ``k`` and its size only. A first shard
    that alone overshoots the target is drawn again with fewer customers (a small shop is one shard).
    """
    target = config.order_lines
    lines = customers = orders = shard = 0
    while True:
        if customers == 0:
            size = SHARD_CUSTOMERS
        else:
            wanted = (target - lines) * customers / lines  # customers still needed at the rate seen so far
            if wanted < 0.5:
                return
            size = min(SHARD_CUSTOMERS, max(1, round(wanted)))
        segment, order_frame, customer_frame, n_orders = _shard(config.shop, world, shard, size, customers, orders)
        if shard == 0 and len(order_frame) > target:
            size = max(1, round(target * size / len(order_frame)))
            segment, order_frame, customer_frame, n_orders = _shard(config.shop, world, 0, size, 0, 0)
            yield segment, order_frame, customer_frame
            return
        yield segment, order_frame, customer_frame
        lines += len(order_frame)
        customers += size
        orders += n_orders
        shard += 1
        if size < SHARD_CUSTOMERS:
            return


def _shard(
    shop: ShopConfig, world: World, shard: int, size: int, first_customer: int, first_order: int
) -> tuple[Segment, pd.DataFrame, pd.DataFrame, int]:
    segment = Segment.simulate(
        replace(shop, customers=size), world, stage_streams(shop.seed, shard), first_customer=first_customer
    )
    orders, customers, n_orders = segment.tables(world, orders_before=first_order)
    return segment, orders, customers, n_orders


def _chunk(index: int, pending: list[tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]]) -> ShopChunk:
    def cat(frames: list[pd.DataFrame]) -> pd.DataFrame:
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    return ShopChunk(
        index,
        {"orders": cat([p[0] for p in pending]), "customers": cat([p[1] for p in pending])},
        {name: cat([p[2][name] for p in pending]) for name in pending[0][2]},
    )


@dataclass(frozen=True)
class WrittenShop:
    """What :func:`write_chunked_shop` wrote: the folder, its manifest, the chunks of customers, the seconds."""

    directory: Path
    manifest: dict[str, Any]
    chunks: int
    seconds: float

    @property
    def order_lines(self) -> int:
        return int(self.manifest["tables"]["orders"]["rows"])

    @property
    def customers(self) -> int:
        return int(self.manifest["tables"]["customers"]["rows"])

    def summary(self) -> dict[str, object]:
        """Headline figures: where, how many lines and customers, chunks, seconds."""
        return {
            "directory": str(self.directory),
            "order_lines": self.order_lines,
            "customers": self.customers,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 2),
        }


def write_chunked_shop(
    config: ChunkedShopConfig,
    out: Path,
    *,
    on_chunk: Callable[[ShopChunk], None] | None = None,
    ingest: Ingestion | None = None,
) -> WrittenShop:
    """Generate the shop and write it to ``out`` chunk by chunk; ``out`` is replaced only when all is written.

    Parameters
    ----------
    config
        Target size, chunk size and the shop's parameters.
    out
        A new or empty folder, or one holding canonical tables (a manifest), which is replaced.
    on_chunk
        Called after each chunk is written (for a progress bar).
    ingest
        The data home's privacy step (:class:`features.identities.Ingestion`): customer ids become pseudonyms
        chunk by chunk and the sealed real ids go to ``identities.parquet`` beside the tables.

    Raises
    ------
    ShopOutputError
        ``out`` is a file, a folder holding other files, or cannot be created or written
        (:func:`check_output` tells before any work).
    """
    out = Path(out)
    staging = _prepare_output(out)
    began = time.perf_counter()
    orders_written = chunks = 0
    try:
        with _TableWriter(staging) as tables, _TableWriter(staging / TRUTH_DIR) as truth:
            for chunk in generate_chunks(config):
                chunk_tables, chunk_truth = chunk.tables, chunk.truth
                if ingest is not None:
                    private = ingest({**chunk_tables, **{f"{TRUTH_DIR}/{n}": f for n, f in chunk_truth.items()}})
                    chunk_tables = {n: f for n, f in private.tables.items() if n in chunk_tables}
                    chunk_truth = {n: private.tables[f"{TRUTH_DIR}/{n}"] for n in chunk_truth}
                    if len(private.vault):
                        tables.append(VAULT_FILE.removesuffix(".parquet"), private.vault)
                for name, frame in chunk_tables.items():
                    tables.append(name, frame)
                for name, frame in chunk_truth.items():
                    truth.append(name, frame)
                chunks += chunk.customers > 0
                orders_written += chunk.order_lines
                if on_chunk is not None:
                    on_chunk(chunk)
        manifest: dict[str, Any] = {
            "source": f"synthetic:seed={config.shop.seed}:order-lines={config.order_lines}",
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "tables": {name: tables.info[name] for name in TABLES},
            "truth": TRUTH_DIR,
            **({"identities": ingest.manifest} if ingest is not None else {}),
            "generator": {
                "order_lines_requested": config.order_lines,
                "chunk_customers": config.chunk_customers,
                "shard_customers": SHARD_CUSTOMERS,
                "seed": config.shop.seed,
            },
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    seconds = time.perf_counter() - began
    logger.info("wrote %s order lines in %d chunks to %s in %.1fs", f"{orders_written:,}", chunks, out, seconds)
    return WrittenShop(directory=out, manifest=manifest, chunks=chunks, seconds=seconds)


def check_output(out: Path) -> None:
    """Raise :class:`ShopOutputError` unless ``out`` can take the tables: a new or empty folder, or one holding
    canonical tables (which are replaced), under a folder that exists or can be created."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ShopOutputError(f"output folder {out}: is a file; name a new or empty folder for the tables.")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ShopOutputError(
            f"output folder {out}: holds files that are not shopml tables (no {MANIFEST}); name a new or empty "
            "folder, or one written by `shopml data generate` or `shopml data load` (which is replaced)."
        )
    staging = _staging(out)
    if staging.exists() and not staging.is_dir():
        raise ShopOutputError(f"output folder {out}: {staging} is in the way (a file); move or delete it.")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ShopOutputError(
            f"output folder {out}: cannot be created in {parent} ("
            + ("not a folder" if not parent.is_dir() else "permission denied") + "); choose a folder you can write to."
        )


def _staging(out: Path) -> Path:
    return out.with_name(out.name + ".tmp")


def _prepare_output(out: Path) -> Path:
    """Check ``out`` (:func:`check_output`) and create its empty staging folder ``<out>.tmp``."""
    check_output(out)
    staging = _staging(out)
    try:
        if staging.is_dir():
            shutil.rmtree(staging)  # left by an interrupted run
        staging.mkdir(parents=True)
        (staging / TRUTH_DIR).mkdir()
    except OSError as exc:
        raise ShopOutputError(
            f"output folder {out}: cannot create {staging} ({exc.strerror or exc}); choose a folder you can write to."
        ) from exc
    return staging


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` by ``staging``; the old tables are removed only once the new ones are in place."""
    if not out.exists():
        staging.rename(out)
        return
    old = out.with_name(out.name + ".old")
    _remove(old)
    out.rename(old)
    staging.rename(out)
    _remove(old)


def _remove(path: Path) -> None:
    """Remove a folder, or only the link when it is a symbolic link to one (the tables it points at stay)."""
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


class _TableWriter:
    """Parquet files in a folder, one per table, each appended to one row group at a time.

    Keeps per table the row count and the fingerprint of :func:`features.store.fingerprint` over all rows
    appended, computed incrementally (row hashes do not depend on the rows around them).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._schemas: dict[str, pa.Schema] = {}
        self._rows: dict[str, int] = {}
        self._digests: dict[str, tuple[Any, list[str]]] = {}  # a running hashlib.sha256 and the column names

    def append(self, name: str, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if name not in self._writers:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self._schemas[name] = table.schema
            try:
                self._writers[name] = pq.ParquetWriter(self.directory / f"{name}.parquet", table.schema)
            except OSError as exc:
                raise ShopOutputError(f"cannot write {self.directory / name}.parquet: {exc}") from exc
            self._rows[name] = 0
            self._digests[name] = (hashlib.sha256(), [str(c) for c in frame.columns])
        else:
            table = pa.Table.from_pandas(frame, schema=self._schemas[name], preserve_index=False)
        try:
            self._writers[name].write_table(table)
        except OSError as exc:
            raise ShopOutputError(
                f"writing {self.directory / name}.parquet failed ({exc}); check the free space and retry."
            ) from exc
        self._rows[name] += len(frame)
        self._digests[name][0].update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())

    @property
    def info(self) -> dict[str, dict[str, object]]:
        """Per table: ``rows`` and ``fingerprint``, as :func:`features.store.save_tables` records them."""
        out = {}
        for name, (digest, columns) in self._digests.items():
            final = digest.copy()
            final.update(",".join(columns).encode())
            out[name] = {"rows": self._rows[name], "fingerprint": final.hexdigest()[:16]}
        return out

    def __enter__(self) -> _TableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        for writer in self._writers.values():
            writer.close()
