"""Where a storefront request's time goes, part by part, in this process (no sockets, no second process).

Run: ``.venv/bin/python bench/serving_parts.py [--home DIR] [--requests 3000]``. Writes
``bench/results/serving_parts.json``. A data home (``--home``, default a fresh temporary folder) is prepared as
``bench/serving.py`` does, with its rules file (``LIVE_RULES``) and its 200 sessions. Then, each the best of
five repetitions, CPU time per call:

1. ``asgi``: a ``POST /v1/recommend`` (events, session blending, rules on) driven into the service's ASGI app as
   ``bentoml serve`` builds it, through the fast lane (``serving.fastlane``), and into BentoML's own app behind it
   (the lane skipped, as before it existed), and into the bare hot endpoint (``HotEndpoints``);
2. ``flush``: the prediction log writing 12,500 recommendation records (5 s at 2,500 requests/s), and the longest
   stretch its thread held on to the GIL without a handover (between two ``WRITE_CHUNK`` chunks);
3. ``live_state``: building the live recommender (content vectors, neighbours, customer categories), the work a
   change of the model or of the products costs, and that a rules edit no longer pays;
4. ``open_loop_lateness``: how late an open-loop sender at 300/s leaves against its schedule with a plain
   ``asyncio.sleep`` and with ``bench/loadgen.py``'s (no server: the generator's own error).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"shopml_bench_{name}", _HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


serving = _bench_module("serving")  # prepare(), live_payloads(), live_rules() and its load generator
RESULTS = _HERE / "results" / "serving_parts.json"


def best_of(run, calls: int, repeats: int = 5) -> float:
    """Least CPU microseconds per call of ``run()`` (which makes ``calls`` calls) over ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        run()
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return round(best, 1)


def asgi_parts(home: Path, bodies: list[bytes], requests: int) -> dict[str, object]:
    from bentoml._internal.context import server_context

    server_context.service_type = "entry_service"
    from serving.schemas import EventsRequest
    from serving.service import Shopml, current_runtime, hot_endpoints

    lane = Shopml.to_asgi(is_main=True)
    targets = {"fast_lane": lane, "bentoml_app": lane.app, "hot_endpoint": hot_endpoints(current_runtime)}
    scope = {"type": "http", "asgi": {"version": "3.0"}, "method": "POST", "path": "/v1/recommend",
             "raw_path": b"/v1/recommend", "root_path": "", "query_string": b"", "http_version": "1.1",
             "scheme": "http", "server": ("127.0.0.1", 3000), "client": ("127.0.0.1", 5555),
             "headers": [(b"host", b"127.0.0.1:3000"), (b"content-type", b"application/json"),
                         (b"authorization", b"Bearer demo-storefront-key")]}

    async def call(app, body: bytes) -> int:
        status = 0

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope), receive, send)
        return status

    async def main() -> dict[str, object]:
        inbox, outbox = asyncio.Queue(), asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})
        lifespan = asyncio.create_task(lane({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                            inbox.get, outbox.put))
        started = await outbox.get()
        if started["type"] != "lifespan.startup.complete":
            raise SystemExit(f"the service did not start: {started}")
        deadline = time.monotonic() + 300
        while await call(lane, bodies[0]) != 200 or current_runtime().storefront.state is None:
            if time.monotonic() > deadline:
                raise SystemExit("the recommender did not load within 300 s")
            await asyncio.sleep(0.5)
        runtime = current_runtime()
        for body in serving.live_payloads(home)["seed_events"]:
            runtime.record_events(EventsRequest.model_validate_json(body))
        out: dict[str, object] = {}
        statuses: dict[str, dict[str, int]] = {}
        for name, app in targets.items():
            counts: dict[str, int] = {}
            best = float("inf")
            for _ in range(5):
                started = time.process_time()
                for i in range(requests):
                    status = str(await call(app, bodies[i % len(bodies)]))
                    counts[status] = counts.get(status, 0) + 1
                best = min(best, (time.process_time() - started) / requests * 1e6)
            out[f"{name}_us"] = round(best, 1)
            statuses[name] = counts
        out["statuses"] = statuses
        lifespan.cancel()
        return out

    return asyncio.run(main())


def flush_parts(records: int = 12_500) -> dict[str, object]:
    from serving.parquet_log import WRITE_CHUNK
    from serving.predictions import PredictionLog

    now = time.time()
    rows = [(now, "recommend", "recommender", "1", f"{i:032x}", [f"SKU{(i + j) % 600:05d}" for j in range(10)])
            for i in range(records)]
    log = PredictionLog(Path(tempfile.mkdtemp(prefix="shopml-bench-parts-")) / "p", records + 1, key=b"k" * 32)
    chunk_ms: list[float] = []
    to_table = log.to_table

    def timed(part):
        started = time.perf_counter()
        table = to_table(part)
        chunk_ms.append((time.perf_counter() - started) * 1e3)
        return table

    log.to_table = timed  # type: ignore[method-assign]

    def run() -> None:
        for row in rows:
            log.append(row)
        log.flush()

    flush_us = best_of(run, 1)
    one_piece = best_of(lambda: to_table(rows), 1)
    return {"records": records, "write_chunk": WRITE_CHUNK, "flush_ms": round(flush_us / 1e3, 1),
            "longest_chunk_ms": round(max(chunk_ms), 2), "one_piece_conversion_ms": round(one_piece / 1e3, 1)}


def live_state_parts(home: Path) -> dict[str, object]:
    import pandas as pd

    from serving.service import current_runtime
    from training.recommend.live import LiveRecommender

    live = current_runtime().storefront.state.live
    products = pd.read_parquet(current_runtime().settings.raw_dir / "products.parquet")
    return {"customers": live.base.n_customers, "items": live.n_items,
            "live_recommender_ms": round(best_of(lambda: LiveRecommender(live.base, products), 1) / 1e3, 1),
            "customer_categories_ms": round(best_of(lambda: live._customer_categories(live.base.n_items), 1) / 1e3,
                                            2)}


def lateness_parts(rate: float = 300.0, seconds: float = 5.0) -> dict[str, object]:
    lg = sys.modules["shopml_bench_loadgen"]

    async def sender(wait) -> list[float]:
        late = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            await wait(scheduled)
            late.append((time.perf_counter() - scheduled) * 1e3)
        return late

    async def plain(scheduled: float) -> None:
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)

    out = {}
    for name, wait in (("asyncio_sleep", plain), ("loadgen", lg.leave_at)):
        late = asyncio.run(sender(wait))
        out[name] = {"p50_ms": round(float(np.percentile(late, 50)), 3), "p99_ms": round(float(np.percentile(late, 99)), 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="Data home to use (default: a temporary one).")
    parser.add_argument("--requests", type=int, default=3000, help="Requests per repetition of the ASGI runs.")
    args = parser.parse_args()
    home = (args.home or Path(tempfile.mkdtemp(prefix="shopml-bench-parts-")) / "home").resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env.update(SHOPML_DATA_HOME=str(home), MLFLOW_DISABLE_TELEMETRY="true", BENTOML_DO_NOT_TRACK="true")
    print("models:", serving.prepare(home, env), flush=True)
    rules = home / "rules" / "recommend.json"
    rules.parent.mkdir(parents=True, exist_ok=True)
    rules.write_text(json.dumps(serving.live_rules(home)))
    os.environ.update(env)  # this process hosts the service's app
    load = [round(x, 2) for x in os.getloadavg()]
    result = {
        "command": "python bench/serving_parts.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_start": load,
        "asgi_recommend_live": asgi_parts(home, serving.live_payloads(home)["recommend_live"], args.requests),
        "flush": flush_parts(),
        "live_state": live_state_parts(home),
        "open_loop_lateness": lateness_parts(),
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    os._exit(0)  # the service's threads and its worker pool are not ours to join


if __name__ == "__main__":
    main()
