"""Foundation throughput: load + validate + build all features on Online Retail I, and the generator.

Usage: ``.venv/bin/python bench/foundation.py [--data ../shared/data] [--order-lines 1000000]``

Writes ``bench/results/foundation.json``. Online Retail figures are skipped (with a note) when the shared
data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from features.cleaning import customer_model_orders
from features.loaders import load_online_retail
from features.pipeline import build_features
from features.synthetic import config_for_order_lines, generate_shop

ROOT = Path(__file__).resolve().parents[1]


def environment() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "platform": platform.platform(),
        "versions": {p: version(p) for p in ("numpy", "pandas", "pyarrow", "scipy", "shopml")}
        | {"python": platform.python_version()},
    }


def bench_online_retail(data: Path) -> dict[str, object]:
    path = data / "online_retail" / "online_retail_I.csv.gz"
    began = time.perf_counter()
    loaded = load_online_retail(path)
    load_seconds = time.perf_counter() - began
    clean, _ = customer_model_orders(loaded.orders)
    report = loaded.reports[0]
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        build = build_features(loaded.tables, Path(tmp), cutoff="2011-09-01", horizon_days=90)
        features_seconds = time.perf_counter() - began
    return {
        "rows": report.rows_in,
        "canonical_rows": report.kept,
        "rejected": report.rejected,
        "clean_rows": len(clean),
        "customers": int(clean["customer_id"].nunique()),
        "items": int(clean["sku"].nunique()),
        "load_seconds": round(load_seconds, 3),
        "features_seconds": round(features_seconds, 3),
        "feature_tables": {name: info["rows"] for name, info in build.manifest["tables"].items()},
        "cutoff": "2011-09-01",
    }


def bench_generator(order_lines: int) -> dict[str, object]:
    config = config_for_order_lines(order_lines)
    began = time.perf_counter()
    shop = generate_shop(config)
    seconds = time.perf_counter() - began
    return {"order_lines": len(shop.orders), "seconds": round(seconds, 3), "customers": config.customers,
            "products": config.products, "days": config.days}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--order-lines", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "foundation.json")
    args = parser.parse_args()
    result: dict[str, object] = environment()
    if (args.data / "online_retail").is_dir():
        result["online_retail"] = bench_online_retail(args.data)
    else:
        result["online_retail"] = {"skipped": f"{args.data} not found"}
    result["generator"] = bench_generator(args.order_lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
