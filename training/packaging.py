"""Log any served model as a self-contained MLflow pyfunc: its folder, its code, pinned requirements, a signature.

Every registered model is the same wrapper, :class:`ServedPyfunc`, around one artifact folder written by the
family's ``save``. The model carries

- the code it needs (``code_paths``: the packages in :data:`CODE_PACKAGES`, without ``__pycache__``), so
  ``mlflow.pyfunc.load_model`` works in a clean environment and loads the code the model was trained with;
- ``requirements.txt`` with every distribution that code imports, pinned to the versions installed at training
  (:data:`REQUIREMENTS`), so ``uv pip install -r requirements.txt`` rebuilds its environment;
- an honest signature: the input example's columns (those the family lists in ``optional_inputs`` are optional),
  the named output columns of ``predict`` on that example, and the family's ``default_params``.

MLflow 3 treats the working directory as a uv project when it holds ``uv.lock`` and ``pyproject.toml`` and copies
both into the model; ``mlflow models predict --env-manager uv`` then runs ``uv sync`` on them, which builds the
shopml project itself and fails (its README is not there). :func:`log_model` therefore turns that detection off
(``MLFLOW_UV_AUTO_DETECT=false`` while logging): the model's environment is its ``requirements.txt``.

Inside the project the service and the CLI do not unpickle the wrapper: :func:`training.registry.load_champion`
downloads the version's artifact folder and calls the checkout's ``Family.load`` on it, so served objects are
always instances of the checkout's classes and nothing is prepended to ``sys.path``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from importlib import metadata as importlib_metadata
from pathlib import Path

import pandas as pd

from training.contract import Params, ServedModel, family_name

try:  # the wrapper's base class is needed at class definition
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a core dependency
    PythonModel = object  # type: ignore[assignment,misc]

ARTIFACT = "model"
"""Key (and folder name) of the family's saved folder among the MLflow model's artifacts."""
FAMILY_KEY = "shopml_family"
"""MLmodel metadata key holding ``module.Class`` of the family (which class loads the artifact folder)."""
CODE_PACKAGES = ("shopml", "features", "training")
"""The project packages a registered model carries (the kernel, the feature layer and the model code)."""
REQUIREMENTS = (
    "mlflow", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "lightgbm", "pydantic", "pydantic-settings",
    "threadpoolctl", "matplotlib", "cloudpickle",
)
"""Distributions the carried code imports when a model is loaded and used (pinned to the installed versions)."""


class ServedPyfunc(PythonModel):
    """The MLflow wrapper of every family: ``model`` is the plain inference object once the context is loaded."""

    def __init__(self, family: type[ServedModel], model: ServedModel | None = None) -> None:
        self.family = family
        self.model = model

    def load_context(self, context) -> None:
        self.model = self.family.load(context.artifacts[ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params: Params | None = None) -> pd.DataFrame:
        if self.model is None:
            raise RuntimeError("the model is not loaded (load it with mlflow.pyfunc.load_model)")
        return self.model.predict(pd.DataFrame(model_input), params)


def pinned_requirements() -> list[str]:
    """:data:`REQUIREMENTS` pinned to the versions installed in this environment."""
    return [f"{name}=={importlib_metadata.version(name)}" for name in REQUIREMENTS]


def project_root() -> Path:
    """The folder holding :data:`CODE_PACKAGES` (the checkout or the installed site-packages)."""
    return Path(__file__).resolve().parents[1]


def log_model(inference_object: ServedModel, *, example: pd.DataFrame, name: str = "model") -> str:
    """Log ``inference_object`` as a self-contained pyfunc in the active MLflow run; returns the model URI.

    ``example`` is a small input frame (a few rows of real inputs); it becomes the input example, and the
    output of ``inference_object.predict(example)`` defines the output schema.
    """
    import mlflow

    family = type(inference_object)
    signature = _signature(inference_object, example)
    with tempfile.TemporaryDirectory() as tmp:
        folder = inference_object.save(Path(tmp) / ARTIFACT)
        code = _copy_code(Path(tmp) / "code")
        with _no_uv_project(), _sys_path_restored():
            info = mlflow.pyfunc.log_model(
                name=name, python_model=ServedPyfunc(family), artifacts={ARTIFACT: str(folder)},
                code_paths=[str(code / package) for package in CODE_PACKAGES],
                signature=signature, input_example=example, pip_requirements=pinned_requirements(),
                metadata={FAMILY_KEY: family_name(family), "shopml": _json_metadata(inference_object)},
            )
    return info.model_uri


def _signature(inference_object: ServedModel, example: pd.DataFrame):
    from mlflow.models import infer_signature
    from mlflow.types.schema import ColSpec, Schema

    output = inference_object.predict(example)
    params = inference_object.default_params() or None
    with warnings.catch_warnings():  # "integer columns cannot hold missing values": our integer columns never miss
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(example, output, params=params)
    optional = set(type(inference_object).optional_inputs)
    if optional and signature.inputs is not None:
        signature.inputs = Schema([
            ColSpec(col.type, col.name, required=col.name not in optional) for col in signature.inputs.inputs
        ])
    return signature


def _json_metadata(inference_object: ServedModel) -> dict[str, object]:
    import json

    return json.loads(json.dumps(inference_object.metadata, default=str))


def _copy_code(target: Path) -> Path:
    """A copy of :data:`CODE_PACKAGES` without caches, so the model carries sources only."""
    root = project_root()
    for package in CODE_PACKAGES:
        shutil.copytree(root / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


@contextlib.contextmanager
def _no_uv_project() -> Iterator[None]:
    """Stop MLflow from copying the project's ``uv.lock``/``pyproject.toml`` into the model (see module doc)."""
    previous = os.environ.get("MLFLOW_UV_AUTO_DETECT")
    os.environ["MLFLOW_UV_AUTO_DETECT"] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_UV_AUTO_DETECT", None)
        else:
            os.environ["MLFLOW_UV_AUTO_DETECT"] = previous


@contextlib.contextmanager
def _sys_path_restored() -> Iterator[None]:
    """MLflow validates the input example by loading the model, which prepends its code folder to ``sys.path``."""
    saved = list(sys.path)
    try:
        yield
    finally:
        sys.path[:] = saved
