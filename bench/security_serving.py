"""Does security cost the storefront latency? ``/v1/recommend`` before issue 20 and now, side by side in one run.

Run: ``.venv/bin/python bench/security_serving.py [--rounds 3] [--seconds 8] [--open-seconds 10]
[--before-commit 1d082aa^] [--before-home DIR] [--after-home DIR] [--workdir DIR]``.
Merges the ``serving`` section into ``bench/results/security.json`` (issue 20's bar: p99 at 300 requests/s and
requests/s at c=32 within 10 % of the code before it).

* **before**: the tree at ``--before-commit`` (default ``1d082aa^``, the parent of the commit that added managed
  keys and rate limits; the pseudonymous ids came later still), checked out with ``git worktree add`` into the
  work folder (removed again at the end). Its own ``python -m cli`` prepares its data home and serves, run with
  that checkout as the working directory, so its packages are the ones imported (checked and recorded);
* **after**: this tree. Its ``shopml data generate`` pseudonymises customer ids, and the service translates the
  caller's ids at the edge (``shopml.privacy.Edge``) and checks each key's rate limit on every request.

Both data homes are the default demo shop made by each version's own commands, with the same commands as
``bench/serving.py`` (``data generate``, ``features build``, ``train ... --if-missing``); ``--before-home`` and
``--after-home`` reuse prepared ones. The request bodies are the same bytes for both: 200 customer ids as the shop
knows them (raw ids, read from the before home's features), one in ten unknown, ``k`` 10, no session and no rules
file. The services are started one after the other, ``--rounds`` times, in the order before, after, then after,
before, and so on, so that the machine's other load falls on both; each start gets a warm-up, then a closed loop
at concurrency 32 (``--requests``, at most ``--seconds``) and an open loop at 300 requests/s for
``--open-seconds`` (latency from the scheduled send time, so queueing counts), with the load average beside each.
The figures are the median over rounds per arm. Both arms run on this interpreter and its packages, so the
difference is the code's.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"shopml_bench_{name}", _HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


serving = _bench_module("serving")
security = _bench_module("security")  # owns security.json: its path and the merging of sections
ROOT = _HERE.parent
ARMS = ("before", "after")
BAR = 0.10
"""Issue 20: "after" at most 10 % worse than "before" (p99 up, requests/s down)."""


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def imported_from(tree: Path, env: dict[str, str]) -> str:
    """Where ``import serving`` resolves when Python runs in ``tree`` (must be inside it)."""
    done = subprocess.run([sys.executable, "-c", "import serving; print(serving.__file__)"], cwd=tree, env=env,
                          capture_output=True, text=True, check=True)
    where = done.stdout.strip()
    if not Path(where).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"python in {tree} imports serving from {where}, not from that checkout; unset PYTHONPATH")
    return where


def arm_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_") and k != "PYTHONPATH"}
    env.update(SHOPML_DATA_HOME=str(home), BENTOML_HOME=str(home / "bentoml"), MLFLOW_DISABLE_TELEMETRY="true",
               BENTOML_DO_NOT_TRACK="true", MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false")
    return env


def known_share(port: int, bodies: list[bytes]) -> float:
    """Share of the bodies whose customer the service knows (the edge's translation must find the same ones)."""
    known = 0
    for body in bodies:
        status, answer = serving.post(port, "/v1/recommend", body)
        if status != 200:
            raise SystemExit(f"/v1/recommend answered {status}: {answer}")
        known += bool(answer.get("known_customer"))
    return round(known / len(bodies), 3)


def service_cpu_seconds(root_pid: int) -> float:
    """CPU seconds (user + system) used so far by ``root_pid`` and every process below it (the workers): the
    service's cost per request, which the load generator sharing the machine does not blur as it blurs rps."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    family, grew = {root_pid}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    return sum(cpu.get(pid, 0.0) for pid in family)


def measure(arm: str, tree: Path, home: Path, bodies: list[bytes], args, log: Path) -> dict[str, Any]:
    """Start the arm's service, warm it up, run c=32 and 300 requests/s; stop it."""
    port = serving.free_port()
    began = time.perf_counter()
    process, ready = serving.start(arm_env(home), port, log, root=tree)
    try:
        while ready is None and time.perf_counter() - began < 240:  # a busy machine: the registry retries
            time.sleep(1)
            if serving.get(f"http://127.0.0.1:{port}/readyz") == 200:
                ready = time.perf_counter() - began
        if ready is None:
            raise SystemExit(f"the {arm} service did not become ready; see {log}")
        headers = {"Authorization": f"Bearer {serving.KEYS['storefront']}"}
        requests = [serving.build_request("127.0.0.1", port, "/v1/recommend", b, headers) for b in bodies]
        known = known_share(port, bodies)
        asyncio.run(serving.closed_loop("127.0.0.1", port, requests, 8, 1000, 5))  # warm-up
        load = os.getloadavg()
        cpu_before = service_cpu_seconds(process.pid)
        c32 = asyncio.run(serving.closed_loop("127.0.0.1", port, requests, 32, args.requests, args.seconds))
        cpu_ms = (service_cpu_seconds(process.pid) - cpu_before) * 1000 / max(1, c32.summary()["requests"])
        time.sleep(6.0)  # the prediction log writes the c=32 run's records (every 5 s): not inside the next run
        load_open = os.getloadavg()
        open_300 = asyncio.run(serving.open_loop("127.0.0.1", port, requests, 300.0, args.open_seconds))
    finally:
        serving.stop(process)
    c32s, opens = c32.summary(), open_300.summary()
    keep = ("requests", "rps", "p50_ms", "p99_ms", "max_ms", "errors")
    return {"arm": arm, "ready_seconds": round(ready, 2), "known_customers": known,
            "c32": {**{k: c32s[k] for k in keep}, "service_cpu_ms_per_request": round(cpu_ms, 4)},
            "open_300": {k: opens[k] for k in keep},
            "load_average": [round(x, 2) for x in load], "load_average_open": [round(x, 2) for x in load_open]}


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over rounds per arm, the ratios and whether issue 20's bar is met."""
    def median(arm: str, run: str, key: str) -> float:
        return round(statistics.median(r[run][key] for r in rounds if r["arm"] == arm), 2)

    p99 = {arm: median(arm, "open_300", "p99_ms") for arm in ARMS}
    rps = {arm: median(arm, "c32", "rps") for arm in ARMS}
    p99_ratio = round(p99["after"] / p99["before"], 3) if p99["before"] else None
    rps_ratio = round(rps["after"] / rps["before"], 3) if rps["before"] else None
    return {
        "recommend_p99_ms_300rps": {**p99, "ratio": p99_ratio},
        "recommend_rps_c32": {**rps, "ratio": rps_ratio},
        "recommend_p50_ms_300rps": {arm: median(arm, "open_300", "p50_ms") for arm in ARMS},
        "service_cpu_ms_per_request_c32": {arm: round(statistics.median(
            r["c32"]["service_cpu_ms_per_request"] for r in rounds if r["arm"] == arm), 4) for arm in ARMS},
        "bar": f"after within {BAR:.0%} of before: p99 ratio <= {1 + BAR:.2f}, requests/s ratio >= {1 - BAR:.2f}",
        "met": (p99_ratio is not None and p99_ratio <= 1 + BAR) and (rps_ratio is not None and rps_ratio >= 1 - BAR),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="Starts of each arm (alternating).")
    parser.add_argument("--seconds", type=float, default=8.0, help="Longest closed-loop run at c=32.")
    parser.add_argument("--requests", type=int, default=4000, help="Most requests of the closed-loop run.")
    parser.add_argument("--open-seconds", type=float, default=10.0, help="Duration of the 300 requests/s run.")
    parser.add_argument("--before-commit", default="1d082aa^", help="The code before issue 20's keys and limits.")
    parser.add_argument("--before-home", type=Path, default=None, help="A data home prepared by the before code.")
    parser.add_argument("--after-home", type=Path, default=None, help="A data home prepared by this tree.")
    parser.add_argument("--workdir", type=Path, default=None, help="Where the checkout and homes go (default: temp).")
    args = parser.parse_args()
    began = time.perf_counter()
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="shopml-bench-security-serving-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    before_commit = git("rev-parse", args.before_commit)
    tree = work / "before-tree"
    git("worktree", "add", "--detach", str(tree), before_commit)
    try:
        homes = {"before": (args.before_home or work / "before" / "home").resolve(),
                 "after": (args.after_home or work / "after" / "home").resolve()}
        trees = {"before": tree, "after": ROOT}
        imports = {arm: imported_from(trees[arm], arm_env(homes[arm])) for arm in ARMS}
        models = {}
        for arm in ARMS:
            models[arm] = serving.prepare(homes[arm], arm_env(homes[arm]), root=trees[arm])
            print(arm, "models:", models[arm], flush=True)
        # the after home's rules and experiment files would change the answers: "today" had neither
        for name in ("rules/recommend.json", "experiments/recommend.json"):
            (homes["after"] / name).unlink(missing_ok=True)
        bodies = serving.payloads(homes["before"])["recommend"]  # the shop's own (raw) customer ids
        rounds: list[dict[str, Any]] = []
        for round_no in range(args.rounds):
            for arm in ARMS if round_no % 2 == 0 else ARMS[::-1]:
                row = {"round": round_no, **measure(arm, trees[arm], homes[arm], bodies, args,
                                                    work / f"serve-{arm}-{round_no}.log")}
                rounds.append(row)
                print(json.dumps(row), flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    section = {
        **summarise(rounds),
        "rounds": rounds,
        "load_average": {"start_to_end": [r["load_average"] for r in rounds],
                         "median_1min": round(statistics.median(r["load_average"][0] for r in rounds), 2)},
        "code": {"before": {"commit": before_commit, "imports": imports["before"]},
                 "after": {"commit": git("rev-parse", "HEAD"), "uncommitted_changes": bool(git("status", "--porcelain")),
                           "imports": imports["after"]}},
        "models": models,
        "requests": {"bodies": len(bodies), "unknown_share": 0.1, "k": 10, "route": "/v1/recommend",
                     "key": "demo storefront key", "session": None, "rules": None},
        "command": "python bench/security_serving.py " + " ".join(sys.argv[1:]),
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cores": os.cpu_count(),
        "seconds": round(time.perf_counter() - began),
    }
    security.merge_results({"serving": section})
    print(json.dumps({k: section[k] for k in ("recommend_p99_ms_300rps", "recommend_rps_c32", "met")}))
    print(f"merged the serving section into {security.RESULTS}", flush=True)


if __name__ == "__main__":
    main()
