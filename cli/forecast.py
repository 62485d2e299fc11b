"""``shopml train forecast`` and ``shopml forecast``: the demand forecaster on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._console import console, table
from cli._engine import EngineOption, engine_settings, spark_for


def train_forecast(
    data: str = typer.Option("raw", help="raw (the tables from `shopml data generate/load`), online-retail, or a path."),
    freq: str = typer.Option("W", help="W (weeks starting Monday) or D (days)."),
    by_region: bool = typer.Option(True, "--by-region/--no-by-region", help="Also forecast per SKU x region."),
    horizon: int | None = typer.Option(None, help="Periods ahead (default 8 weeks or 28 days)."),
    top: int | None = typer.Option(None, help="Only the TOP SKUs by units sold."),
    origins: int = typer.Option(3, help="Backtest origins."),
    force: bool = typer.Option(False, help="Promote to champion even if the backtest is not better."),
    if_missing: bool = typer.Option(False, "--if-missing", help="Skip when a champion already exists."),
) -> None:
    """Backtest, fit and register the global LightGBM demand forecaster (p10/p50/p90)."""
    from shopml.errors import DataValidationError
    from shopml.settings import load_settings
    from training.forecast.data import TrainConfig, prepare
    from training.forecast.train import train_forecast as run
    from training.lifecycle import data_source, load_training_tables
    from training.names import DEMAND_FORECAST
    from training.registry import champion_version

    if freq not in ("W", "D"):
        raise DataValidationError(f"--freq must be W or D (got {freq!r}).")
    settings = load_settings()
    if if_missing and (version := champion_version(settings, DEMAND_FORECAST)) is not None:
        console.print(f"demand_forecast champion v{version} exists; skipped (--if-missing).")
        return
    config = TrainConfig(freq=freq, by_region=by_region, horizon=horizon, top_n=top, backtest_origins=origins)
    with console.status("backtesting and training the demand forecaster"):
        prepared = prepare(load_training_tables(settings, data), config, source=data_source(settings, data))
        result = run(settings, prepared, force=force)
    overall = result.metrics["overall"]
    cov = next(v for k, v in overall.items() if k.startswith("coverage"))
    rows = [("model (p50)", f"{overall['wape']:.3f}", f"{overall['mase']:.3f}", f"{overall['pinball']:.3f}", f"{cov:.3f}")]
    rows += [(k.removeprefix("bl_"), f"{v['wape']:.3f}", f"{v['mase']:.3f}", "", "")
             for k, v in result.baselines.items()]
    console.print(table(f"Backtest ({len(result.result.backtest.origins)} origins, "
                        f"{result.result.forecaster.max_horizon} periods ahead)",
                        ["forecast", "WAPE", "MASE", "pinball", "p10-p90 coverage"], rows))
    console.print(f"{DEMAND(result.version)}: {result.reason}; run {result.run_id}; {result.seconds:.1f} s")


def DEMAND(version: str | None) -> str:  # noqa: N802 - reads as a label
    return f"demand_forecast v{version}" if version else "demand_forecast (not registered)"


def forecast(
    sku: Annotated[list[str] | None, typer.Option("--sku", help="SKU to forecast (repeat; default: top 10).")] = None,
    region: Annotated[list[str] | None, typer.Option("--region", help="Region (repeat; ALL = total).")] = None,
    horizon: int = typer.Option(8, help="Periods ahead."),
    freq: str | None = typer.Option(None, help="Frequency the champion must have, W or D (default: the champion's)."),
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the tidy frame to CSV or Parquet.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a PNG of history, p50 and the p10-p90 band.")] = None,
    alias: str = typer.Option("champion", help="Registry alias to load."),
    all_skus: bool = typer.Option(False, "--all-skus", help="Forecast every SKU with history (and each of its regions): the nightly batch; use with -o."),
    engine: EngineOption = None,
) -> None:
    """Forecast demand (p10/p50/p90) with the registered champion."""
    import numpy as np

    from features.demand import ALL_REGIONS
    from shopml.errors import DataValidationError
    from training.forecast import Forecaster
    from training.registry import load_champion

    if all_skus and sku:
        raise DataValidationError("--all-skus forecasts every SKU; give it or --sku, not both.")
    if output is not None and output.suffix.lower() not in (".csv", ".parquet"):
        raise DataValidationError(f"--output {output}: use a .csv or .parquet file name.")
    settings = engine_settings(engine)
    champion = load_champion(Forecaster, settings, alias)
    forecaster, version = champion.model, champion.version
    if freq is not None and freq != forecaster.freq:
        raise DataValidationError(f"--freq {freq} does not match the champion's frequency {forecaster.freq}; "
                                  f"train and promote one with `shopml train forecast --freq {freq} --force` (one champion serves one frequency).")
    skus = list(sku) if sku else None
    if skus is None and not all_skus:
        full = forecaster.forecast_array()
        totals = np.flatnonzero(forecaster.keys["region"].to_numpy() == ALL_REGIONS)
        order = totals[np.argsort(-full[totals, :, forecaster.quantiles.index(0.5)].sum(axis=1))[:10]]
        skus = forecaster.keys["sku"].to_numpy()[order].tolist()
    regions = list(region) if region else None
    if settings.engine == "spark":
        from training import batch

        forecaster.check_request(skus, regions, horizon)  # before Spark starts: an unknown SKU is one line
        with spark_for(settings, batch) as spark, console.status("forecasting on Spark"):
            frame = batch.forecast_spark(spark, forecaster, skus, regions, horizon, n_partitions=settings.spark_partitions)
    else:
        frame = forecaster.forecast(skus=skus, regions=regions, horizon=horizon)
    if output is not None:
        from features.store import write_frame

        write_frame(frame, output)
        console.print(f"{len(frame):,} rows written to {output}")
    else:
        shown = frame.head(60)
        console.print(table(f"demand_forecast v{version} from {forecaster.origin.date()} ({forecaster.freq})",
                            list(shown.columns),
                            [[f"{v:.1f}" if isinstance(v, float) else (v.date() if hasattr(v, "date") else v)
                              for v in row] for row in shown.itertuples(index=False)]))
        if len(frame) > len(shown):
            console.print(f"... {len(frame) - len(shown):,} more rows (use --output)")
    if plot is not None:
        plotted = skus if skus is not None else list(dict.fromkeys(frame["sku"]))
        _plot(settings, forecaster, frame, plotted, plot)


def _plot(settings, forecaster, frame, skus, path: Path) -> None:
    """History from the raw tables when available, then the forecast band, for the first few SKUs."""
    import pandas as pd

    from features.demand import ALL_REGIONS
    from training.forecast import plots

    history = pd.DataFrame({"sku": pd.Series(dtype="str"), "period_start": pd.Series(dtype="datetime64[us]"),
                            "quantity": pd.Series(dtype="float64")})
    try:
        from features.demand import demand_series
        from features.store import load_tables

        orders = load_tables(settings.raw_dir, ("orders",))["orders"]
        history = demand_series(orders, freq=forecaster.freq, skus=skus[:4], cutoff=forecaster.origin + (
            pd.Timedelta(days=7) if forecaster.freq == "W" else pd.Timedelta(days=1)))
        history = history.loc[history["period_start"] > forecaster.origin - 26 * pd.Timedelta(days=7 if forecaster.freq == "W" else 1)]
    except Exception:  # noqa: BLE001 - the plot still shows the forecast without history
        pass
    totals = frame.loc[frame["region"] == ALL_REGIONS]
    fig = plots.forecast_band(history, totals if len(totals) else frame, skus[:4])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    console.print(f"plot written to {path}")
