"""Demand forecasting: a global LightGBM quantile model with baselines, backtests and MLflow packaging.

Public API: :class:`Forecaster` (the inference object; ``forecast(skus, regions, horizon, quantiles)`` returns
the tidy frame), :func:`load_champion` (the registry's champion), :class:`DemandPanel` (history as a matrix),
:class:`GlobalForecastModel` and :class:`ModelParams`, :func:`rolling_origin` backtests and the baselines.
See docs/forecast.md.
"""

from training.forecast.backtest import BacktestResult, rolling_origin
from training.forecast.baselines import BASELINES
from training.forecast.data import ALL_REGIONS, DemandPanel
from training.forecast.features import ForecastFeatureSpec
from training.forecast.model import GlobalForecastModel, ModelParams
from training.forecast.predict import Forecaster, UnknownSeriesError
from training.forecast.pyfunc import load_champion

__all__ = [
    "ALL_REGIONS", "BASELINES", "BacktestResult", "DemandPanel", "ForecastFeatureSpec", "Forecaster",
    "GlobalForecastModel", "ModelParams", "UnknownSeriesError", "load_champion", "rolling_origin",
]
