"""Recommender quality on the Online Retail I protocol and in-process request latency.

Usage: ``.venv/bin/python bench/recommend.py [--data ../shared/data] [--requests 5000]``

Every model is fitted on purchases before 2011-11-01 only (the ranker on four 30-day windows ending then;
its settings were chosen on the 2011-10-01 validation split); the recommender is scored through its
inference object. Latency: single ``recommend(customer, k=10)`` calls in-process on the fitted object, for
random test customers, unknown customers and requests with exclusions. Writes
``bench/results/recommendations.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CUTOFF = "2011-11-01"


def environment() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "platform": platform.platform(),
        "versions": {p: version(p) for p in ("numpy", "pandas", "scipy", "lightgbm", "shopml")}
        | {"python": platform.python_version()},
    }


def latency(recommender, customers: list[str], n: int, seed: int) -> dict[str, object]:
    """p50/p99 of single requests (ms): known customers, unknown ones, and with 5 exclusions."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(customers, size=n)
    skus = recommender.skus
    for c in picks[:200]:  # warm-up
        recommender.recommend(str(c), k=10)
    out = {}
    cases = {
        "known": [(str(c), ()) for c in picks],
        "unknown": [(f"new-{i}", ()) for i in range(n)],
        "known_exclude5": [(str(c), tuple(rng.choice(skus, 5).tolist())) for c in picks],
    }
    for name, requests in cases.items():
        times = np.empty(len(requests))
        for i, (c, exclude) in enumerate(requests):
            began = time.perf_counter()
            recommender.recommend(c, k=10, exclude=exclude)
            times[i] = time.perf_counter() - began
        out[name] = {"p50": 1e3 * float(np.percentile(times, 50)), "p99": 1e3 * float(np.percentile(times, 99)),
                     "max": 1e3 * float(times.max()), "requests": len(requests)}
    times = np.empty(n)
    for i, sku in enumerate(rng.choice(skus, size=n)):
        began = time.perf_counter()
        recommender.similar_items(str(sku), k=10)
        times[i] = time.perf_counter() - began
    out["similar_items"] = {"p50": 1e3 * float(np.percentile(times, 50)), "p99": 1e3 * float(np.percentile(times, 99))}
    began = time.perf_counter()
    recommender.recommend_batch(customers, k=10)
    out["batch_per_customer_ms"] = 1e3 * (time.perf_counter() - began) / len(customers)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    env = environment()
    from features.loaders import load_online_retail
    from training.recommend import RecommenderConfig, evaluate_protocol

    began = time.perf_counter()
    loaded = load_online_retail(args.data / "online_retail" / "online_retail_I.csv.gz")
    load_seconds = time.perf_counter() - began
    config = RecommenderConfig()
    report = evaluate_protocol(loaded.orders, loaded.tables["products"], CUTOFF, config=config)
    table = report.table()
    rec = report.fitted.recommender
    test_customers = report.split.train.customer_ids[report.split.test_rows].astype(str).tolist()
    lat = latency(rec, test_customers, args.requests, seed=0)
    primary = table["recommender"]
    result = {
        "protocol": f"Online Retail I, train < {CUTOFF}, test {CUTOFF} .. end (PROTOCOLS.md)",
        "test_customers": report.split.n_test,
        "items": rec.n_items,
        "customers": rec.n_customers,
        "ndcg_at_10": primary["ndcg@10"],
        "recall_at_10": primary["recall@10"],
        "coverage": primary["coverage@10"],
        "latency_ms": {"p50": lat["known"]["p50"], "p99": lat["known"]["p99"]},
        "latency_detail_ms": lat,
        "by_model": table,
        "ranker_windows": report.fitted.windows,
        "config": config.to_params(),
        "seconds": {"load": load_seconds, **report.seconds},
        "loadavg_end": list(os.getloadavg()),
        **env,
    }
    out = ROOT / "bench" / "results" / "recommendations.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    for name, m in table.items():
        print(f"{name:20s} ndcg@10 {m['ndcg@10']:.4f}  recall@10 {m['recall@10']:.4f}  coverage@10 {m['coverage@10']:.3f}")
    print(f"latency known p50 {lat['known']['p50']:.3f} ms p99 {lat['known']['p99']:.3f} ms; wrote {out}")


if __name__ == "__main__":
    main()
