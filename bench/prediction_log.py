"""Does the prediction log slow the storefront? ``/v1/recommend`` at 300 requests/s, log off and on, side by side.

Run: ``.venv/bin/python bench/prediction_log.py [--home DIR] [--seconds 15] [--rounds 3]``. Writes
``bench/results/prediction_log.json``. A data home (``--home``, default a fresh temporary folder) is prepared as
``bench/serving.py`` does; then two services run on it one after the other, ``SHOPML_PREDICTION_LOG=false``
and ``true``, alternating for ``--rounds`` rounds of an open-loop run at 300 requests/s (latency from the
scheduled send time, so queueing counts). Alternating spreads the machine's other load over both arms; the
load average is recorded beside every round. The answer: the p99 of each arm (median over rounds) and their
ratio (the bar of issue 17: at most 1.10), and the number of records the logging arm wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"shopml_bench_{name}", _HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


serving = _bench_module("serving")
RESULTS = _HERE / "results" / "prediction_log.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    began = time.perf_counter()
    home = args.home or Path(tempfile.mkdtemp(prefix="shopml-bench-predlog-")) / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env.update(SHOPML_DATA_HOME=str(home), BENTOML_HOME=str(home / "bentoml"), MLFLOW_DISABLE_TELEMETRY="true",
               BENTOML_DO_NOT_TRACK="true")
    print("models:", serving.prepare(home, env), flush=True)
    bodies = serving.payloads(home)["recommend"]
    headers = {"Authorization": f"Bearer {serving.KEYS['storefront']}"}
    shutil.rmtree(home / "predictions", ignore_errors=True)
    rounds: list[dict] = []
    for round_no in range(args.rounds):
        for logging_on in (False, True):
            port = serving.free_port()
            arm_env = {**env, "SHOPML_PREDICTION_LOG": str(logging_on).lower()}
            process, ready = serving.start(arm_env, port, home / f"serve-{round_no}-{logging_on}.log")
            try:
                requests = [serving.build_request("127.0.0.1", port, "/v1/recommend", b, headers) for b in bodies]
                asyncio.run(serving.closed_loop("127.0.0.1", port, requests, 8, 1000, 5))  # warm-up
                load = os.getloadavg()
                run = asyncio.run(serving.open_loop("127.0.0.1", port, requests, 300.0, args.seconds)).summary()
                row = {"round": round_no, "prediction_log": logging_on, "ready_seconds": ready,
                       "load_average": [round(x, 2) for x in load],
                       **{k: run[k] for k in ("requests", "rps", "p50_ms", "p99_ms", "max_ms", "errors")}}
                rounds.append(row)
                print(row, flush=True)
            finally:
                serving.stop(process)
    from serving.predictions import read_predictions

    written = len(read_predictions(home / "predictions"))
    p99 = {arm: statistics.median(r["p99_ms"] for r in rounds if r["prediction_log"] is arm) for arm in (False, True)}
    result = {
        "command": "python bench/prediction_log.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "recommend_p99_ms_300rps": {"before": p99[False], "after": p99[True]},
        "ratio": round(p99[True] / p99[False], 3) if p99[False] else None,
        "bar": "after / before <= 1.10",
        "met": bool(p99[False]) and p99[True] / p99[False] <= 1.10,
        "records_written": written,
        "rounds": rounds,
        "cores": os.cpu_count(),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("recommend_p99_ms_300rps", "ratio", "met", "records_written")}))
    print(f"wrote {RESULTS} in {time.perf_counter() - began:.0f} s", flush=True)


if __name__ == "__main__":
    main()
