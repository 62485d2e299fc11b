"""Scaling plan for the recommender: training on a large synthetic shop, serving at 100k items x 1M customers.

Usage: ``.venv/bin/python bench/recommend_scale.py [--customers 20000] [--products 5000] [--requests 3000]``

Two measurements. (1) Training on the synthetic generator with the large-catalogue settings: EASE restricted to
the ``--ease-items`` most bought items with rows pruned to 200 neighbours, item-kNN pruned to 100, EASE-only
ranking of every customer (the ranker's cost grows linearly with customers x candidates). (2) Serving: a
:class:`Recommender` with 100k items and 1M customers (100 ranked items, 20 purchases per customer, 50
neighbours per item; ids and lists drawn at random, since only sizes matter for lookups) - its memory and the
p50/p99 of single requests. Writes ``bench/results/recommend_scale.json``.
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


def train_large(customers: int, products: int, ease_items: int) -> dict[str, object]:
    from features.synthetic import ShopConfig, generate_shop
    from training.recommend.build import build_recommender
    from training.recommend.data import training_data
    from training.recommend.ease import EASE
    from training.recommend.evaluate import top_k
    from training.recommend.itemknn import ItemKNN

    out: dict[str, object] = {"customers": customers, "products": products, "ease_items": ease_items}
    t = time.perf_counter()
    shop = generate_shop(ShopConfig(customers=customers, products=products, days=365, seed=3))
    out["generate_s"] = time.perf_counter() - t
    out["order_lines"] = len(shop.orders)
    t = time.perf_counter()
    data = training_data(shop.orders, shop.orders["ordered_at"].max(), shop.products)
    out["training_data_s"] = time.perf_counter() - t
    t = time.perf_counter()
    ease = EASE(250.0, max_items=ease_items, neighbours=200).fit(data)
    out["ease_fit_s"] = time.perf_counter() - t
    t = time.perf_counter()
    knn = ItemKNN(100).fit(data)
    out["knn_fit_s"] = time.perf_counter() - t
    t = time.perf_counter()
    items, scores = [], []
    for start in range(0, data.n_customers, 2000):
        rows = np.arange(start, min(start + 2000, data.n_customers))
        s = ease.score(data, rows)
        top = top_k(s, 100, data.interactions.counts[rows].toarray() > 0)
        items.append(top)
        scores.append(np.take_along_axis(s, np.maximum(top, 0), axis=1))
    out["rank_all_s"] = time.perf_counter() - t
    t = time.perf_counter()
    rec = build_recommender(data, np.concatenate(items), np.concatenate(scores), knn.similarity_, model_source="ease")
    out["build_s"] = time.perf_counter() - t
    out["recommender_customers"] = rec.n_customers
    return out


def serve_large(items: int, customers: int, requests: int, seed: int = 0) -> dict[str, object]:
    from training.recommend.predict import Ragged, Recommender

    rng = np.random.default_rng(seed)

    def ragged(rows: int, width: int) -> Ragged:
        indptr = np.arange(0, (rows + 1) * width, width, dtype="int64")
        return Ragged(indptr, rng.integers(0, items, rows * width, dtype="int32"),
                      np.sort(rng.random(rows * width, dtype="float32"))[::-1].copy())

    t = time.perf_counter()
    rec = Recommender(
        skus=np.char.add("S", np.arange(items).astype(str)), customer_ids=np.arange(customers).astype(str),
        ranked=ragged(customers, 100), history=ragged(customers, 20), neighbours=ragged(items, 50),
        popular=ragged(8, 100), popular_global=(np.arange(items, dtype="int32"), np.zeros(items, "float32")),
        countries=np.array([f"C{i}" for i in range(8)]), customer_country=rng.integers(0, 8, customers),
        model_source="ranker",
    )
    build_s = time.perf_counter() - t
    arrays = [rec.ranked, rec.history, rec.neighbours]
    nbytes = sum(a.indptr.nbytes + a.items.nbytes + a.scores.nbytes for a in arrays)
    ids = rng.integers(0, customers, requests).astype(str)
    for c in ids[:200]:
        rec.recommend(c, k=10)
    times = np.empty(requests)
    for i, c in enumerate(ids):
        began = time.perf_counter()
        rec.recommend(c, k=10)
        times[i] = time.perf_counter() - began
    return {"items": items, "customers": customers, "array_mb": nbytes / 1e6, "build_s": build_s,
            "latency_ms": {"p50": 1e3 * float(np.percentile(times, 50)), "p99": 1e3 * float(np.percentile(times, 99))}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--ease-items", type=int, default=3_000)
    parser.add_argument("--requests", type=int, default=3_000)
    args = parser.parse_args()
    result: dict[str, object] = {
        "cores": os.cpu_count(), "loadavg": list(os.getloadavg()), "platform": platform.platform(),
        "versions": {p: version(p) for p in ("numpy", "pandas", "scipy", "shopml")},
    }
    result["train"] = train_large(args.customers, args.products, args.ease_items)
    print(json.dumps(result["train"], indent=1))
    result["serve"] = serve_large(100_000, 1_000_000, args.requests)
    print(json.dumps(result["serve"], indent=1))
    result["loadavg_end"] = list(os.getloadavg())
    out = ROOT / "bench" / "results" / "recommend_scale.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
