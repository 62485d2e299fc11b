"""Promotion logic against a real (SQLite) MLflow registry: only a better model becomes champion."""

from __future__ import annotations

import os
import uuid

import mlflow
import pytest

from training.registry import register_and_promote
from training.tracking import configure_mlflow, training_run


class Constant(mlflow.pyfunc.PythonModel):
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, context, model_input, params=None):
        return [self.value] * len(model_input)


def _log(settings, value: float):
    with training_run(settings, "registry-test", f"v{value}") as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant(value), pip_requirements=["mlflow"])
    return run.info.run_id, info.model_uri


@pytest.mark.slow
def test_alias_moves_only_on_improvement_and_records_why(settings):
    _promotion_flow(settings, "toy")


@pytest.mark.slow
def test_same_flow_against_a_tracking_server(tmp_path):
    """Set SHOPML_TEST_TRACKING_SERVER (e.g. deploy/mlflow-postgres.sh's http://127.0.0.1:5000) to run it."""
    uri = os.environ.get("SHOPML_TEST_TRACKING_SERVER")
    if not uri:
        pytest.skip("no tracking server given in SHOPML_TEST_TRACKING_SERVER")
    from shopml.settings import load_settings

    _promotion_flow(load_settings(data_home=tmp_path, mlflow_tracking_uri=uri), f"toy-{uuid.uuid4().hex[:8]}")


def _promotion_flow(settings, name: str) -> None:
    client = configure_mlflow(settings)
    kwargs = {"model_name": name, "metric": "auc", "evaluation_key": "eval-A"}
    run1, uri1 = _log(settings, 1.0)
    first = register_and_promote(client, model_uri=uri1, run_id=run1, value=0.70, **kwargs)
    assert first.promoted and "first version" in first.reason

    run2, uri2 = _log(settings, 2.0)
    worse = register_and_promote(client, model_uri=uri2, run_id=run2, value=0.65, **kwargs)
    assert not worse.promoted and "does not beat champion v1" in worse.reason
    assert str(client.get_model_version_by_alias(name, "champion").version) == first.version
    assert client.get_run(run2).data.tags["promotion.promoted"] == "false"

    run3, uri3 = _log(settings, 3.0)
    other_eval = register_and_promote(client, model_uri=uri3, run_id=run3, value=0.99, model_name=name,
                                      metric="auc", evaluation_key="eval-B")
    assert not other_eval.promoted and "different evaluation" in other_eval.reason

    rescored = register_and_promote(client, model_uri=uri3, run_id=run3, value=0.80, model_name=name, metric="auc",
                                    evaluation_key="eval-B", rescore=lambda uri: 0.75)
    assert rescored.promoted and rescored.champion_value == 0.75

    forced = register_and_promote(client, model_uri=uri2, run_id=run2, value=0.1, force=True, **kwargs)
    assert forced.promoted and forced.reason.startswith("forced")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(loaded.predict([[0], [0]])) == [2.0, 2.0]
