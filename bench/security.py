"""Security suite: run ``tests/security`` and record the cases tried and failed in ``bench/results/security.json``.

The suite (docs/security.md, "The security suite") counts every case it tries, by kind, through its
``cases`` fixture (tests/security/conftest.py); with ``SHOPML_SECURITY_CASES`` set, each test process writes its
counts to that folder. This script runs the suite once with a fresh folder, adds the counts up and merges two
sections into the results file:

* ``cases``: ``tried``, ``failures`` (failed cases plus tests that failed or errored outside a case),
  ``by_kind`` (tried and failures per kind), the pytest outcome and the run time;
* ``audit``: ``tamper_detected`` (every tampered copy of a real trail was refused by ``verify`` naming the
  broken line or the head, and the untouched trail verified), with the number of tampers tried.

Other sections of the file (``raw_id_scan``, ``erasure``, ``serving``, written by other benches) are kept: the
file is read, this script's keys are replaced, and the result is written to a temporary file and renamed.

Usage: ``.venv/bin/python bench/security.py [-- extra pytest arguments]``; exits 1 when any case failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "security.json"
SUITE = "tests/security"


def run_suite(extra: list[str]) -> dict[str, Any]:
    """Run the suite; the summed case counts, the pytest totals and the wall time."""
    with tempfile.TemporaryDirectory(prefix="shopml-security-") as tmp:
        folder, junit = Path(tmp) / "cases", Path(tmp) / "junit.xml"
        env = {**os.environ, "SHOPML_SECURITY_CASES": str(folder), "MLFLOW_DISABLE_TELEMETRY": "true",
               "BENTOML_DO_NOT_TRACK": "true"}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider",
                               f"--junitxml={junit}", *extra], cwd=ROOT, env=env)
        seconds = time.perf_counter() - start
        by_kind: dict[str, dict[str, Any]] = {}
        for part in sorted(folder.glob("cases-*.json")):
            for kind, tally in json.loads(part.read_text()).items():
                into = by_kind.setdefault(kind, {"tried": 0, "failures": 0, "failed": []})
                into["tried"] += tally["tried"]
                into["failures"] += len(tally["failures"])
                into["failed"] += tally["failures"][:20]
        tests = _junit_totals(junit)
    return {"by_kind": by_kind, "tests": tests, "exit_code": done.returncode, "seconds": round(seconds, 1)}


def _junit_totals(path: Path) -> dict[str, int]:
    if not path.is_file():
        return {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    return {name: sum(int(s.get(name, 0)) for s in suites) for name in ("tests", "failures", "errors", "skipped")}


def sections(run: dict[str, Any]) -> dict[str, Any]:
    """The ``cases`` and ``audit`` sections of the results file."""
    by_kind = run["by_kind"]
    tried = sum(k["tried"] for k in by_kind.values())
    failed_cases = sum(k["failures"] for k in by_kind.values())
    tests = run["tests"]
    outside = 0 if failed_cases else tests["failures"] + tests["errors"]  # a test that failed outside a case
    audit = by_kind.get("audit_tamper", {"tried": 0, "failures": 0})
    return {
        "cases": {
            "tried": tried,
            "failures": failed_cases + outside,
            "by_kind": {kind: {"tried": k["tried"], "failures": k["failures"]} for kind, k in by_kind.items()},
            "failed": {kind: k["failed"] for kind, k in by_kind.items() if k["failed"]},
            "tests": tests,
            "pytest_exit_code": run["exit_code"],
            "seconds": run["seconds"],
            "command": f"{Path(sys.executable).name} bench/security.py (pytest {SUITE})",
            "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "audit": {
            "tamper_detected": audit["tried"] > 0 and audit["failures"] == 0,
            "tampers_tried": audit["tried"],
            "undetected": audit["failures"],
            "what": "every record of a real trail edited, its actor changed, deleted, duplicated and swapped with "
                    "the next; a forged record inserted; the tail cut; the head file dropped; `shopml audit "
                    "verify` exit code and named line on a sample; the untouched trail verifies",
        },
    }


def merge_results(update: dict[str, Any], path: Path = RESULTS) -> dict[str, Any]:
    """Replace ``update``'s keys in the JSON file at ``path``, keeping every other key; written atomically."""
    current: dict[str, Any] = {}
    if path.is_file():
        try:
            current = json.loads(path.read_text())
        except ValueError:
            current = {}
    merged = {**current, **update}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(merged, out, indent=2)
            out.write("\n")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return merged


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    result = sections(run_suite(extra))
    merge_results(result)
    cases = result["cases"]
    print(f"security suite: {cases['tried']} cases, {cases['failures']} failures in {cases['seconds']} s")
    for kind, tally in cases["by_kind"].items():
        print(f"  {kind:18s} {tally['tried']:6d} tried, {tally['failures']} failed")
    print(f"audit tamper detected: {result['audit']['tamper_detected']} ({result['audit']['tampers_tried']} tampers)")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0 if cases["failures"] == 0 and cases["tried"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
