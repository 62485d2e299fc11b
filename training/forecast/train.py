"""Train the demand forecaster: backtest on rolling origins, fit on all history, then the shared lifecycle.

The backtest fits one model at the earliest backtest origin and forecasts from every backtest origin with
it (the history it reads grows, the model does not see later targets), which costs one fit instead of one
per origin. The interval stretch is chosen on the backtest origins (conformal-style, from backtest residuals)
and applied to the final model, which is fit on all history. The primary metric for promotion is the
backtest WAPE (lower is better) on an evaluation key naming the data fingerprint, frequency, level and origins.
Logging, registration and promotion are :func:`training.lifecycle.run_training`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features.demand import ALL_REGIONS, DemandPanel
from shopml.settings import Settings
from training.forecast.backtest import BacktestResult, rolling_origin
from training.forecast.data import ForecastData
from training.forecast.model import GlobalForecastModel, ModelParams, apply_stretch, stretch_factors
from training.forecast.predict import Forecaster
from training.lifecycle import Candidate, Lineage, TrainOutcome, run_training
from training.names import DEMAND_FORECAST

log = logging.getLogger(__name__)

EXPERIMENT = "demand_forecast"
DEFAULT_MAX_ROWS = 100_000
"""Training rows the global model subsamples to (seeded): bounds ``shopml train forecast``'s time."""
@dataclass
class ForecastResult:
    """The forecaster fitted on all history and its rolling-origin backtest (metrics with the baselines)."""

    forecaster: Forecaster
    backtest: BacktestResult
    metrics: dict[str, object]


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


def train_forecast(settings: Settings, data: ForecastData, *, params: ModelParams | None = None,
                   force: bool = False) -> TrainOutcome[ForecastResult]:
    """Backtest, fit on all history, then log, register and promote ``demand_forecast`` if it wins (or ``force``)."""
    started = time.perf_counter()
    params = replace(params or ModelParams(max_rows=DEFAULT_MAX_ROWS, seed=settings.seed), horizon=data.horizon)
    backtest, stretch = backtest_once(data.panel, data.products, params, data.origins)
    metrics = backtest.metrics()
    model = GlobalForecastModel(replace(params, calibration_origins=0)).fit(data.panel, data.products)
    model.fitted_.stretch = stretch
    forecaster = Forecaster.from_model(model, data.panel, data.products)
    forecaster.forecast_array()
    result = ForecastResult(forecaster, backtest, metrics)
    config, panel = data.config, data.panel
    candidate = Candidate(
        model_name=DEMAND_FORECAST, experiment=EXPERIMENT, run_name=f"forecast-{config.freq}-{data.level}",
        model=forecaster, example=pd.DataFrame({"sku": forecaster.skus[:1], "region": [ALL_REGIONS]}),
        metric="backtest_wape", value=float(metrics["overall"]["wape"]), higher_is_better=False,
        lineage=Lineage(data.fingerprint, data.evaluation_key,
                        {"train_end": str(panel.periods[-1].date()), "first_backtest_origin": data.origin_dates[0]},
                        tuple(forecaster.fitted.feature_names)),
        params={**{f"model.{k}": v for k, v in params.to_dict().items()},
                "source": data.source[:200], "freq": config.freq, "level": data.level, "top_n": config.top_n,
                "n_series": panel.n_series, "n_periods": panel.n_periods,
                "backtest_origins": ",".join(data.origin_dates), **{f"dropped.{k}": v for k, v in data.dropped.items()}},
        metrics={k: v for k, v in metrics.items() if k != "baselines"}, metrics_prefix="backtest",
        baselines=metrics["baselines"],
        artifacts={"backtest.json": {"stretch": {repr(k): v for k, v in forecaster.fitted.stretch.items()},
                                     "metrics": metrics}},
        figures=_figures(data.panel, result),
    )
    return run_training(settings, candidate, result, force=force, started=started)


def _figures(panel: DemandPanel, result: ForecastResult) -> dict[str, Callable[[], object]]:
    """The top SKUs' forecast and last backtest origin, and backtest WAPE and coverage by horizon."""
    from training.forecast import plots

    totals = panel.keys["region"].to_numpy() == ALL_REGIONS
    volume = np.nansum(panel.values[:, -26:], axis=1) * totals
    top = panel.keys["sku"].to_numpy()[np.argsort(-volume)[:4]].tolist()
    long = panel.to_long()
    recent = long.loc[(long["region"] == ALL_REGIONS) & (long["period_start"] >= panel.periods[max(0, panel.n_periods - 26)])]
    forecast = result.forecaster.forecast(skus=top, regions=[ALL_REGIONS], horizon=result.forecaster.max_horizon)
    bt = result.backtest.frame
    last = bt.loc[(bt["origin"] == bt["origin"].max()) & (bt["region"] == ALL_REGIONS) & bt["sku"].isin(top)]
    actual = last.rename(columns={"y": "quantity"}).assign(period_start=lambda f: f["origin"] + f["horizon"] * panel.step)
    hist = long.loc[(long["region"] == ALL_REGIONS) & (long["period_start"] <= bt["origin"].max())
                    & (long["period_start"] > bt["origin"].max() - 26 * panel.step)]
    by_h = result.metrics["by_horizon"]
    cov_key = next(k for k in next(iter(by_h.values())) if k.startswith("coverage"))
    return {
        "forecast_top_skus": lambda: plots.forecast_band(recent, forecast, top,
                                                         title="Top SKUs: forecast from the last period"),
        "backtest_top_skus": lambda: plots.forecast_band(
            hist, actual[["sku", "period_start", "p10", "p50", "p90"]], top,
            actual=actual[["sku", "period_start", "quantity"]], title="Backtest: last origin, actual vs p10-p90"),
        "wape_by_horizon": lambda: plots.by_horizon(by_h, "wape", title="Backtest WAPE by horizon"),
        "coverage_by_horizon": lambda: plots.by_horizon(by_h, cov_key, target=0.8,
                                                        title="Backtest p10-p90 coverage by horizon"),
    }
