"""End to end on a small demo shop: backtest, MLflow run, registration, champion load-back, CLI."""

from __future__ import annotations

import dataclasses

import mlflow
import pandas as pd
import pytest

from shopml.errors import NotTrainedError
from training.forecast import Forecaster
from training.forecast.data import TrainConfig, backtest_origins, prepare
from training.forecast.train import train_forecast
from training.lifecycle import load_training_tables
from training.names import DEMAND_FORECAST
from training.registry import load_champion

from .conftest import FAST


@pytest.fixture
def shop_settings(settings):
    from features.store import save_tables
    from features.synthetic import ShopConfig, generate_shop

    shop = generate_shop(ShopConfig(customers=600, products=40, days=420, seed=3))
    save_tables(shop.tables(), settings.raw_dir, source="synthetic:test")
    return settings


@pytest.mark.slow
def test_train_registers_a_champion_that_loads_back_identically(shop_settings, monkeypatch):
    with pytest.raises(NotTrainedError, match="shopml train forecast"):
        load_champion(Forecaster, shop_settings)
    data = prepare(load_training_tables(shop_settings), TrainConfig(by_region=True, backtest_origins=2))
    result = train_forecast(shop_settings, data, params=dataclasses.replace(FAST, calibration_origins=0))
    assert result.promoted and result.version == "1"
    overall = result.metrics["overall"]
    assert 0 < overall["wape"] < 1.5 and 0 <= overall["coverage_p10_p90"] <= 1
    assert set(result.baselines) >= {"bl_last_value", "bl_croston", "bl_tsb", "bl_seasonal_naive"}
    loaded, versions = load_champion(Forecaster, shop_settings)
    assert versions == {DEMAND_FORECAST: "1"}
    pd.testing.assert_frame_equal(loaded.forecast(horizon=8), result.result.forecaster.forecast(horizon=8))
    pyfunc = mlflow.pyfunc.load_model(f"models:/{DEMAND_FORECAST}@champion")
    assert pyfunc.unwrap_python_model().model.freq == "W"
    out = pyfunc.predict(pd.DataFrame({"sku": [loaded.skus[0]]}), params={"horizon": 2})
    assert set(out["horizon"]) == {1, 2}
    pd.testing.assert_frame_equal(out, loaded.forecast(skus=[loaded.skus[0]], horizon=2))
    sku = loaded.keys.loc[loaded.keys["region"] != "ALL", "sku"].iloc[0]
    region = loaded.keys.loc[(loaded.keys["sku"] == sku) & (loaded.keys["region"] != "ALL"), "region"].iloc[0]
    one = pyfunc.predict(pd.DataFrame({"sku": [sku], "region": [region]}), params={"horizon": 3})
    assert set(one["region"]) == {region} and set(one["horizon"]) == {1, 2, 3}  # region and horizon take effect
    run = mlflow.get_run(result.run_id)
    assert "backtest.overall.wape" in run.data.metrics
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id, "plots")}
    assert {"plots/coverage_by_horizon.png", "plots/wape_by_horizon.png", "plots/forecast_top_skus.png"} <= artifacts

    from typer.testing import CliRunner

    from cli import app

    monkeypatch.setenv("SHOPML_DATA_HOME", str(shop_settings.data_home))
    cli = CliRunner().invoke(app, ["train", "forecast", "--if-missing"])
    assert cli.exit_code == 0 and "skipped" in cli.output
    cli = CliRunner().invoke(app, ["forecast", "--sku", loaded.skus[0], "--horizon", "3", "--plot", "fc.png"])
    assert cli.exit_code == 0, cli.output
    assert "plot written" in cli.output


def test_backtest_origins_are_spaced_and_refuse_short_history():
    assert backtest_origins(60, 8, 3) == [43, 47, 51]
    from shopml.errors import DataValidationError

    with pytest.raises(DataValidationError, match="too few"):
        backtest_origins(12, 8, 3)
