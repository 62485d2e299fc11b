"""Pseudonymisation and erasure on the default demo shop: the raw-id scan after the demo flow, and one erasure.

Run: ``.venv/bin/python bench/privacy.py [--home DIR]``. Merges ``raw_id_scan`` and ``erasure`` into
``bench/results/security.json`` (the other sections come from ``bench/security.py``). Steps, as a user runs them:

1. the README's demo flow on the default demo shop (5,000 customers) generated with ``--id-prefix cust-`` (ids
   no number in a report can be mistaken for): ``data generate``, ``features build``, ``train all``,
   ``score audiences``, ``report customers``, ``kpi report``, the service answering recommend, events, score
   and audience calls for 200 customers, ``monitor``;
2. ``shopml privacy scan --json``: every file under the data home searched for the vault's 5,000 real ids;
3. ``shopml privacy erase`` of a customer the service answered about and logged, then ``shopml privacy scan
   --ids`` with their real id, pseudonym and log key: ``leftovers`` is the number of files still holding one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOPML = [sys.executable, "-m", "cli"]


def run(args: list[str], env: dict[str, str], check: bool = True) -> tuple[subprocess.CompletedProcess, float]:
    began = time.perf_counter()
    result = subprocess.run([*SHOPML, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - began
    if check and result.returncode != 0:
        raise SystemExit(f"shopml {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-2000:]}"
                         f"\n{result.stderr[-2000:]}")
    print(f"shopml {' '.join(args)}: {seconds:.1f} s", flush=True)
    return result, seconds


def _security_bench():
    """``bench/security.py``, which owns the merging of ``security.json``'s sections."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("shopml_bench_security", ROOT / "bench" / "security.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="Data home (default: a fresh temporary one).")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.serving.conftest import start_server

    home = args.home or Path(tempfile.mkdtemp(prefix="shopml-bench-privacy-")) / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env.update(SHOPML_DATA_HOME=str(home), BENTOML_HOME=str(home / "bentoml"), MLFLOW_DISABLE_TELEMETRY="true",
               BENTOML_DO_NOT_TRACK="true")
    load_before = os.getloadavg()
    timings = {}
    for step in (["data", "generate", "--id-prefix", "cust-"], ["features", "build"], ["train", "all"],
                 ["score", "audiences"], ["report", "customers"],
                 ["kpi", "report", "-o", str(home / "reports" / "kpi.html")]):
        timings[" ".join(step[:2])] = round(run(step, env)[1], 1)
    real = [f"cust-{10001 + i}" for i in range(200)]
    server = start_server(env, home.parent / "serve.log", wait_ready=True)
    calls = 0
    try:
        for customer in real:
            for method, path, body, key in (
                ("POST", "/v1/recommend", {"customer_id": customer, "k": 10}, "storefront"),
                ("POST", "/v1/events", {"events": [{"type": "view", "customer_id": customer, "sku": "22423"}]},
                 "storefront"),
                ("POST", "/v1/customers/score", {"customer_ids": [customer]}, "marketing"),
            ):
                status, _ = server.call(method, path, body, key)
                assert status == 200, (path, status)
                calls += 1
        assert server.call("POST", "/v1/audiences", {"format": "csv"}, "marketing")[0] == 200
        calls += 1
    finally:
        server.stop()
    timings["monitor"] = round(run(["monitor"], env, check=False)[1], 1)

    scan, scan_seconds = run(["privacy", "scan", "--json"], env, check=False)
    raw_id_scan = {**json.loads(scan.stdout), "seconds": round(scan_seconds, 1), "service_calls": calls,
                   "flow": "data generate --id-prefix cust-, features build, train all, score audiences, report "
                           "customers, kpi report, service (recommend, events, score for 200 customers; audience "
                           "CSV), monitor"}

    from serving.parquet_log import log_key
    from shopml.privacy import Pseudonyms, pseudonym
    from shopml.settings import load_settings

    settings = load_settings(data_home=home)
    who = real[0]
    inner = Pseudonyms.for_settings(settings).of(who)
    ids = home.parent / "erased-ids.txt"
    ids.write_text("\n".join([who, inner, pseudonym(log_key(home / "predictions"), inner)]) + "\n")
    held = json.loads(run(["privacy", "scan", "--ids", str(ids), "--json"], env, check=False)[0].stdout)
    erase, erase_seconds = run(["privacy", "erase", who, "--reason", "bench", "--json"], env, check=False)
    outcome = json.loads(erase.stdout)
    after = json.loads(run(["privacy", "scan", "--ids", str(ids), "--json"], env, check=False)[0].stdout)
    verify = run(["audit", "verify", "--json"], env, check=False)[0]
    erasure = {
        "files_holding_customer_before": len(held["files_with_ids"]),
        "files_rewritten": outcome["files_rewritten"], "rows_removed": outcome["rows_removed"],
        "ids_redacted": outcome["redacted"], "files_scanned": outcome["files_scanned"],
        "leftovers": len(after["files_with_ids"]) + len(outcome["leftovers"]),
        "audit_verifies": verify.returncode == 0, "seconds": round(erase_seconds, 1),
    }
    merge_results = _security_bench().merge_results
    merge_results({
        "raw_id_scan": raw_id_scan, "erasure": erasure,
        "privacy_bench": {"command": "python bench/privacy.py " + " ".join(sys.argv[1:]),
                          "date": datetime.now(UTC).isoformat(timespec="seconds"), "step_seconds": timings,
                          "load_average_start": [round(x, 2) for x in load_before],
                          "load_average_end": [round(x, 2) for x in os.getloadavg()]},
    })
    print(json.dumps({"raw_id_scan": raw_id_scan, "erasure": erasure}, indent=2))


if __name__ == "__main__":
    main()
