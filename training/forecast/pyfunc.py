"""MLflow packaging: a pyfunc whose ``unwrap_python_model().model`` is the plain :class:`Forecaster`.

The Forecaster is stored as an artifact folder (LightGBM text boosters, npz, JSON), so the registered model
and ``Forecaster.load(folder)`` give the same object. ``predict`` takes a frame with a ``sku`` column (and
optionally ``region``) and ``params={"horizon": 8}`` (or a ``horizon`` column) and returns the tidy forecast frame;
without a horizon it forecasts the model's full horizon.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pandas as pd

from training.forecast.predict import Forecaster
from training.names import CHAMPION_ALIAS, DEMAND_FORECAST

log = logging.getLogger(__name__)

PIP_REQUIREMENTS = ["lightgbm==4.7.0", "pandas", "numpy", "mlflow"]


def _python_model_class():
    import mlflow

    class ForecastPyfunc(mlflow.pyfunc.PythonModel):
        """Wraps a :class:`Forecaster` (attribute ``model``) for MLflow."""

        def __init__(self) -> None:
            self.model: Forecaster | None = None

        def load_context(self, context) -> None:
            self.model = Forecaster.load(context.artifacts["forecaster"])

        def predict(self, context, model_input, params=None):
            params = params or {}
            frame = pd.DataFrame(model_input)
            skus = frame["sku"].astype("str").unique().tolist() if "sku" in frame else None
            regions = frame["region"].astype("str").unique().tolist() if "region" in frame else None
            horizon = params.get("horizon")
            if horizon is None and "horizon" in frame:
                horizon = int(frame["horizon"].max())
            return self.model.forecast(skus=skus, regions=regions, horizon=int(horizon or self.model.max_horizon))

    return ForecastPyfunc


def log_forecaster(forecaster: Forecaster, name: str = "model"):
    """Log ``forecaster`` as a pyfunc model in the active run; returns MLflow's ModelInfo."""
    import mlflow
    from mlflow.models import infer_signature

    example = pd.DataFrame({"sku": forecaster.skus[:1]})
    signature = infer_signature(example, forecaster.forecast(skus=forecaster.skus[:1], horizon=1),
                                params={"horizon": forecaster.max_horizon})
    with tempfile.TemporaryDirectory() as tmp:
        folder = forecaster.save(Path(tmp) / "forecaster")
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=_python_model_class()(),
            artifacts={"forecaster": str(folder)},
            pip_requirements=PIP_REQUIREMENTS,
            signature=signature,
        )


def load_forecaster(model_uri: str) -> Forecaster:
    """The plain :class:`Forecaster` behind a logged or registered model URI."""
    import mlflow

    return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().model


def load_champion(settings, alias: str = CHAMPION_ALIAS) -> tuple[Forecaster, str]:
    """The registry's ``demand_forecast@alias`` Forecaster and its version.

    Raises :class:`NotTrainedError` when no version carries the alias.
    """
    from training.registry import load_champion_model

    return load_champion_model(settings, DEMAND_FORECAST, alias)
