"""``shopml plan routes`` in a subprocess: summary, plan JSON, PNG, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.optimization.routing.conftest import planar_payload

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "routes_request.json"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env["SHOPML_DATA_HOME"] = str(cwd / "home")
    env["COLUMNS"] = "160"
    return subprocess.run(
        [sys.executable, "-m", "cli", "plan", "routes", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plans_the_example_writes_json_and_png(tmp_path: Path):
    request = tmp_path / "request.json"
    payload = json.loads(EXAMPLE.read_text())
    payload["options"] |= {"workers": 1}
    request.write_text(json.dumps(payload))
    result = run([str(request), "--time-limit", "1", "--plot", "routes.png", "--stops"], tmp_path)
    assert result.returncode == 0, result.stderr
    plan = json.loads((tmp_path / "request.plan.json").read_text())
    assert plan["feasible"] is True and plan["totals"]["vehicles"] >= 1
    assert "verified ok" in result.stdout
    assert "unserved order-013-pallet: demand 900 kg exceeds every vehicle's capacity 300" in result.stdout
    first_stop = plan["routes"][0]["visits"][0]["stop_id"]
    assert plan["routes"][0]["vehicle_id"] in result.stdout and first_stop in result.stdout  # --stops table
    assert (tmp_path / "routes.png").read_bytes()[:4] == b"\x89PNG"


def test_a_bad_request_is_one_line_and_exit_2(tmp_path: Path):
    payload = planar_payload(3, 1)
    payload["stops"][1]["time_windows"] = [{"start": 90, "end": 10}]
    (tmp_path / "bad.json").write_text(json.dumps(payload))
    (tmp_path / "broken.json").write_text("{not json")
    for name, expected in (
        ("bad.json", "stops[1] 's1'.time_windows[0]: window end 10.0 precedes its start 90.0"),
        ("broken.json", "not valid JSON"),
    ):
        result = run([name], tmp_path)
        assert result.returncode == 2, result.stdout
        assert expected in result.stderr and "Traceback" not in result.stderr
    result = run(["request.json", "--time-limit", "0"], tmp_path)
    assert result.returncode == 2
