"""Train the demand forecaster: backtest on rolling origins, fit on all history, log to MLflow, promote.

The backtest fits one model at the earliest backtest origin and forecasts from every backtest origin with
it (the history it reads grows, the model does not see later targets), which costs one fit instead of one
per origin. The interval stretch is chosen on the backtest origins (conformal-style, from backtest residuals)
and applied to the final model, which is fit on all history. The primary metric for promotion is the
backtest WAPE (lower is better) on an evaluation key naming the data fingerprint, frequency, level and origins.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from shopml.errors import DataValidationError
from training.forecast.backtest import BacktestResult, rolling_origin
from training.forecast.data import ALL_REGIONS, DemandPanel
from training.forecast.model import GlobalForecastModel, ModelParams, apply_stretch, stretch_factors
from training.forecast.predict import Forecaster
from training.names import DEMAND_FORECAST

log = logging.getLogger(__name__)

EXPERIMENT = "demand_forecast"
DEFAULT_HORIZON = {"W": 8, "D": 28}


@dataclass(frozen=True)
class TrainConfig:
    """What to train on and how to evaluate it.

    Parameters
    ----------
    data
        ``"raw"`` (the canonical tables in ``settings.raw_dir``), ``"online-retail"`` (the shared UCI file) or a
        path to an Online Retail export or canonical folder.
    freq, by_region, horizon
        Weekly or daily; also forecast per SKU x region (totals stay coherent); periods ahead.
    top_n
        Keep only the ``top_n`` SKUs by units sold (all when None).
    backtest_origins
        Rolling origins for the backtest, spaced half a horizon apart and ending one horizon before the data.
    """

    data: str = "raw"
    freq: str = "W"
    by_region: bool = True
    horizon: int | None = None
    top_n: int | None = None
    backtest_origins: int = 3
    register: bool = True
    force: bool = False
    params: ModelParams = field(default_factory=lambda: ModelParams(max_rows=100_000))

    def resolved_horizon(self) -> int:
        return self.horizon or DEFAULT_HORIZON.get(self.freq, 8)


@dataclass
class TrainResult:
    forecaster: Forecaster
    backtest: BacktestResult
    metrics: dict[str, object]
    run_id: str | None = None
    version: str | None = None
    promoted: bool | None = None
    reason: str = ""
    seconds: float = 0.0


SHARED_ONLINE_RETAIL = Path(__file__).resolve().parents[3] / "shared" / "data" / "online_retail" / "online_retail_I.csv.gz"


def load_demand_data(settings, data: str) -> tuple[pd.DataFrame, pd.DataFrame | None, str, dict[str, int]]:
    """Orders (sales lines, guests kept), products, a source label and the counts set aside."""
    from features.cleaning import demand_orders

    if data == "raw":
        from features.store import load_tables, read_manifest

        tables = load_tables(settings.raw_dir, ("orders", "products"))
        orders, products = tables["orders"], tables["products"]
        source = str(read_manifest(settings.raw_dir).get("source", "raw"))
    else:
        from features.loaders import load

        path = SHARED_ONLINE_RETAIL if data == "online-retail" else Path(data)
        result = load(path)
        orders, products, source = result.orders, result.tables.get("products"), result.source
    kept, dropped = demand_orders(orders)
    return kept, products, source, dropped


def backtest_origins(n_periods: int, horizon: int, count: int) -> list[int]:
    """``count`` origins half a horizon apart, the last one a horizon before the end (earliest dropped if short)."""
    gap = max(1, horizon // 2)
    last = n_periods - 1 - horizon
    origins = [last - k * gap for k in reversed(range(count))]
    origins = [o for o in origins if o >= max(4, horizon)]
    if not origins:
        raise DataValidationError(f"{n_periods} periods are too few to backtest a {horizon}-period horizon; "
                                  f"need at least {max(4, horizon) + horizon + 1}.")
    return origins


def backtest_once(panel: DemandPanel, products, params: ModelParams, origins: list[int]) -> tuple[BacktestResult, dict]:
    """Fit once at the first origin, forecast from every origin; stretch chosen on earlier origins."""
    raw_params = replace(params, calibration_origins=0)
    model = GlobalForecastModel(raw_params).fit(panel.truncate(origins[0] + 1), products)
    result = rolling_origin(panel, lambda hist: model.predict(hist, products), origins, horizon=params.horizon,
                            quantiles=params.quantiles)
    frame = result.frame
    cols = [f"p{100 * q:g}" for q in params.quantiles]
    stretch = stretch_factors(frame[cols].to_numpy(), frame["y"].to_numpy(), params.quantiles)
    if len(origins) > 1:  # evaluate intervals honestly: stretch from the earlier origins, applied to the last
        early = frame["origin"] < panel.periods[origins[-1]]
        honest = stretch_factors(frame.loc[early, cols].to_numpy(), frame.loc[early, "y"].to_numpy(), params.quantiles)
        late = ~early
        frame.loc[late, cols] = np.maximum(apply_stretch(frame.loc[late, cols].to_numpy(), params.quantiles, honest), 0)
        frame.loc[early, cols] = np.maximum(apply_stretch(frame.loc[early, cols].to_numpy(), params.quantiles, honest), 0)
    return result, stretch


def train_forecast(settings, config: TrainConfig | None = None) -> TrainResult:
    """Backtest, fit, log to MLflow and register/promote ``demand_forecast`` (when ``config.register``)."""
    config = config or TrainConfig()
    started = time.perf_counter()
    params = replace(config.params, horizon=config.resolved_horizon(), seed=settings.seed)
    orders, products, source, dropped = load_demand_data(settings, config.data)
    skus = None
    if config.top_n:
        skus = orders.groupby("sku")["quantity"].sum().nlargest(config.top_n).index.tolist()
    panel = DemandPanel.from_orders(orders, freq=config.freq, by_region=config.by_region, skus=skus)
    origins = backtest_origins(panel.n_periods, params.horizon, config.backtest_origins)
    backtest, stretch = backtest_once(panel, products, params, origins)
    metrics = backtest.metrics()
    model = GlobalForecastModel(replace(params, calibration_origins=0)).fit(panel, products)
    model.fitted_.stretch = stretch
    forecaster = Forecaster.from_model(model, panel, products)
    forecaster.forecast_array()
    result = TrainResult(forecaster, backtest, metrics)
    if config.register:
        _track(settings, config, params, panel, orders, products, source, dropped, origins, result)
    result.seconds = time.perf_counter() - started
    return result


def _track(settings, config, params, panel, orders, products, source, dropped, origins, result) -> None:
    import mlflow

    from features.store import fingerprint
    from training.forecast import plots
    from training.forecast.pyfunc import log_forecaster
    from training.registry import register_and_promote
    from training.tracking import (
        configure_mlflow,
        log_data_lineage,
        log_figure,
        log_metrics_flat,
        training_run,
    )

    client = configure_mlflow(settings)
    fp = fingerprint(orders[["sku", "quantity", "ordered_at"]])
    origin_dates = [str(panel.periods[o].date()) for o in origins]
    level = "sku_region" if config.by_region else "sku"
    evaluation_key = f"{fp}:{config.freq}:{level}:h{params.horizon}:{','.join(origin_dates)}:top{config.top_n}"
    with training_run(settings, EXPERIMENT, f"forecast-{config.freq}-{level}") as run:
        mlflow.log_params({f"model.{k}": v for k, v in params.to_dict().items()})
        mlflow.log_params({"data": config.data, "source": source[:200], "freq": config.freq, "level": level,
                           "top_n": config.top_n, "n_series": panel.n_series, "n_periods": panel.n_periods,
                           "backtest_origins": ",".join(origin_dates), **{f"dropped.{k}": v for k, v in dropped.items()}})
        log_data_lineage(fp, {"train_end": str(panel.periods[-1].date()), "first_backtest_origin": origin_dates[0]},
                         result.forecaster.fitted.spec.names(config.freq))
        log_metrics_flat({"backtest": result.metrics})
        mlflow.log_dict({"stretch": {repr(k): v for k, v in result.forecaster.fitted.stretch.items()},
                         "metrics": result.metrics}, "backtest.json")
        _log_plots(panel, result, config, plots, log_figure)
        info = log_forecaster(result.forecaster)
        wape = float(result.metrics["overall"]["wape"])
        decision = register_and_promote(client, model_name=DEMAND_FORECAST, model_uri=info.model_uri,
                                        run_id=run.info.run_id, metric="backtest_wape", value=wape,
                                        evaluation_key=evaluation_key, higher_is_better=False, force=config.force)
    result.run_id, result.version = run.info.run_id, decision.version
    result.promoted, result.reason = decision.promoted, decision.reason


def _log_plots(panel, result, config, plots, log_figure) -> None:
    totals = panel.keys["region"].to_numpy() == ALL_REGIONS
    volume = np.nansum(panel.values[:, -26:], axis=1) * totals
    top = panel.keys["sku"].to_numpy()[np.argsort(-volume)[:4]].tolist()
    long = panel.to_long()
    long = long.loc[(long["region"] == ALL_REGIONS) & (long["period_start"] >= panel.periods[max(0, panel.n_periods - 26)])]
    forecast = result.forecaster.forecast(skus=top, regions=[ALL_REGIONS], horizon=result.forecaster.max_horizon)
    log_figure(plots.forecast_band(long, forecast, top, title="Top SKUs: forecast from the last period"), "forecast_top_skus")
    bt = result.backtest.frame
    last = bt.loc[(bt["origin"] == bt["origin"].max()) & (bt["region"] == ALL_REGIONS) & bt["sku"].isin(top)]
    actual = last.rename(columns={"y": "quantity"}).assign(period_start=lambda f: f["origin"] + f["horizon"] * panel.step)
    fc = actual[["sku", "period_start", "p10", "p50", "p90"]]
    hist = panel.to_long()
    hist = hist.loc[(hist["region"] == ALL_REGIONS) & (hist["period_start"] <= bt["origin"].max())
                    & (hist["period_start"] > bt["origin"].max() - 26 * panel.step)]
    log_figure(plots.forecast_band(hist, fc, top, actual=actual[["sku", "period_start", "quantity"]],
                                   title="Backtest: last origin, actual vs p10-p90"), "backtest_top_skus")
    by_h = result.metrics["by_horizon"]
    log_figure(plots.by_horizon(by_h, "wape", title="Backtest WAPE by horizon"), "wape_by_horizon")
    cov_key = next(k for k in next(iter(by_h.values())) if k.startswith("coverage"))
    log_figure(plots.by_horizon(by_h, cov_key, target=0.8, title="Backtest p10-p90 coverage by horizon"), "coverage_by_horizon")
