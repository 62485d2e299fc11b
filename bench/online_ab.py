"""A recommender A/B test on simulated traffic through the real service route, evaluated from the service's logs.

Usage: ``.venv/bin/python bench/online_ab.py [--units 3000] [--seed 0]``

Protocol: a synthetic shop (``features.synthetic``, 600 customers, 120 products, seed 7) and its recommender
trained in a temporary data home; a second registry version of the same model stands for a challenger. The
experiment file names three arms: ``control`` (the champion alias, weight 0.4), ``a`` and ``b`` (the challenger
version, 0.3 each). Each simulated shopper (the shop's customers, then anonymous sessions) calls
``POST /v1/recommend`` on the hot Starlette app in-process, reads its ``variant``, then views the first item with
probability 0.30 x effect and buys the last with probability 0.10 x effect (``POST /v1/events``), where the
effect of the variant is planted: the scenarios ``planted`` (a 1.6, b 0.5), ``reversed`` (a 0.5, b 1.6) and
``null`` (all 1). The logs are flushed and ``serving.attribution.unit_rows`` + ``experiments.evaluate`` (what
``shopml experiment evaluate --from-logs`` runs) decide; goals are conversion and click rate, two-sided,
alpha 0.05, Holm over the four comparisons.

Writes ``online_ab`` into ``bench/results/recommendations.json`` (the other keys are kept): the decision and
the planted effects of the ``planted`` scenario, and every scenario's decision, units, rates, lifts and p-values.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]  # bench/serving.py is not serving
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "recommendations.json"
BASE_CLICK, BASE_BUY = 0.30, 0.10
SCENARIOS = {
    "planted": {"control": 1.0, "a": 1.6, "b": 0.5},
    "reversed": {"control": 1.0, "a": 0.5, "b": 1.6},
    "null": {"control": 1.0, "a": 1.0, "b": 1.0},
}
EXPECTED = {"planted": "ship a", "reversed": "ship b", "null": "no ship"}


def build_service(home: Path):
    """A data home with a trained recommender and a second registry version of it; the hot app over a runtime."""
    from starlette.testclient import TestClient

    from features.store import save_tables
    from features.synthetic import ShopConfig, generate_shop
    from serving.hot import create_hot_app
    from serving.runtime import ServingRuntime
    from shopml.settings import load_settings
    from training.recommend import RecommenderConfig, train_recommender
    from training.tracking import configure_mlflow

    settings = load_settings(data_home=home, prediction_log=False)
    tables = generate_shop(ShopConfig(customers=600, products=120, days=500, seed=7)).tables()
    save_tables(tables, settings.raw_dir, source="synthetic:seed=7")
    train_recommender(settings, tables, params=RecommenderConfig(seed=settings.seed, use_ranker=False))
    client = configure_mlflow(settings)
    champion = client.get_model_version_by_alias("recommender", "champion")
    challenger = client.create_model_version("recommender", champion.source, run_id=champion.run_id)
    runtime = ServingRuntime(settings)
    runtime.models.load("recommender")
    return TestClient(create_hot_app(lambda: runtime)), runtime, str(challenger.version)


def run_scenario(client, runtime, challenger: str, name: str, effect: dict[str, float], units: int, seed: int):
    from experiments import evaluate
    from serving.attribution import unit_rows

    path = runtime.settings.experiment_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"experiment": f"bench-{name}", "variants": [
        {"name": "control", "alias": "champion", "weight": 0.4, "control": True},
        {"name": "a", "version": challenger, "weight": 0.3},
        {"name": "b", "version": challenger, "weight": 0.3}]}))
    runtime.storefront.refresh()
    customers = [("customer_id", str(c)) for c in runtime.storefront.state.live.base.customer_ids]
    shoppers = (customers + [("session_id", f"{name}-{i}") for i in range(units)])[:units]
    rng = np.random.default_rng(seed)
    headers = {"Content-Type": "application/json"}
    began = time.perf_counter()
    for field, unit in shoppers:
        answer = client.post("/v1/recommend", content=json.dumps({field: unit, "k": 5}), headers=headers).json()
        variant, items, events = answer["variant"], answer["items"], []
        if rng.random() < BASE_CLICK * effect[variant]:
            events.append({"type": "view", "sku": items[0]["sku"], field: unit})
        if rng.random() < BASE_BUY * effect[variant]:
            events.append({"type": "purchase", "sku": items[-1]["sku"], field: unit})
        if events:
            client.post("/v1/events", content=json.dumps({"events": events}), headers=headers)
    seconds = time.perf_counter() - began
    runtime.storefront.exposures.flush()
    runtime.storefront.events.flush()
    file = runtime.storefront.experiment.file
    attribution = unit_rows(runtime.settings.data_home, file.experiment, file.attribution_hours)
    result = evaluate(file.experiment_spec(), rows=attribution.rows)
    rows = attribution.rows
    d = result.decision
    decision = f"{d.recommendation} {d.arm}" if d.arm else d.recommendation
    return {
        "planted": effect,
        "decision": decision,
        "expected": EXPECTED[name],
        "reached": decision == EXPECTED[name] or (EXPECTED[name] == "no ship" and d.recommendation != "ship"),
        "units": rows["variant"].value_counts().sort_index().to_dict(),
        "conversion": rows.groupby("variant")["converted"].mean().round(4).to_dict(),
        "click_rate": rows.groupby("variant")["clicked"].mean().round(4).to_dict(),
        "comparisons": {f"{c.metric}/{c.arm}": {"relative_lift": c.relative_lift, "adjusted_p": c.adjusted_p_value,
                                                "outcome": c.outcome} for c in result.comparisons},
        "srm_p": result.srm.p_value,
        "exposures": attribution.exposures,
        "events_attributed": attribution.events_attributed,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=3000, help="Shoppers per scenario.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shopml-online-ab-") as tmp:
        client, runtime, challenger = build_service(Path(tmp) / "home")
        scenarios = {name: run_scenario(client, runtime, challenger, name, effect, args.units, args.seed + i)
                     for i, (name, effect) in enumerate(SCENARIOS.items())}
        runtime.storefront.stop()
    main_run = scenarios["planted"]
    online_ab = {
        "protocol": "bench/online_ab.py docstring: 3 arms (control 0.4, a 0.3, b 0.3), simulated shoppers through "
                    "POST /v1/recommend and /v1/events in-process, decided from the exposure and event logs",
        "decision": main_run["decision"],
        "planted": main_run["planted"],
        "reached": all(s["reached"] for s in scenarios.values()),
        "units_per_scenario": args.units,
        "scenarios": scenarios,
        "seconds": time.perf_counter() - began,
        "loadavg": list(os.getloadavg()),
    }
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    RESULTS.write_text(json.dumps({**previous, "online_ab": online_ab}, indent=2, default=str))
    for name, s in scenarios.items():
        print(f"{name:9s} planted {s['planted']} -> {s['decision']} (expected {s['expected']}); units {s['units']}; "
              f"conversion {s['conversion']}; clicks {s['click_rate']}")
    print(f"wrote online_ab to {RESULTS}")


if __name__ == "__main__":
    main()
