"""``shopml monitor`` and ``shopml retrain`` end to end, in subprocesses, on a small generated shop.

The scenario: champions trained as of 2024-03-01, a monitor run as of 2024-09-02 (their first scores have
closed their 90-day windows by then, so outcomes are judged), a retrain that compares its challengers with the
champions on the newest labelled window, and the failure cases: an as-of outside the data, a corrupt score
file and a corrupt prediction-log partition (reported, the rest judged, nothing deleted).
"""

from __future__ import annotations

import json

import pytest

from tests.serving.conftest import _env, run_shopml

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("monitor-home")
    env = _env(home)
    done = run_shopml(["data", "generate", "--customers", "1200", "--products", "120", "--days", "640"], env)
    assert done.returncode == 0, done.stderr
    first = run_shopml(["retrain", "--as-of", "2024-03-01", "--train-cutoffs", "4"], env, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "first version: no champion yet" in " ".join(first.stdout.split())
    return home, env


def test_monitor_scores_keeps_and_later_judges_the_outcomes(home):
    root, env = home
    early = run_shopml(["monitor", "--as-of", "2024-03-04"], env)
    assert early.returncode in (0, 1), early.stderr
    assert (root / "monitoring" / "scores" / "scored_at=2024-03-04.parquet").is_file()
    report = json.loads((root / "reports" / "monitor-2024-03-04.json").read_text())
    assert report["outcomes"]["churn_latest"] is None and "has passed its horizon yet" in " ".join(report["notes"])

    later = run_shopml(["monitor", "--as-of", "2024-09-02", "-o", str(root / "later.html")], env)
    assert later.returncode in (0, 1), later.stderr
    report = json.loads((root / "later.json").read_text())
    assert (root / "later.html").read_text().startswith("<!doctype html>")
    judged = [c for c in report["outcomes"]["churn"] if c["status"] == "scored"]
    assert [c["scored_at"] for c in judged] == ["2024-03-04"]
    assert 0.5 < judged[0]["roc_auc"] <= 1 and 0 <= judged[0]["ece"] < 1
    assert {c["column"] for c in report["drift"]["predictions"]["columns"]} == {
        "churn_probability", "predicted_value", "segment"}
    assert report["champion"]["reference_cutoff"] == "2024-03-01"  # shipped: the end of its training data
    assert (later.returncode == 1) == bool(report["verdict"])  # the exit status is the verdict


def test_retrain_compares_with_the_champion_on_the_same_window_and_says_why(home):
    _, env = home
    done = run_shopml(["retrain", "--as-of", "2024-09-02", "--train-cutoffs", "4"], env, timeout=600)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "evaluated on the window from 2024-06-" in text
    assert "champion v1" in text and ("beats" in text or "does not beat" in text)


def test_logged_recommendations_and_forecasts_are_judged_once_actuals_arrive(home):
    """Records written by the service's own log class (pseudonymous subjects), dated in the shop's past."""
    import pandas as pd

    from serving.predictions import PredictionLog

    root, env = home
    orders = pd.read_parquet(root / "data" / "orders.parquet")
    sale = orders.loc[(orders["quantity"] > 0) & orders["customer_id"].notna()
                      & (orders["ordered_at"] >= "2024-07-10")].iloc[0]
    served = (sale["ordered_at"] - pd.Timedelta(days=2)).timestamp()
    log = PredictionLog(root / "predictions")
    log.append((served, "recommend", "recommender", "4", log.subject(sale["customer_id"]), [sale["sku"], "nope"]))
    log.append((served, "recommend", "recommender", "4", log.subject(sale["customer_id"]), ["nope"]))
    week = pd.Timestamp("2024-07-15")
    sold = orders.loc[(orders["sku"] == sale["sku"]) & (orders["quantity"] > 0)
                      & (orders["ordered_at"] >= week) & (orders["ordered_at"] < week + pd.Timedelta(days=7)),
                      "quantity"].sum()
    log.append((served, "forecast", "demand_forecast", "2", f"{sale['sku']}|ALL",
                {"period_start": "2024-07-15", "horizon": 1, "quantiles": {"p10": 0.0, "p50": 10.0, "p90": 1e6}}))
    assert log.flush() == 3
    done = run_shopml(["monitor", "--as-of", "2024-09-09", "--no-record", "-o", str(root / "logged.json")], env)
    assert done.returncode in (0, 1), done.stderr
    outcomes = json.loads((root / "logged.json").read_text())["outcomes"]
    (lists,) = [r for r in outcomes["recommendations"] if r["model_version"] == "4"]
    assert lists["lists"] == 2 and lists["hits"] == 1 and lists["hit_rate"] == 0.5
    (forecast,) = outcomes["forecasts"]
    assert forecast["weeks_known"] == 1 and forecast["coverage_80"] == 1.0
    assert forecast["wape"] == pytest.approx(abs(sold - 10.0) / sold)


def test_bad_dates_and_corrupt_files_are_one_line_and_lose_nothing(home):
    root, env = home
    outside = run_shopml(["monitor", "--as-of", "2031-01-01"], env)
    assert outside.returncode == 2 and "after the last order" in outside.stderr and "Traceback" not in outside.stderr
    broken = root / "monitoring" / "scores" / "scored_at=2024-05-06.parquet"
    broken.write_bytes(b"torn write")
    log = root / "predictions" / "date=2024-09-01"
    log.mkdir(parents=True)
    (log / "part-0.parquet").write_bytes(b"also torn")
    done = run_shopml(["monitor", "--as-of", "2024-09-09", "--no-record", "-o", str(root / "torn.json")], env)
    assert done.returncode in (0, 1), done.stderr
    report = json.loads((root / "torn.json").read_text())
    notes = " ".join(report["notes"])
    assert "scored_at=2024-05-06.parquet: unreadable" in notes
    assert "prediction log: " in notes and "date=2024-09-01/part-0.parquet: unreadable" in notes
    assert len(report["outcomes"]["recommendations"]) >= 1  # the readable partitions are still judged
    assert broken.is_file() and (log / "part-0.parquet").is_file()
    assert any(c["status"] == "scored" for c in report["outcomes"]["churn"])
    assert not (root / "monitoring" / "scores" / "scored_at=2024-09-09.parquet").exists()  # --no-record
