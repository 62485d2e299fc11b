"""The recommender as an MLflow pyfunc model, and the loader for the registry champion.

:class:`RecommenderModel` is a ``mlflow.pyfunc.PythonModel`` whose only artifact is a folder written by
:meth:`Recommender.save`; after loading, ``unwrap_python_model().model`` is the plain
:class:`~training.recommend.predict.Recommender` the service calls in-process. ``predict`` takes a frame
with ``customer_id`` (and optional ``k``) and returns one row per recommended item.
"""

from __future__ import annotations

import warnings

import pandas as pd

try:  # mlflow is imported lazily elsewhere; here the base class is needed at class definition
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a core dependency
    PythonModel = object

from training.names import CHAMPION_ALIAS, RECOMMENDER
from training.recommend.predict import Recommender

ARTIFACT = "recommender"
PIP_REQUIREMENTS = ["numpy", "pandas", "scipy"]
OUTPUT_COLUMNS = ("customer_id", "rank", "sku", "score", "source")


class RecommenderModel(PythonModel):
    """Pyfunc wrapper: ``.model`` holds the :class:`Recommender` once the context is loaded."""

    def __init__(self, model: Recommender | None = None) -> None:
        self.model = model

    def load_context(self, context) -> None:
        self.model = Recommender.load(context.artifacts[ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        default_k = int((params or {}).get("k", 10))
        ks = frame["k"].astype(int).tolist() if "k" in frame else [default_k] * len(frame)
        rows = []
        for customer, k in zip(frame["customer_id"].tolist(), ks, strict=True):
            customer = None if pd.isna(customer) else str(customer)
            for rank, rec in enumerate(self.model.recommend(customer, k=k), start=1):
                rows.append((customer, rank, rec.sku, rec.score, rec.source))
        return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))


def log_recommender(recommender: Recommender, directory, name: str = "model"):
    """Save ``recommender`` to ``directory`` and log it as a pyfunc with a signature; returns model info."""
    import mlflow
    from mlflow.models import infer_signature

    folder = recommender.save(directory)
    example = pd.DataFrame({"customer_id": [recommender.customer_ids[0] if recommender.n_customers else "0"],
                            "k": [3]})
    output = RecommenderModel(recommender).predict(None, example)
    with warnings.catch_warnings():  # "integer columns cannot hold missing values": k and rank never miss
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(example, output)
    return mlflow.pyfunc.log_model(
        name=name, python_model=RecommenderModel(), artifacts={ARTIFACT: str(folder)},
        signature=signature, input_example=example, pip_requirements=PIP_REQUIREMENTS,
    )


def load_champion(settings, alias: str = CHAMPION_ALIAS) -> tuple[Recommender, str]:
    """The registry's ``recommender@alias`` as a :class:`Recommender` and its version."""
    from training.registry import load_champion_model

    return load_champion_model(settings, RECOMMENDER, alias)
