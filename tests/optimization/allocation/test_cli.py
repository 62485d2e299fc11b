"""``shopml plan allocate`` / ``replenish`` in a subprocess: summary, JSON written, one-line errors exit 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env["SHOPML_DATA_HOME"] = str(cwd / "home")
    env["COLUMNS"] = "160"
    return subprocess.run([sys.executable, "-m", "cli", "plan", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_allocate_example_writes_a_verified_plan(tmp_path: Path):
    request = tmp_path / "request.json"
    shutil.copy(EXAMPLES / "allocation_request.json", request)
    out = run(["allocate", str(request), "--method", "lp"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "allocation OPTIMAL via lp" in out.stdout
    plan = json.loads((tmp_path / "request.plan.json").read_text())
    assert plan["verified"] is True and plan["shipments"]


def test_replenish_example_writes_a_proposal(tmp_path: Path):
    request = tmp_path / "rep.json"
    shutil.copy(EXAMPLES / "allocation_replenishment.json", request)
    target = tmp_path / "out" / "proposal.json"
    out = run(["replenish", str(request), "-o", str(target)], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "ABC classes" in out.stdout
    proposal = json.loads(target.read_text())
    assert proposal["orders"] >= 1 and {row["sku"] for row in proposal["proposal"]} == {"MUG", "LAMP"}


def test_bad_request_is_one_line_with_exit_2(tmp_path: Path):
    data = json.loads((EXAMPLES / "allocation_request.json").read_text())
    data["stock"][0]["warehouse_id"] = "NOWHERE"
    request = tmp_path / "bad.json"
    request.write_text(json.dumps(data))
    out = run(["allocate", str(request)], tmp_path)
    assert out.returncode == 2
    assert "unknown warehouse NOWHERE" in out.stderr and "Traceback" not in out.stderr
