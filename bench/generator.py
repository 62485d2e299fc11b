"""Synthetic shop generator throughput: time to generate about one million order lines.

Usage: ``.venv/bin/python bench/generator.py [--order-lines 1000000] [--repeats 3] [--seed 42]``

Sizes the shop with :func:`features.synthetic.config_for_order_lines` (its pilot run is timed apart), then times
``generate_shop`` ``--repeats`` times and writes ``bench/results/generator.json``; ``seconds`` is the median.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from features.synthetic import config_for_order_lines, generate_shop  # noqa: E402


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--order-lines", type=int, default=1_000_000, help="Target order lines (default 1,000,000)."
    )
    parser.add_argument("--repeats", type=int, default=3, help="Timed generations (default 3).")
    parser.add_argument("--seed", type=int, default=42, help="Generator seed (default 42).")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generator.json")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    config = config_for_order_lines(args.order_lines, seed=args.seed)
    sizing_seconds = time.perf_counter() - began

    runs = []
    for _ in range(max(1, args.repeats)):
        began = time.perf_counter()
        shop = generate_shop(config)
        runs.append(time.perf_counter() - began)
    summary = shop.summary()
    seconds = statistics.median(runs)
    result = {
        "order_lines": summary["order_lines"],
        "seconds": round(seconds, 3),
        "lines_per_second": round(summary["order_lines"] / seconds),
        "runs_seconds": [round(r, 3) for r in runs],
        "sizing_seconds": round(sizing_seconds, 3),
        "customers": config.customers,
        "products": config.products,
        "days": config.days,
        "orders": summary["orders"],
        "return_lines": summary["return_lines"],
        "guest_lines": summary["guest_lines"],
        "seed": config.seed,
        "cores": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "versions": {
            "python": platform.python_version(),
            "numpy": version("numpy"),
            "pandas": version("pandas"),
            "shopml": version("shopml") if _installed("shopml") else "source",
        },
        "platform": platform.platform(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


def _installed(name: str) -> bool:
    try:
        version(name)
    except Exception:
        return False
    return True


if __name__ == "__main__":
    main()
