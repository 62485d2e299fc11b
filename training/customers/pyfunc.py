"""MLflow pyfunc wrapper: ``models:/churn@champion`` predicts probabilities, ``customer_value`` predicts spend.

The wrapped object is the plain inference object (:class:`ChurnModel` or :class:`ValueModel`), saved to a
folder artifact and reachable as ``mlflow.pyfunc.load_model(uri).unwrap_python_model().model``, so the
service calls its numpy methods directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd


def load_inference_object(directory: str | Path):
    """A :class:`ChurnModel` or :class:`ValueModel` from a folder written by its ``save``."""
    from training.customers.churn import ChurnModel
    from training.customers.value import ValueModel

    kind = json.loads((Path(directory) / "model.json").read_text())["kind"]
    return ChurnModel.load(directory) if kind == "churn" else ValueModel.load(directory)


class CustomerModelPyfunc(mlflow.pyfunc.PythonModel):
    """Predicts churn probabilities (churn) or expected spend (value) from a customer feature table."""

    def __init__(self) -> None:
        self.model = None

    def load_context(self, context) -> None:
        self.model = load_inference_object(context.artifacts["model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        from training.customers.churn import ChurnModel

        if isinstance(self.model, ChurnModel):
            return self.model.predict_proba(model_input)
        return self.model.predict(model_input)
