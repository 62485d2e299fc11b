"""``shopml experiment``: evaluate prints the table and decision, size and assign print their answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
runner = CliRunner()


def test_evaluate_example_spec_prints_table_and_decision(tmp_path):
    result = runner.invoke(app, ["experiment", "evaluate", str(EXAMPLES / "experiment_checkout.json"), "--plot", str(tmp_path / "f.png")])
    assert result.exit_code == 0, result.output
    assert "decision: ship one-page" in result.output and "conversion" in result.output
    assert (tmp_path / "f.png").exists()


def test_evaluate_raw_parquet(tmp_path):
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"user": range(2000), "arm": rng.choice(["control", "b"], 2000), "conv": rng.binomial(1, 0.3, 2000)})
    rows.to_parquet(tmp_path / "rows.parquet")
    spec = {"name": "raw", "variants": [{"name": "control", "weight": 0.5, "control": True}, {"name": "b", "weight": 0.5}],
            "metrics": [{"name": "conv", "type": "proportion"}]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    result = runner.invoke(app, ["experiment", "evaluate", str(tmp_path / "spec.json"), "--raw", str(tmp_path / "rows.parquet"),
                                 "--unit-column", "user", "--variant-column", "arm", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["srm"]["observed"]["control"] + json.loads(result.output)["srm"]["observed"]["b"] == 2000


def test_size_and_assign():
    result = runner.invoke(app, ["experiment", "size", "--baseline", "0.05", "--mde", "0.1", "--daily-units", "10000"])
    assert result.exit_code == 0 and "62462 units in total" in result.output and "7 days" in result.output
    result = runner.invoke(app, ["experiment", "assign", "checkout", "user-42"])
    assert result.exit_code == 0 and result.output.split() == ["user-42", "control", "assigned"]


def test_user_mistake_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    import sys

    import pytest

    from cli import main

    spec = json.loads((EXAMPLES / "experiment_checkout.json").read_text())
    spec["variants"][1]["weight"] = 0.7
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    monkeypatch.setattr(sys, "argv", ["shopml", "experiment", "evaluate", str(tmp_path / "bad.json")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "sum to 1.2" in capsys.readouterr().err


def test_cupac_adds_the_champion_prediction(tmp_path, monkeypatch):
    """The scorer is a stand-in with the CustomerScorer interface; the command reads and writes Parquet."""
    from cli import experiment as experiment_cli

    class Scorer:
        def score(self, features):
            return pd.DataFrame({"customer_id": features["customer_id"], "predicted_value": 2.0 * features["spend_90d"]})

    monkeypatch.setattr(experiment_cli, "load_customer_scorer", lambda settings: (Scorer(), {"customer_value": "3"}))
    pd.DataFrame({"customer_id": ["a", "b"], "spend_90d": [10.0, 20.0]}).to_parquet(tmp_path / "customers.parquet")
    pd.DataFrame({"unit_id": ["a", "b", "new"], "variant": ["control", "b", "b"]}).to_parquet(tmp_path / "rows.parquet")
    result = runner.invoke(app, ["experiment", "cupac", str(tmp_path / "rows.parquet"), "--out", str(tmp_path / "out.parquet"),
                                 "--features", str(tmp_path / "customers.parquet")])
    assert result.exit_code == 0, result.output
    assert "2 scored units and 1 without" in result.output
    assert pd.read_parquet(tmp_path / "out.parquet")["predicted_value"].tolist() == [20.0, 40.0, 0.0]


def test_monitor_prints_one_look_per_day_and_refuses_fixed_horizon(tmp_path):
    rng = np.random.default_rng(1)
    n = 3000
    rows = pd.DataFrame({"unit_id": range(n), "variant": rng.choice(["control", "b"], n),
                         "conv": rng.binomial(1, 0.2, n), "day": rng.integers(1, 5, n)})
    rows.to_parquet(tmp_path / "rows.parquet")
    spec = {"name": "seq", "variants": [{"name": "control", "weight": 0.5, "control": True}, {"name": "b", "weight": 0.5}],
            "metrics": [{"name": "conv", "type": "proportion"}], "settings": {"sequential": True}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    args = ["experiment", "monitor", str(tmp_path / "spec.json"), "--raw", str(tmp_path / "rows.parquet")]
    result = runner.invoke(app, [*args, "--plot", str(tmp_path / "seq.png")])
    assert result.exit_code == 0, result.output
    looks = [line.split("\t") for line in result.output.splitlines() if line[:1].isdigit()]
    assert [look[0] for look in looks] == ["1", "2", "3", "4"]
    assert [int(look[1]) for look in looks][-1] == n
    assert (tmp_path / "seq.png").exists()
    spec["settings"] = {"sequential": False}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    result = runner.invoke(app, args)  # main() turns this ShopmlError into one line and exit code 2
    assert type(result.exception).__name__ == "ExperimentError" and "sequential" in str(result.exception)


def test_evaluate_from_the_services_logs(tmp_path, monkeypatch):
    """Exposures and events as the service writes them; the experiment file gives the variants and metrics."""
    import time

    from serving.events import EventLog
    from serving.experiment import Arm, Choice, ExposureLog
    from serving.parquet_log import log_key

    home = tmp_path / "home"
    key = log_key(home / "predictions")
    exposures, events = ExposureLog(home / "exposures", key=key), EventLog(home / "events", key=key)
    rng = np.random.default_rng(0)
    spec = {"experiment": "recs", "variants": [{"name": "control", "alias": "champion", "weight": 0.5, "control": True},
                                                {"name": "b", "version": "2", "weight": 0.5}]}
    now = time.time() + 1
    for i in range(3000):
        variant = "b" if i % 2 else "control"
        exposures.record(Choice("recs", variant, Arm(variant, None, None), "session", f"s{i}"), "1")
        if rng.random() < (0.15 if variant == "b" else 0.10):
            events.record(now, "purchase", "P1", None, f"s{i}")
    exposures.flush(), events.flush()
    (home / "experiments").mkdir()
    (home / "experiments" / "recommend.json").write_text(json.dumps(spec))
    monkeypatch.setenv("SHOPML_DATA_HOME", str(home))
    result = runner.invoke(app, ["experiment", "evaluate", "--from-logs", "recs", "--save-rows", str(tmp_path / "r.parquet")])
    assert result.exit_code == 0, result.output
    assert "3000 exposed units" in result.output and "decision: ship b" in result.output
    assert len(pd.read_parquet(tmp_path / "r.parquet")) == 3000
    result = runner.invoke(app, ["experiment", "evaluate", "--from-logs", "other"])
    assert result.exit_code != 0 and "not the one in" in str(result.exception)
