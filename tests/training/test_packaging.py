"""A logged model is self-contained and honest: its code, pinned requirements, no project files, a signature
whose optional inputs and params take effect, and the project's predictions when loaded by MLflow."""

from __future__ import annotations

import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from tests.training.forecast.conftest import FAST, products_for, seasonal_panel
from training.forecast import Forecaster
from training.packaging import CODE_PACKAGES, FAMILY_KEY, log_model, pinned_requirements
from training.tracking import training_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def regional_forecaster() -> Forecaster:
    panel, _ = seasonal_panel(n_series=6, n_weeks=110)
    keys = panel.keys.assign(region=["ALL", "ALL", "North", "South", "North", "South"],
                             sku=["P000", "P001", "P000", "P000", "P001", "P001"])
    regional = type(panel)(keys, panel.periods, panel.values, panel.freq)
    return Forecaster.fit(regional, products_for(regional), FAST)


@pytest.mark.slow
def test_logged_forecaster_is_self_contained_and_honest(settings, regional_forecaster, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)  # the project folder holds uv.lock and pyproject.toml: MLflow must not copy them
    path_before = list(sys.path)
    example = pd.DataFrame({"sku": ["P000"], "region": ["North"]})
    with training_run(settings, "packaging-test", "forecaster"):
        uri = log_model(regional_forecaster, example=example)
    assert sys.path == path_before  # logging validated the example without leaving the model's code on the path

    folder = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path)))
    assert (folder / "requirements.txt").read_text().split() == pinned_requirements()
    assert not (folder / "uv.lock").exists() and not (folder / "pyproject.toml").exists()
    assert sorted(p.name for p in (folder / "code").iterdir()) == sorted(CODE_PACKAGES)
    assert not list((folder / "code").rglob("__pycache__"))

    info = mlflow.models.get_model_info(uri)
    assert info.metadata[FAMILY_KEY] == "training.forecast.predict.Forecaster"
    inputs = {c.name: c.required for c in info.signature.inputs.inputs}
    assert inputs == {"sku": True, "region": False}
    assert {p.name for p in info.signature.params.params} == {"horizon", "quantiles"}

    model = mlflow.pyfunc.load_model(uri)
    one = model.predict(pd.DataFrame({"sku": ["P000"], "region": ["South"]}), params={"horizon": 2})
    assert set(one["region"]) == {"South"} and list(one["horizon"]) == [1, 2]
    pd.testing.assert_frame_equal(one, regional_forecaster.forecast(skus=["P000"], regions=["South"], horizon=2))
    every = model.predict(pd.DataFrame({"sku": ["P001"]}))
    assert set(every["region"]) == {"ALL", "North", "South"}
    assert every["horizon"].max() == regional_forecaster.max_horizon  # no horizon: the model's full horizon
    assert list(every.columns[-3:]) == ["p10", "p50", "p90"]
