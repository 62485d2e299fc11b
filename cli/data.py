"""``shopml data``: generate the demo shop or load real data into canonical tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli._console import console, table
from cli._files import not_utf8

if TYPE_CHECKING:
    from features.synthetic import ShopConfig
    from shopml.settings import Settings

app = typer.Typer(help="Generate the synthetic demo shop or load real data.", no_args_is_help=True)


@app.command("generate")
def generate(
    customers: int | None = typer.Option(None, help="Customers to simulate (default 5,000)."),
    products: int | None = typer.Option(None, help="Products in the catalogue (default 600)."),
    days: int | None = typer.Option(None, help="Days of history (default 730)."),
    start: str | None = typer.Option(None, help="First day, YYYY-MM-DD (default 2023-01-01)."),
    warehouses: int | None = typer.Option(None, help="Warehouses (default 4)."),
    seed: int | None = typer.Option(None, help="Random seed (default: settings.seed)."),
    id_prefix: str | None = typer.Option(
        None, "--id-prefix", help="Put this before each customer number (e.g. cust-): ids that cannot be taken for "
        "a number, for scanning the data home for them (`shopml privacy scan`).",
    ),
    if_missing: bool = typer.Option(
        False, "--if-missing", help="Do nothing when the data home already holds tables (generated or loaded)."
    ),
    order_lines: int | None = typer.Option(
        None, "--order-lines", help="Generate a shop of about N order lines (instead of --customers), chunk by "
        "chunk so that it never sits in memory whole: for tens of millions of lines.",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="With --order-lines: the folder for the tables (default: the data home's); written as "
        "OUT.tmp, then renamed, so a failed run leaves OUT as it was.",
    ),
    chunk_customers: int | None = typer.Option(
        None, "--chunk-customers", help="With --order-lines: customers generated at a time (a multiple of 1,000, "
        "default 20,000); bounds memory, never changes the data.",
    ),
) -> None:
    """Generate the synthetic demo shop (orders, products, customers, regions, warehouses, stock).

    It replaces the tables in the data home; ``--if-missing`` keeps them (what ``make run`` uses, so that data
    loaded with ``shopml data load`` survives it). ``--order-lines N`` generates a shop of about N lines in
    chunks, into ``--out`` or the data home, with the ground truth in its ``truth`` folder.
    """
    import dataclasses

    from features.identities import Ingestion
    from features.store import read_manifest, save_tables
    from features.synthetic import ShopConfig, generate_shop
    from shopml.errors import NotTrainedError, ShopmlError
    from shopml.privacy import VAULT_FILE
    from shopml.settings import load_settings

    settings = load_settings()
    if order_lines is None and (out is not None or chunk_customers is not None):
        raise ShopmlError("--out and --chunk-customers go with --order-lines N; add it, or drop them.")
    if order_lines is not None and customers is not None:
        raise ShopmlError("--order-lines and --customers both set the size; give one of them.")
    target = out if out is not None and order_lines is not None else settings.raw_dir
    if if_missing:
        try:
            existing = read_manifest(target)
        except NotTrainedError:
            pass
        else:
            orders = existing.get("tables", {}).get("orders", {}).get("rows", 0)
            console.print(
                f"{target} already holds tables ({existing.get('source', 'unknown source')}, "
                f"{orders:,} order lines): kept, nothing generated (--if-missing). Run without --if-missing "
                "to replace them with the demo shop."
            )
            return
    chosen = {
        "customers": customers, "products": products, "days": days, "start": start,
        "warehouses": warehouses, "seed": seed if seed is not None else settings.seed,
        "customer_id_prefix": id_prefix,
    }
    config = dataclasses.replace(ShopConfig(), **{k: v for k, v in chosen.items() if v is not None})
    if order_lines is not None:
        _generate_chunked(config, order_lines, chunk_customers, target, settings)
        return
    with console.status("generating the demo shop"):
        shop = generate_shop(config)
    ingestion = Ingestion(settings)
    private = ingestion({**shop.tables(), **{f"truth/{name}": frame for name, frame in shop.truth.items()}})
    tables = {name: frame for name, frame in private.tables.items() if not name.startswith("truth/")}
    manifest = save_tables(tables, settings.raw_dir, source=f"synthetic:seed={config.seed}",
                           extras={VAULT_FILE: private.vault}, identities=ingestion.manifest)
    truth_dir = settings.data_home / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in private.tables.items():
        if name.startswith("truth/"):
            frame.to_parquet(truth_dir / f"{name.removeprefix('truth/')}.parquet", index=False)
    _say_kept_out(ingestion.kept_out)
    console.print(table(
        f"Demo shop written to {settings.raw_dir}",
        ["table", "rows", "fingerprint"],
        [(name, f"{info['rows']:,}", info["fingerprint"]) for name, info in manifest["tables"].items()],
    ))
    orders = tables["orders"]
    console.print(
        f"{orders['ordered_at'].min():%Y-%m-%d} .. {orders['ordered_at'].max():%Y-%m-%d}; "
        f"ground truth in {truth_dir}"
    )


def _generate_chunked(
    shop: ShopConfig, order_lines: int, chunk_customers: int | None, out: Path, settings: Settings
) -> None:
    """``generate --order-lines``: the shop written chunk by chunk under a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from features.synthetic import ChunkedShopConfig, check_output, write_chunked_shop

    sizes = {"chunk_customers": chunk_customers} if chunk_customers is not None else {}
    config = ChunkedShopConfig(order_lines=order_lines, shop=shop, **sizes)
    check_output(out)  # before the progress bar: a bad --out is one line
    from features.identities import Ingestion

    ingest = Ingestion(settings)  # after the checks: a refused command writes nothing, not even the secret
    with Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("order lines"), TimeElapsedColumn(), console=console,
    ) as progress:
        task = progress.add_task(f"generating into {out}", total=order_lines)
        written = write_chunked_shop(
            config, out, on_chunk=lambda chunk: progress.advance(task, chunk.order_lines), ingest=ingest
        )
        progress.update(task, total=written.order_lines, completed=written.order_lines)
    tables = written.manifest["tables"]
    console.print(table(
        f"Synthetic shop of {written.order_lines:,} order lines written to {out} in {written.seconds:.1f}s",
        ["table", "rows", "fingerprint"],
        [(name, f"{info['rows']:,}", info["fingerprint"]) for name, info in tables.items()],
    ))
    console.print(f"ground truth in {out / 'truth'}; {written.customers:,} customers in {written.chunks} chunk(s)")


@app.command("load")
def load(
    path: Path = typer.Argument(..., help="A file or folder to load."),
    fmt: str | None = typer.Option(None, "--format", help="online-retail, cdnow or canonical (default: detect)."),
    strict: bool = typer.Option(False, help="Fail on the first rejected row instead of setting it aside."),
) -> None:
    """Load real data, validate it, and store it as the canonical tables.

    Rejected rows are written to ``<data home>/data/rejected.parquet`` with a reason each.
    """
    from features.identities import Ingestion
    from features.loaders import FORMATS, load
    from features.store import save_tables
    from shopml.errors import DataValidationError
    from shopml.privacy import VAULT_FILE
    from shopml.settings import load_settings

    if fmt is not None and fmt not in FORMATS:
        raise DataValidationError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r}).")
    settings = load_settings()
    with console.status(f"loading {path}"):
        try:
            result = load(path, fmt)
        except UnicodeDecodeError as exc:  # pandas reads CSV as UTF-8 and says nothing of the file
            raise not_utf8(path, exc, "re-save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8 IN.csv > OUT.csv`)") from exc
    if strict and len(result.rejected):
        first = result.rejected.iloc[0]
        raise DataValidationError(
            f"{len(result.rejected):,} row(s) rejected; first: row {first['row']} ({first['reason']}). "
            "Fix them or load without --strict to set them aside."
        )
    ingestion = Ingestion(settings)
    private = ingestion({**result.tables, "rejected": result.rejected})
    tables = {name: frame for name, frame in private.tables.items() if name != "rejected"}
    save_tables(tables, settings.raw_dir, source=result.source,
                extras={VAULT_FILE: private.vault, "rejected.parquet": private.tables["rejected"].astype("str")},
                identities=ingestion.manifest)
    _say_kept_out(ingestion.kept_out)
    for report in result.reports:
        rows = [("kept", f"{report.kept:,}")]
        rows += [(f"rejected: {reason}", f"{n:,}") for reason, n in report.rejected.items()]
        rows += [(f"kept, {what}", f"{n:,}") for what, n in report.notes.items()]
        console.print(table(f"{report.table}: {report.rows_in:,} rows read", ["", "rows"], rows))
    console.print(f"canonical tables in {settings.raw_dir}; rejected rows in {settings.raw_dir / 'rejected.parquet'}")


def _say_kept_out(kept_out: dict[str, int]) -> None:
    """Tell how many rows the erasure tombstones kept out of a load (never silently)."""
    if kept_out:
        counts = ", ".join(f"{n:,} {name} row(s)" for name, n in kept_out.items())
        console.print(f"kept out by erasure tombstones (docs/security.md, 'Erasure'): {counts}")
