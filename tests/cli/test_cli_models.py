"""``shopml models`` against a real SQLite registry: list, history and a manual promotion."""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import pytest

from training.registry import register_and_promote
from training.tracking import configure_mlflow, training_run


class Constant(mlflow.pyfunc.PythonModel):
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, context, model_input, params=None):
        return [self.value] * len(model_input)


def _register(settings, value: float, metric_value: float):
    with training_run(settings, "models-cli", f"v{value}") as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant(value), pip_requirements=["mlflow"])
    return register_and_promote(configure_mlflow(settings), model_name="churn", model_uri=info.model_uri,
                                run_id=run.info.run_id, metric="auc", value=metric_value, evaluation_key="e")


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env["SHOPML_DATA_HOME"] = str(settings.data_home)
    env["COLUMNS"] = "200"  # keep table cells on one line
    return subprocess.run([sys.executable, "-m", "cli", "models", *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=settings.data_home.parent)


@pytest.mark.slow
def test_list_history_and_manual_promotion(settings):
    _register(settings, 1.0, 0.7)
    _register(settings, 2.0, 0.6)  # worse: stays v1

    listed = _cli(settings, "list")
    assert listed.returncode == 0, listed.stderr
    assert "v1" in listed.stdout and "first version" in listed.stdout and "auc 0.7" in listed.stdout
    assert "shopml train forecast" in listed.stdout  # untrained models say how to train them

    history = _cli(settings, "history", "churn")
    assert history.returncode == 0 and "does not beat champion v1" in history.stdout

    promoted = _cli(settings, "promote", "churn", "2", "--reason", "rollback test")
    assert promoted.returncode == 0 and "champion is now v2 (was v1)" in promoted.stdout
    assert mlflow.pyfunc.load_model("models:/churn@champion").predict([[0]]) == [2.0]

    missing = _cli(settings, "promote", "churn", "9")
    assert missing.returncode == 2 and "has no version 9" in missing.stderr and "Traceback" not in missing.stderr
    unknown = _cli(settings, "history", "nope")
    assert unknown.returncode == 2 and "no registered model named 'nope'" in unknown.stderr
