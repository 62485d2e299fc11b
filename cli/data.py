"""``shopml data``: generate the demo shop or load real data into canonical tables."""

from __future__ import annotations

from pathlib import Path

import typer

from cli._console import console, table
from cli._files import not_utf8

app = typer.Typer(help="Generate the synthetic demo shop or load real data.", no_args_is_help=True)


@app.command("generate")
def generate(
    customers: int | None = typer.Option(None, help="Customers to simulate (default 5,000)."),
    products: int | None = typer.Option(None, help="Products in the catalogue (default 600)."),
    days: int | None = typer.Option(None, help="Days of history (default 730)."),
    start: str | None = typer.Option(None, help="First day, YYYY-MM-DD (default 2023-01-01)."),
    warehouses: int | None = typer.Option(None, help="Warehouses (default 4)."),
    seed: int | None = typer.Option(None, help="Random seed (default: settings.seed)."),
    if_missing: bool = typer.Option(
        False, "--if-missing", help="Do nothing when the data home already holds tables (generated or loaded)."
    ),
) -> None:
    """Generate the synthetic demo shop (orders, products, customers, regions, warehouses, stock).

    It replaces the tables in the data home; ``--if-missing`` keeps them (what ``make run`` uses, so that data
    loaded with ``shopml data load`` survives it).
    """
    import dataclasses

    from features.store import read_manifest, save_tables
    from features.synthetic import ShopConfig, generate_shop
    from shopml.errors import NotTrainedError
    from shopml.settings import load_settings

    settings = load_settings()
    if if_missing:
        try:
            existing = read_manifest(settings.raw_dir)
        except NotTrainedError:
            pass
        else:
            orders = existing.get("tables", {}).get("orders", {}).get("rows", 0)
            console.print(
                f"{settings.raw_dir} already holds tables ({existing.get('source', 'unknown source')}, "
                f"{orders:,} order lines): kept, nothing generated (--if-missing). Run without --if-missing "
                "to replace them with the demo shop."
            )
            return
    chosen = {
        "customers": customers, "products": products, "days": days, "start": start,
        "warehouses": warehouses, "seed": seed if seed is not None else settings.seed,
    }
    config = dataclasses.replace(ShopConfig(), **{k: v for k, v in chosen.items() if v is not None})
    with console.status("generating the demo shop"):
        shop = generate_shop(config)
    tables = shop.tables()
    manifest = save_tables(tables, settings.raw_dir, source=f"synthetic:seed={config.seed}")
    truth_dir = settings.data_home / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in shop.truth.items():
        frame.to_parquet(truth_dir / f"{name}.parquet", index=False)
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


@app.command("load")
def load(
    path: Path = typer.Argument(..., help="A file or folder to load."),
    fmt: str | None = typer.Option(None, "--format", help="online-retail, cdnow or canonical (default: detect)."),
    strict: bool = typer.Option(False, help="Fail on the first rejected row instead of setting it aside."),
) -> None:
    """Load real data, validate it, and store it as the canonical tables.

    Rejected rows are written to ``<data home>/data/rejected.parquet`` with a reason each.
    """
    from features.loaders import FORMATS, load
    from features.store import save_tables
    from shopml.errors import DataValidationError
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
    save_tables(result.tables, settings.raw_dir, source=result.source)
    result.rejected.astype("str").to_parquet(settings.raw_dir / "rejected.parquet", index=False)
    for report in result.reports:
        rows = [("kept", f"{report.kept:,}")]
        rows += [(f"rejected: {reason}", f"{n:,}") for reason, n in report.rejected.items()]
        rows += [(f"kept, {what}", f"{n:,}") for what, n in report.notes.items()]
        console.print(table(f"{report.table}: {report.rows_in:,} rows read", ["", "rows"], rows))
    console.print(f"canonical tables in {settings.raw_dir}; rejected rows in {settings.raw_dir / 'rejected.parquet'}")
