"""Demand forecasting: a global LightGBM quantile model with baselines, backtests and MLflow packaging.

Public API: :class:`DemandPanel` (history as a matrix), :class:`GlobalForecastModel` and :class:`ModelParams`,
:func:`rolling_origin` backtests, and the baselines.
"""

from training.forecast.backtest import BacktestResult, rolling_origin
from training.forecast.baselines import BASELINES
from training.forecast.features import ForecastFeatureSpec
from training.forecast.model import GlobalForecastModel, ModelParams
from training.forecast.panel import ALL_REGIONS, DemandPanel

__all__ = [
    "ALL_REGIONS", "BASELINES", "BacktestResult", "DemandPanel", "ForecastFeatureSpec", "GlobalForecastModel",
    "ModelParams", "rolling_origin",
]
