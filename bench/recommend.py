"""Recommender quality on the Online Retail I protocol and in-process request latency.

Usage: ``.venv/bin/python bench/recommend.py [--data ../shared/data] [--requests 5000] [--session-only]``

Every model is fitted on purchases before 2011-11-01 only (the ranker on four 30-day windows ending then;
its settings were chosen on the 2011-10-01 validation split); the recommender is scored through its
inference object. Latency: single ``recommend(customer, k=10)`` calls in-process on the fitted object, for
random test customers, unknown customers and requests with exclusions.

Session replay (``session_replay`` in the results; :mod:`training.recommend.replay`). Protocol:

* sessions are invoices: the sales lines of known customers (returns and guests removed) of one invoice; its
  items are its distinct SKUs known to the model, in the order of the invoice's lines in the source file;
  invoices with fewer than two such items are skipped;
* the live recommender gets the products the model knows (no cold-start items: they cannot be scored);
* at each position ``p = 1 .. min(n - 1, 20)`` the first ``p`` items are the session (``add_to_cart`` events,
  oldest first) and item ``p + 1`` is the target: 10 items are recommended to the invoice's customer by the
  static list (the precomputed list, without the items already in the cart) and by the session-aware list
  (:class:`training.recommend.live.LiveRecommender`, the code the service runs); next-item hit rate@10 is the
  share of positions whose target is listed, NDCG@10 the mean ``1 / log2(rank + 1)`` of the target (0 if absent);
* the recency half-life (in events) and the blend weight are chosen on a validation replay: a recommender fitted
  on purchases before 2011-10-01, October's invoices (an 8 x 6 grid, ``training.recommend.replay.HALF_LIVES`` x
  ``WEIGHTS``, on 12,000 of its predictions drawn with seed 0; best NDCG@10); the test replay (the protocol's
  recommender fitted before 2011-11-01, invoices from 2011-11-01 to the end) is scored once with that choice.

Writes ``bench/results/recommendations.json`` (merged into the existing file: keys written by other benches,
such as ``online_ab``, are kept). ``--session-only`` re-runs the replay only (the protocol table is kept).
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
VALIDATION_CUTOFF = "2011-10-01"
RESULTS = ROOT / "bench" / "results" / "recommendations.json"


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


def known_products(products, recommender):
    """The products the model knows: the replay measures session blending, not cold start (a product first sold
    after the cutoff would be a cold-start item, which the protocol cannot score and which would take places in
    both lists)."""
    return products[products["sku"].astype(str).isin(set(recommender.skus.tolist()))]


def session_replay(orders, products, recommender, config) -> dict[str, object]:
    """Tune the blend on the validation replay, then score static and session lists on the test replay once."""
    from dataclasses import asdict

    from training.recommend import fit_recommender
    from training.recommend.live import LiveRecommender
    from training.recommend.replay import replay_cases, score_cases, static_config, tune_blend

    began = time.perf_counter()
    validation = fit_recommender(orders, products, VALIDATION_CUTOFF, config).recommender
    live_val = LiveRecommender(validation, known_products(products, validation))
    val_cases, val_sessions = replay_cases(orders, live_val, VALIDATION_CUTOFF, CUTOFF)
    chosen, grid = tune_blend(live_val, val_cases, max_cases=12_000)
    val_static, _ = score_cases(live_val, val_cases, static_config(chosen))
    val_session, _ = score_cases(live_val, val_cases, chosen)
    live = LiveRecommender(recommender, known_products(products, recommender), chosen)
    end = orders["ordered_at"].max() + np.timedelta64(1, "s")
    cases, sessions = replay_cases(orders, live, CUTOFF, end)
    static, static_new = score_cases(live, cases, static_config(chosen))
    session, session_new = score_cases(live, cases, chosen)
    timings = []
    from training.recommend.live import SessionEvent

    for case in cases[:3000]:
        events = [SessionEvent(s, "add_to_cart") for s in case.session]
        t0 = time.perf_counter()
        live.recommend(case.customer_id, k=10, session=events)
        timings.append(time.perf_counter() - t0)
    return {
        "protocol": "within each invoice (known customers, invoices from the cutoff to the end), predict item p+1 "
                    "from items 1..p (p <= 20); static = precomputed list without the cart's items; session = "
                    "LiveRecommender; blend chosen on the validation replay (train < 2011-10-01, October invoices)",
        "static": {"hit_rate_at_10": static.hit_rate_at_10, "ndcg_at_10": static.ndcg_at_10},
        "session": {"hit_rate_at_10": session.hit_rate_at_10, "ndcg_at_10": session.ndcg_at_10},
        "sessions": sessions,
        "predictions": static.predictions,
        "targets_new_to_customer": {"predictions": static_new.predictions,
                                    "static": {"hit_rate_at_10": static_new.hit_rate_at_10,
                                               "ndcg_at_10": static_new.ndcg_at_10},
                                    "session": {"hit_rate_at_10": session_new.hit_rate_at_10,
                                                "ndcg_at_10": session_new.ndcg_at_10}},
        "chosen": {"half_life_events": chosen.half_life_events, "weight": chosen.weight},
        "config": asdict(chosen),
        "validation": {"sessions": val_sessions, "predictions": len(val_cases),
                       "static": val_static.to_dict(), "session": val_session.to_dict(), "grid": grid},
        "latency_ms": {"p50": 1e3 * float(np.percentile(timings, 50)), "p99": 1e3 * float(np.percentile(timings, 99)),
                       "requests": len(timings), "what": "LiveRecommender.recommend with the replay's sessions"},
        "seconds": time.perf_counter() - began,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--session-only", action="store_true", help="Only the session replay (keeps the rest).")
    args = parser.parse_args()
    env = environment()
    from features.loaders import load_online_retail
    from training.recommend import RecommenderConfig, evaluate_protocol, fit_recommender

    began = time.perf_counter()
    loaded = load_online_retail(args.data / "online_retail" / "online_retail_I.csv.gz")
    load_seconds = time.perf_counter() - began
    config = RecommenderConfig()
    orders, products = loaded.orders, loaded.tables["products"]
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if args.session_only:
        recommender = fit_recommender(orders, products, CUTOFF, config).recommender
        result = {**previous, "session_replay": session_replay(orders, products, recommender, config)}
        _write(result)
        return
    report = evaluate_protocol(orders, products, CUTOFF, config=config)
    table = report.table()
    rec = report.fitted.recommender
    test_customers = report.split.train.customer_ids[report.split.test_rows].astype(str).tolist()
    lat = latency(rec, test_customers, args.requests, seed=0)
    primary = table["recommender"]
    result = {
        **previous,
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
        "session_replay": session_replay(orders, products, rec, config),
        "loadavg_end": list(os.getloadavg()),
        **env,
    }
    _write(result)
    for name, m in table.items():
        print(f"{name:20s} ndcg@10 {m['ndcg@10']:.4f}  recall@10 {m['recall@10']:.4f}  coverage@10 {m['coverage@10']:.3f}")
    print(f"latency known p50 {lat['known']['p50']:.3f} ms p99 {lat['known']['p99']:.3f} ms")


def _write(result: dict) -> None:
    replay = result.get("session_replay", {})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str))
    if replay:
        print(f"session replay: static {replay['static']}, session {replay['session']}, "
              f"sessions {replay['sessions']}, chosen {replay['chosen']}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
