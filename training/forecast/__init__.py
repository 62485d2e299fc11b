"""Demand forecasting: a global LightGBM quantile model with baselines, backtests and MLflow packaging.

Public API: :class:`Forecaster` (the inference object; ``forecast(skus, regions, horizon, quantiles)`` returns
the tidy frame), ``training.registry.load_champion(Forecaster, settings)`` (the registry's champion), :class:`DemandPanel` (history as a matrix),
:class:`GlobalForecastModel` and :class:`ModelParams`, :func:`rolling_origin` backtests and the baselines.
See docs/forecast.md.
"""

from features.demand import ALL_REGIONS, DemandFeatureSpec, DemandPanel
from training.forecast.backtest import BacktestResult, rolling_origin
from training.forecast.baselines import BASELINES
from training.forecast.model import GlobalForecastModel, ModelParams
from training.forecast.predict import Forecaster, UnknownSeriesError

__all__ = [
    "ALL_REGIONS", "BASELINES", "BacktestResult", "DemandFeatureSpec", "DemandPanel", "Forecaster",
    "GlobalForecastModel", "ModelParams", "UnknownSeriesError", "rolling_origin",
]
