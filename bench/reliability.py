"""Fault suite of the shopml service (issue 15): its registry down, slow or back, corrupt models, a full task
store, reloads and SIGTERM under load, solver-heavy traffic, and a catalogue of bad inputs.

Run: ``.venv/bin/python bench/reliability.py [--home DIR]``. Writes ``bench/results/reliability.json``. Steps:

1. a data home (``--home``, default a fresh temporary folder) gets the demo shop, its features and every model
   with ``prepare`` of ``bench/serving.py`` (the commands ``make run`` uses);
2. the service is started on it normally, which saves the last-good local copies under
   ``<home>/serving/last_good``, and while it is up:

   * ``reload_under_load``: 20 s of mixed requests (recommend, customer scores, an audience page,
     ``GET /v1/models``; several thousand) at concurrency 8 while ``POST /v1/admin/reload`` is called again one
     second after each answer;
   * ``heavy_plans``: four route plans of 10 s solver time at once, then two more beyond the heavy lane's
     capacity, while ``/v1/audiences`` and ``/v1/experiments/size`` are timed one after the other (50 ms apart);
   * ``sigterm_under_load``: SIGTERM to the started process under concurrency-8 load; seconds until it exits,
     and whether every process it started is gone (the BentoML worker runs in a session of its own, so the
     check follows the process tree, not the process group);

3. one fresh start per fault, one at a time on the same home (``shopml serve`` holds a lock on it):

   * ``registry_unreachable`` (``http://127.0.0.1:1``) and ``registry_slow`` (a TCP server in this process that
     accepts connections and never answers): seconds from the command to ``/livez`` and to ``/readyz``
     answering 200, the source and note of every model, and requests fired every 0.25 s from the command on
     (``/livez``, ``/v1/models``, ``/v1/recommend``, 5 s timeout) that got no answer (``hung_requests``; those
     sent before ``/livez`` first answered are counted apart: BentoML's arbiter listens before its worker
     serves);
   * ``registry_restored``: the SQLite registry replaced by a directory (unopenable) for the start, then put
     back; seconds until every model is served from the registry again (``serve_retry_seconds`` 3). The
     bad-input catalogue (``bench/bad_inputs.py``) then runs against this service;
   * ``corrupt_champion``: a truncated last-good copy of the customer models with the registry unreachable,
     and a truncated champion artifact with the registry up (load wait 60 s, so that only the artifact can
     fail): what ``/readyz`` says, what each route answers, and how many worker processes were started;
   * ``task_store_disk_full``: BentoML's task database (``BENTOML_RESULT_STORE``) on a 1 MiB tmpfs that is
     filled once the service is up; a task submit, then the other routes.

Every service is stopped by SIGTERM, and whatever it started is killed by pid in ``finally``; every change to
the home is undone after its fault. The load generator and probes run in this process on the same two cores,
and other engineers share the machine, so the load average is recorded at start and end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

# This file lives in bench/, beside bench/serving.py: drop the folder from the path so ``import serving`` (and
# every project import) finds the packages, and load the sibling bench modules by file instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"shopml_bench_{name}", _HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_serving = _bench_module("serving")  # prepare(), payloads(), free_port() and its loadgen
bad = _bench_module("bad_inputs")
_lg = sys.modules["shopml_bench_loadgen"]

ROOT = _HERE.parent
RESULTS = ROOT / "bench" / "results" / "reliability.json"
UNREACHABLE = "http://127.0.0.1:1"
STARTED = time.perf_counter()


def progress(message: str) -> None:
    print(f"[reliability {time.perf_counter() - STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def defaults() -> dict[str, float]:
    """The service settings the faults are judged against (their defaults: one owner, shopml.settings)."""
    from shopml.settings import Settings

    names = ("serve_load_wait_seconds", "serve_retry_seconds", "serve_shutdown_seconds", "serve_heavy_workers",
             "serve_heavy_queue", "registry_timeout_seconds", "registry_retries")
    return {name: Settings.model_fields[name].default for name in names}


def r2(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def percentile_ms(seconds: list[float], q: float) -> float | None:
    return round(float(np.percentile(seconds, q)) * 1e3, 2) if seconds else None


# --- processes ----------------------------------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[19]


def descendants(pid: int) -> dict[int, str]:
    """``pid`` and every process below it, each with its start time (so that a reused pid is not mistaken)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
            starts[int(entry.name)] = stat[1]
    found, queue = {}, [pid]
    while queue:
        current = queue.pop()
        if current in starts:
            found[current] = starts[current]
            queue.extend(children.get(current, []))
    return found


def alive(pid: int, start: str) -> bool:
    stat = _proc_stat(pid)
    if stat is None or stat[1] != start:
        return False
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:160].strip()
    except OSError:
        return "?"


@dataclass
class Service:
    """One ``shopml serve`` process (it execs into BentoML's arbiter), its port, log and the processes it started."""

    process: subprocess.Popen
    port: int
    log: Path
    began: float
    family: dict[int, str] = field(default_factory=dict)
    workers: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def since_start(self) -> float:
        return time.perf_counter() - self.began

    def call(self, method: str, path: str, auth: str | None = None, body: Any = None, timeout: float = 5.0):
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        return bad.send(self.url, method, path, auth=auth, data=data, timeout=timeout)

    def models(self) -> dict[str, dict]:
        answer = self.call("GET", "/v1/models", "admin")
        document = answer.json() if answer.status == 200 else None
        return {m["name"]: m for m in (document or {}).get("models", [])}

    def remember(self) -> None:
        """Note every process below the service now, so that all of them can be checked and stopped later, and
        every BentoML worker process seen (more than one means the arbiter restarted a worker that died)."""
        for pid, start in descendants(self.process.pid).items():
            if pid not in self.family and "_bentoml_impl.worker" in command_line(pid):
                self.workers.add(pid)
            self.family[pid] = start

    def terminate(self, timeout: float = 60.0) -> dict[str, Any]:
        """SIGTERM to the started process; seconds until it exits, and which of its processes outlive it."""
        self.remember()
        began = time.perf_counter()
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
            exit_seconds = time.perf_counter() - began
        except subprocess.TimeoutExpired:
            code, exit_seconds = None, None
        at_exit = [pid for pid, start in self.family.items() if alive(pid, start)]
        deadline = time.perf_counter() + 2.0
        left = at_exit
        while left and time.perf_counter() < deadline:
            time.sleep(0.05)
            left = [pid for pid in left if alive(pid, self.family[pid])]
        gone_seconds = time.perf_counter() - began if not left else None
        result = {
            "exit_seconds": r2(exit_seconds),
            "exit_code": code,
            "processes": len(self.family),
            "alive_at_exit": [command_line(pid) for pid in at_exit],
            "all_gone_seconds": r2(gone_seconds),
            "left_after_2s": [command_line(pid) for pid in left],
        }
        self.kill()
        return result

    def kill(self) -> None:
        """SIGKILL whatever of the service is still running (by pid: the arbiter and the worker's own session)."""
        if self.process.poll() is None:
            self.remember()
        for pid, start in self.family.items():
            if alive(pid, start):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)


@dataclass
class Bench:
    """What every fault needs: the home, the environment of ``shopml serve``, request bodies, a work folder."""

    home: Path
    env: dict[str, str]
    work: Path
    bodies: dict[str, list[bytes]]
    sku: str | None = None
    settings: dict[str, float] = field(default_factory=dict)

    def start(self, label: str, **overrides: str) -> Service:
        env = {**self.env, **overrides}
        port = _serving.free_port()
        log = self.work / f"serve-{label}.log"
        with open(log, "wb") as out:
            began = time.perf_counter()
            process = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)], env=env,
                                       cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        progress(f"{label}: shopml serve on port {port} (pid {process.pid}, log {log})")
        return Service(process, port, log, began)


def wait_up(service: Service, timeout: float = 120.0, ready: bool = True) -> tuple[float | None, float | None]:
    """Seconds from the command to the first 200 of ``/livez`` and (when ``ready``) of ``/readyz``."""
    live = up = None
    while service.since_start() < timeout:
        if service.process.poll() is not None:
            raise RuntimeError(f"shopml serve exited with {service.process.returncode}: "
                               f"{service.log.read_text()[-2000:]}")
        if live is None and service.call("GET", "/livez", timeout=2).status == 200:
            live = service.since_start()
            service.remember()
            if not ready:
                return live, None
        if live is not None and service.call("GET", "/readyz", timeout=2).status == 200:
            up = service.since_start()
            service.remember()
            return live, up
        time.sleep(0.1)
    return live, up


class StartupProbe:
    """Requests fired every ``interval`` while a service starts, each on its own thread with a ``timeout``.

    A request that gets no answer within the timeout is hung; a refused connection (nothing listens yet) is not.
    Each result keeps when it was sent (seconds since the command), so that hangs before the worker answered
    anything can be told from hangs after.
    """

    def __init__(self, service: Service, requests: list[tuple[str, str, str | None, bytes | None]],
                 interval: float = 0.25, timeout: float = 5.0):
        self.service, self.requests, self.interval, self.timeout = service, requests, interval, timeout
        self.results: list[tuple[str, str, float, float]] = []  # path, outcome, sent, answered (since start)
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=3 * int(timeout / interval + 2))
        self._thread = threading.Thread(target=self._run, name="startup-probe", daemon=True)

    def start(self) -> StartupProbe:
        self._thread.start()
        return self

    def _one(self, method: str, path: str, auth: str | None, data: bytes | None) -> None:
        sent = self.service.since_start()
        answer = bad.send(self.service.url, method, path, auth=auth, data=data, timeout=self.timeout)
        outcome = str(answer.status) if answer.status is not None else (answer.error or "none").split(" ")[0]
        self.results.append((path, outcome, sent, sent + answer.seconds))

    def _run(self) -> None:
        while not self._stop.is_set():
            for request in self.requests:
                self._pool.submit(self._one, *request)
            self._stop.wait(self.interval)

    def first_live(self) -> float | None:
        """When the first ``/livez`` probe got its 200 (seconds since the command)."""
        answered = [done for path, outcome, _, done in self.results if path == "/livez" and outcome == "200"]
        return min(answered) if answered else None

    def stop(self, live: float | None = None) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)
        per_path: dict[str, Counter] = {}
        for path, outcome, _, _ in self.results:
            per_path.setdefault(path, Counter())[outcome] += 1
        hung = [sent for _, outcome, sent, _ in self.results if outcome == "timeout"]
        refused = [sent for _, outcome, sent, _ in self.results if outcome == "refused"]
        return {
            "sent": len(self.results),
            "hung": len(hung),
            "hung_sent_before_live": sum(1 for t in hung if live is None or t < live),
            "hung_sent_after_live": sum(1 for t in hung if live is not None and t >= live),
            "hung_sent_seconds": [r2(min(hung)), r2(max(hung))] if hung else None,
            "refused": len(refused),
            "refused_until_seconds": r2(max(refused)) if refused else None,
            "per_path": {path: dict(sorted(c.items())) for path, c in per_path.items()},
        }


class SlowRegistry:
    """A TCP server that accepts every connection and never answers (the sockets stay open until ``close``)."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="slow-registry", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self._server.close()
        for conn in self.accepted:
            conn.close()


# --- faults -------------------------------------------------------------------------------------------------------


def _recommend_body(bench: Bench) -> bytes:
    return bench.bodies["recommend"][1]


def registry_fault(bench: Bench, label: str, uri: str) -> dict[str, Any]:
    """Start with the registry at ``uri``: time to live and ready, where each model came from, hung requests."""
    service = bench.start(label, SHOPML_MLFLOW_TRACKING_URI=uri)
    probe = StartupProbe(service, [("GET", "/livez", None, None), ("GET", "/v1/models", "admin", None),
                                   ("POST", "/v1/recommend", "storefront", _recommend_body(bench))]).start()
    try:
        live, ready = wait_up(service, timeout=120)
        time.sleep(1.0)  # a few probes after ready, too
        live = min(t for t in (live, probe.first_live()) if t is not None) if live else probe.first_live()
        probed = probe.stop(live)
        models = service.models()
        result = {
            "tracking_uri": uri,
            "livez_seconds": r2(live),
            "ready_seconds": r2(ready),
            "sources": {name: m["source"] for name, m in models.items()},
            "notes": {name: m["note"] for name, m in models.items()},
            "hung_requests": probed["hung"],
            "hung_after_live": probed["hung_sent_after_live"],
            "startup_requests": probed,
        }
        progress(f"{label}: live {r2(live)} s, ready {r2(ready)} s, sources {result['sources']}, "
                 f"hung {probed['hung']} of {probed['sent']} ({probed['hung_sent_after_live']} sent after live)")
        result["shutdown"] = service.terminate()
        result["exit_seconds"] = result["shutdown"]["exit_seconds"]
        progress(f"{label}: exited {result['exit_seconds']} s after SIGTERM")
        return result
    finally:
        probe.stop()
        service.kill()


def registry_restored(bench: Bench) -> tuple[dict[str, Any], dict[str, Any]]:
    """The SQLite registry unopenable at start (a directory where the file was), then put back.

    Returns the fault's figures and the bad-input catalogue's, which runs on this service once it is back on the
    registry (so that a hung bad input cannot delay the shutdown measured by ``sigterm_under_load``).
    """
    db = bench.home / "mlflow.db"
    away = bench.home / "mlflow.db.away"
    os.replace(db, away)
    db.mkdir()
    service = None
    try:
        service = bench.start("registry_restored", SHOPML_SERVE_RETRY_SECONDS="3")
        live, ready = wait_up(service, timeout=150)
        before = service.models()
        progress(f"registry_restored: ready {r2(ready)} s with sources "
                 f"{ {n: m['source'] for n, m in before.items()} }; putting the registry back")
        shutil.rmtree(db)
        os.replace(away, db)
        restored_at = time.perf_counter()
        restored = None
        while time.perf_counter() - restored_at < 150:
            models = service.models()
            if models and all(m["source"] == "registry" for m in models.values()):
                restored = time.perf_counter() - restored_at
                break
            time.sleep(0.25)
        after = service.models()
        result = {
            "how": "mlflow.db replaced by a directory during start-up, then put back; SHOPML_SERVE_RETRY_SECONDS=3",
            "livez_seconds": r2(live),
            "ready_seconds": r2(ready),
            "sources_before": {name: m["source"] for name, m in before.items()},
            "notes_before": {name: m["note"] for name, m in before.items()},
            "restored_seconds": r2(restored),
            "sources_after": {name: m["source"] for name, m in after.items()},
        }
        progress(f"registry_restored: every model from the registry {r2(restored)} s after it came back")
        progress("bad inputs: running the catalogue")
        catalogue = bad.run_catalogue(service.url, bad.catalogue(bench.sku or bad.known_sku(service.url)), timeout=5)
        progress(f"bad inputs: {catalogue['cases']} cases, {catalogue['wrong_answers']} wrong, "
                 f"{catalogue['server_errors']} server errors, {catalogue['hung']} hung")
        result["shutdown_after_catalogue"] = service.terminate()
        return result, catalogue
    finally:
        if service is not None:
            service.kill()
        if away.exists():
            if db.is_dir():
                shutil.rmtree(db)
            os.replace(away, db)


def _route_answers(service: Service, bench: Bench) -> dict[str, Any]:
    """Status (or no answer) and seconds of one request to each kind of route."""
    forecast = {"skus": [bench.sku], "horizon": 2} if bench.sku else {"horizon": 1}
    requests = {
        "livez": ("GET", "/livez", None, None),
        "readyz": ("GET", "/readyz", None, None),
        "models": ("GET", "/v1/models", "storefront", None),
        "recommend": ("POST", "/v1/recommend", "storefront", _recommend_body(bench)),
        "customers_score": ("POST", "/v1/customers/score", "marketing", bench.bodies["customers_score"][0]),
        "audiences": ("POST", "/v1/audiences", "marketing", {"segments": ["at_risk"], "page_size": 20}),
        "forecast": ("POST", "/v1/forecast", "logistics", forecast),
        "experiments_size": ("POST", "/v1/experiments/size", "marketing", bad.SIZE),
    }
    out = {}
    for name, (method, path, auth, body) in requests.items():
        answer = service.call(method, path, auth, body, timeout=10)
        parsed = answer.json()
        out[name] = {"status": answer.status, "seconds": r2(answer.seconds), "error": answer.error,
                     "message": parsed.get("error") if isinstance(parsed, dict) and answer.status != 200 else None}
    return out


def _settled(models: dict[str, dict]) -> bool:
    """Every model either loaded or carrying the reason it is not."""
    return bool(models) and all(m["loaded"] or m["note"] for m in models.values())


def log_lines(log: Path, markers: tuple[str, ...], limit: int = 4) -> list[str]:
    """The first ``limit`` distinct lines of a service log that contain one of ``markers``."""
    found: list[str] = []
    for line in log.read_bytes().decode("utf-8", "replace").splitlines():
        line = line.strip()[:300]
        if any(m in line for m in markers) and line not in found:
            found.append(line)
            if len(found) == limit:
                break
    return found


def degraded_start(bench: Bench, label: str, settle_seconds: float = 60.0, **overrides: str) -> dict[str, Any]:
    """Start, wait until every model is loaded or says why not, then what ``/readyz`` and every route answer."""
    service = bench.start(label, **overrides)
    try:
        live, _ = wait_up(service, timeout=120, ready=False)
        settled = None
        while service.since_start() < (live or 0) + settle_seconds:
            service.remember()
            if _settled(service.models()):
                settled = service.since_start()
                break
            time.sleep(0.5)
        service.remember()
        readyz = service.call("GET", "/readyz", timeout=10)
        document = readyz.json() or {}
        routes = _route_answers(service, bench)
        result = {
            "livez_seconds": r2(live),
            "settled_seconds": r2(settled),
            "readyz_status": readyz.status,
            "models": {m["name"]: {k: m[k] for k in ("loaded", "source", "version", "note")}
                       for m in document.get("models", [])},
            "routes": routes,
            "hung_requests": sum(1 for r in routes.values() if r["error"] == "timeout"),
            "worker_processes_started": len(service.workers),
            "worker_crashes_logged": service.log.read_bytes().count(b"terminate called"),
            "log_excerpt": log_lines(service.log, ("[Fatal]", "terminate called", "Traceback", "ERROR")),
        }
        progress(f"{label}: readyz {readyz.status}, "
                 f"{ {n: (m['loaded'], m['source']) for n, m in result['models'].items()} }, routes "
                 f"{ {n: r['status'] for n, r in routes.items()} }, {len(service.workers)} worker process(es)")
        result["shutdown"] = service.terminate()
        return result
    finally:
        service.kill()


def _largest_file(folder: Path) -> Path:
    return max((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def champion_artifact_folder(home: Path, registry_name: str) -> Path:
    """The artifact folder of ``registry_name``'s champion in the home's SQLite registry (MLflow 3 logged model)."""
    import sqlite3

    with sqlite3.connect(home / "mlflow.db") as conn:
        (source,) = conn.execute(
            "SELECT v.source FROM model_versions v JOIN registered_model_aliases a "
            "ON a.name = v.name AND a.version = v.version WHERE v.name = ? AND a.alias = 'champion'",
            (registry_name,)).fetchone()
    model_id = source.removeprefix("models:/")
    (folder,) = (home / "mlartifacts").glob(f"*/models/{model_id}/artifacts/artifacts")
    return folder


def corrupt_champion(bench: Bench) -> dict[str, Any]:
    """Half of one customer-model file cut off: in the last-good copy (registry down), then in the champion."""
    out = {}
    # With the registry up, the load wait is raised so that a slow machine cannot turn the load into a timeout
    # (and a local copy) before the truncated artifact is even read.
    for label, folder, overrides in (
        ("local_copy_truncated", bench.home / "serving" / "last_good" / "customers",
         {"SHOPML_MLFLOW_TRACKING_URI": UNREACHABLE}),
        ("registry_artifact_truncated", champion_artifact_folder(bench.home, "churn"),
         {"SHOPML_SERVE_LOAD_WAIT_SECONDS": "60"}),
    ):
        target = _largest_file(folder)
        original = target.read_bytes()
        target.write_bytes(original[: len(original) // 2])
        try:
            result = degraded_start(bench, f"corrupt_champion.{label}", **overrides)
            out[label] = {"truncated": str(target.relative_to(bench.home)), "settings": overrides, **result}
        finally:
            target.write_bytes(original)
    return out


def _fill(folder: Path) -> int:
    """Write into ``folder`` until its file system is full; returns the bytes written."""
    written = 0
    with open(folder / "filler", "wb", buffering=0) as out:
        for block in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    written += out.write(b"\0" * block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return written


def task_store_disk_full(bench: Bench) -> dict[str, Any]:
    """BentoML's task database on a tiny tmpfs, filled once the service is up; then a task submit."""
    store = bench.work / "task-store"
    store.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(store)],
                             capture_output=True, text=True)
    how = "BENTOML_RESULT_STORE on a 1 MiB tmpfs, filled after start-up"
    if mounted.returncode != 0:
        how = f"tmpfs mount failed ({mounted.stderr.strip()[:120]}): task store in a read-only directory"
    service = None
    try:
        service = bench.start("task_store_disk_full", BENTOML_RESULT_STORE=str(store / "task_result.db"))
        live, ready = wait_up(service, timeout=120)
        task = bad.ROUTE
        before = service.call("POST", "/v1/routes/plan-task/submit", "logistics", task, timeout=30)
        if mounted.returncode == 0:
            filled = _fill(store)
        else:
            filled = 0
            for path in store.iterdir():
                path.chmod(0o444)
            store.chmod(0o555)  # only a non-root user is stopped by this
        submit = service.call("POST", "/v1/routes/plan-task/submit", "logistics", task, timeout=30)
        task_id = (before.json() or {}).get("task_id") if before.status == 200 else None
        status = None
        waited = time.perf_counter()
        while task_id and time.perf_counter() - waited < 8:  # the earlier task's result must be written, too
            status = service.call("GET", f"/v1/routes/plan-task/status?task_id={task_id}", "logistics", timeout=10)
            if (status.json() or {}).get("status") != "in_progress":
                break
            time.sleep(0.5)
        result = {
            "how": how,
            "ready_seconds": r2(ready),
            "bytes_filled": filled,
            "submit_before_full": {"status": before.status, "body": before.body[:200].decode("utf-8", "replace")},
            "submit_status": submit.status,
            "submit_seconds": r2(submit.seconds),
            "submit_error": submit.error,
            "submit_body": submit.body[:300].decode("utf-8", "replace"),
            "submit_error_shape": bad.error_shape_problem(submit) if submit.status and submit.status >= 400 else None,
            "earlier_task_status_8s_later": {"status": status.status,
                                             "body": status.body[:200].decode("utf-8", "replace")} if status else None,
            "routes": _route_answers(service, bench),
        }
        progress(f"task_store_disk_full: submit {submit.status or submit.error} in {r2(submit.seconds)} s "
                 f"({result['submit_body'][:100]}); routes "
                 f"{ {n: r['status'] for n, r in result['routes'].items()} }")
        result["shutdown"] = service.terminate()
        return result
    finally:
        if service is not None:
            service.kill()
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(store)], capture_output=True)
        else:
            store.chmod(0o755)


def _get_request(port: int, path: str, key: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n\r\n".encode()


def _mixed_requests(service: Service, bench: Bench) -> list[bytes]:
    """Recommend, customer scores, an audience page and the models document, in turn."""
    build = _lg.build_request
    port = service.port
    out = []
    for i in range(200):
        audience = {"segments": [["at_risk"], ["active"], ["high_value"]][i % 3], "page": i % 4 + 1, "page_size": 20}
        out += [
            build("127.0.0.1", port, "/v1/recommend", bench.bodies["recommend"][i], {"Authorization":
                                                                                    "Bearer demo-storefront-key"}),
            build("127.0.0.1", port, "/v1/customers/score", bench.bodies["customers_score"][i],
                  {"Authorization": "Bearer demo-marketing-key"}),
            build("127.0.0.1", port, "/v1/audiences", json.dumps(audience).encode(),
                  {"Authorization": "Bearer demo-marketing-key"}),
            _get_request(port, "/v1/models", "demo-admin-key"),
        ]
    return out


def _load_summary(run) -> dict[str, Any]:
    answered = sum(run.statuses.values())
    non_2xx = sum(n for status, n in run.statuses.items() if not 200 <= status < 300)
    return {**run.summary(), "answered": answered, "non_2xx": non_2xx,
            "connection_errors": run.errors - sum(n for s, n in run.statuses.items() if s >= 400),
            "statuses": {str(k): v for k, v in sorted(run.statuses.items())}}


def reload_under_load(service: Service, bench: Bench, seconds: float = 20.0) -> dict[str, Any]:
    """Mixed requests at concurrency 8 for ``seconds`` while the admin reload is called again one second after
    each answer (so that most requests overlap a reload)."""
    stop = threading.Event()
    reloads: list[tuple[int | None, float]] = []

    def reload_loop() -> None:
        while not stop.is_set():
            answer = service.call("POST", "/v1/admin/reload", "admin", timeout=90)
            reloads.append((answer.status, answer.seconds))
            stop.wait(1.0)

    thread = threading.Thread(target=reload_loop, name="reloader", daemon=True)
    thread.start()
    try:
        run = asyncio.run(_lg.closed_loop("127.0.0.1", service.port, _mixed_requests(service, bench), 8,
                                          10**7, seconds))
    finally:
        stop.set()
        thread.join(timeout=120)
    models = service.models()
    result = {
        **_load_summary(run),
        "reloads": len(reloads),
        "reload_statuses": dict(Counter(str(s) for s, _ in reloads)),
        "reload_seconds": [r2(s) for _, s in reloads],
        "sources_after": {name: m["source"] for name, m in models.items()},
    }
    progress(f"reload_under_load: {result['requests']} requests, {result['non_2xx']} not 2xx, "
             f"{result['connection_errors']} connection errors, {len(reloads)} reloads {result['reload_statuses']}")
    return result


def heavy_plans(service: Service, plans: int = 4, overflow: int = 2) -> dict[str, Any]:
    """``plans`` route plans of 10 s at once (then ``overflow`` short ones) while light routes are timed."""
    request = json.loads((ROOT / "docs" / "examples" / "routes_request.json").read_text())
    request["options"] = {**request.get("options", {}), "time_limit": 10, "workers": 1}
    short = {**request, "options": {**request["options"], "time_limit": 1}}
    light = [("/v1/audiences", {"segments": ["at_risk"], "page_size": 20}), ("/v1/experiments/size", bad.SIZE)]
    timings: dict[str, list[float]] = {path: [] for path, _ in light}
    failures: Counter = Counter()
    stop = threading.Event()

    def light_loop() -> None:
        while not stop.is_set():
            for path, body in light:
                answer = service.call("POST", path, "marketing", body, timeout=30)
                if answer.status == 200:
                    timings[path].append(answer.seconds)
                else:
                    failures[f"{path} {answer.status or answer.error}"] += 1
                stop.wait(0.05)

    quiet_stop = time.perf_counter() + 3.0
    thread = threading.Thread(target=light_loop, name="light-loop", daemon=True)
    thread.start()
    time.sleep(max(0.0, quiet_stop - time.perf_counter()))
    quiet = {path: list(t) for path, t in timings.items()}
    for t in timings.values():
        t.clear()

    answers: dict[int, Any] = {}

    def plan(i: int, body: dict) -> None:
        answers[i] = service.call("POST", "/v1/routes/plan", "logistics", body, timeout=180)

    threads = [threading.Thread(target=plan, args=(i, request)) for i in range(plans)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    extra = [threading.Thread(target=plan, args=(plans + i, short)) for i in range(overflow)]
    for t in extra:
        t.start()
    for t in threads + extra:
        t.join()
    stop.set()
    thread.join()
    main = [answers[i] for i in range(plans)]
    over = [answers[plans + i] for i in range(overflow)]
    audiences, size = timings["/v1/audiences"], timings["/v1/experiments/size"]
    result = {
        "plans_statuses": [a.status for a in main],
        "plan_seconds": [r2(a.seconds) for a in main],
        "plans_verified": sum(1 for a in main if a.status == 200),
        "overflow_statuses": [a.status for a in over],
        "overflow_retry_after": [a.headers.get("retry-after") for a in over],
        "overflow_seconds": [r2(a.seconds) for a in over],
        "audiences_requests": len(audiences),
        "audiences_p50_ms": percentile_ms(audiences, 50),
        "audiences_p99_ms": percentile_ms(audiences, 99),
        "audiences_max_ms": percentile_ms(audiences, 100),
        "size_requests": len(size),
        "size_p50_ms": percentile_ms(size, 50),
        "size_p99_ms": percentile_ms(size, 99),
        "light_failures": dict(failures),
        "quiet_audiences_p99_ms": percentile_ms(quiet["/v1/audiences"], 99),
        "quiet_size_p99_ms": percentile_ms(quiet["/v1/experiments/size"], 99),
        "plan_request": "docs/examples/routes_request.json, options.time_limit 10 s, workers 1 (overflow: 1 s)",
    }
    progress(f"heavy_plans: plans {result['plans_statuses']} in {result['plan_seconds']} s, overflow "
             f"{result['overflow_statuses']}; audiences p50/p99 {result['audiences_p50_ms']}/"
             f"{result['audiences_p99_ms']} ms, size p99 {result['size_p99_ms']} ms")
    return result


def sigterm_under_load(service: Service, bench: Bench) -> dict[str, Any]:
    """SIGTERM while eight connections keep sending; seconds until the process exits and whether all is gone."""
    build = _lg.build_request
    requests = [build("127.0.0.1", service.port, "/v1/recommend", body,
                      {"Authorization": "Bearer demo-storefront-key"}) for body in bench.bodies["recommend"]]
    holder: dict[str, Any] = {}

    def load() -> None:
        holder["run"] = asyncio.run(_lg.closed_loop("127.0.0.1", service.port, requests, 8, 10**7, 60.0))

    thread = threading.Thread(target=load, name="sigterm-load", daemon=True)
    thread.start()
    time.sleep(2.0)
    result = service.terminate()
    thread.join(timeout=70)
    run = holder.get("run")
    result["load"] = _load_summary(run) if run else None
    progress(f"sigterm_under_load: exit {result['exit_seconds']} s, left at exit {result['alive_at_exit']}, "
             f"all gone {result['all_gone_seconds']} s")
    return result


def normal_session(bench: Bench) -> dict[str, Any]:
    """The normal start (saves the last-good copies), then reload, heavy plans and SIGTERM under load on it."""
    service = bench.start("normal")
    try:
        live, ready = wait_up(service, timeout=150)
        if ready is None:
            raise RuntimeError(f"the service never became ready: {service.log.read_text()[-2000:]}")
        at_ready = {name: m["source"] for name, m in service.models().items()}
        registry = None  # a load slower than serve_load_wait_seconds is served from its copy, then adopted
        while service.since_start() < ready + 60:
            if all(m["source"] == "registry" for m in service.models().values()):
                registry = service.since_start()
                break
            time.sleep(0.25)
        bench.sku = bad.known_sku(service.url)
        progress(f"normal: live {r2(live)} s, ready {r2(ready)} s with sources {at_ready}, every model from the "
                 f"registry at {r2(registry)} s")
        out = {"livez_seconds": r2(live), "ready_seconds": r2(ready), "sources_at_ready": at_ready,
               "all_from_registry_seconds": r2(registry)}
        out["reload_under_load"] = reload_under_load(service, bench)
        out["heavy_plans"] = heavy_plans(service)
        out["sigterm_under_load"] = sigterm_under_load(service, bench)
        return out
    finally:
        service.kill()


# --- bars and the run ---------------------------------------------------------------------------------------------


def bars(faults: dict[str, Any], catalogue: dict[str, Any], settings: dict[str, float]) -> dict[str, dict]:
    """Each bar: what it asks, the measured value, and whether it is met (a fault that did not run is not met)."""
    wait, shutdown = settings["serve_load_wait_seconds"], settings["serve_shutdown_seconds"]

    def bar(text: str, value: Any, met: bool) -> dict:
        return {"bar": text, "value": value, "met": bool(met)}

    def fault(name: str) -> dict:
        return faults.get(name) or {}

    out = {}
    for name in ("registry_unreachable", "registry_slow"):
        f = fault(name)
        sources = set(f.get("sources", {}).values())
        live, ready = f.get("livez_seconds"), f.get("ready_seconds")
        out[f"{name}.no_hung_requests_once_live"] = bar(
            "no request sent after /livez first answered goes unanswered for 5 s", f.get("hung_after_live"),
            f.get("hung_after_live") == 0)
        out[f"{name}.no_hung_requests"] = bar(
            "no start-up request (every 0.25 s from the command on) goes unanswered for 5 s", f.get("hung_requests"),
            f.get("hung_requests") == 0)
        out[f"{name}.local_copy_served"] = bar("every model served from its last-good copy, with a note",
                                               f.get("sources"), sources == {"local-copy"}
                                               and all(f.get("notes", {}).values()))
        out[f"{name}.ready_within_load_wait"] = bar(
            f"ready at most serve_load_wait_seconds ({wait:g} s) + 10 s after live", [live, ready],
            live is not None and ready is not None and ready - live <= wait + 10)
        out[f"{name}.exit_within_shutdown"] = bar(f"exits within serve_shutdown_seconds ({shutdown:g} s) of SIGTERM",
                                                  f.get("exit_seconds"), (f.get("exit_seconds") or 1e9) <= shutdown)
    restored = fault("registry_restored").get("restored_seconds")
    out["registry_restored.back_on_registry"] = bar("every model back on the registry after it returns",
                                                    restored, restored is not None)
    reload = fault("reload_under_load")
    out["reload_under_load.no_failed_requests"] = bar(
        ">= 2,000 requests during repeated reloads, none failed", [reload.get("requests"), reload.get("non_2xx"),
                                                                    reload.get("connection_errors")],
        (reload.get("requests") or 0) >= 2000 and reload.get("non_2xx") == 0 and reload.get("connection_errors") == 0
        and reload.get("reloads", 0) >= 2)
    sig = fault("sigterm_under_load")
    out["sigterm_under_load.exit_within_shutdown"] = bar(
        f"exits within serve_shutdown_seconds ({shutdown:g} s) of SIGTERM under load", sig.get("exit_seconds"),
        (sig.get("exit_seconds") or 1e9) <= shutdown)
    out["sigterm_under_load.all_processes_gone"] = bar(
        "no process of the service outlives it by 2 s", sig.get("left_after_2s"),
        sig.get("exit_seconds") is not None and not sig.get("left_after_2s"))
    heavy = fault("heavy_plans")
    out["heavy_plans.audiences_p99_under_50ms"] = bar("/v1/audiences p99 < 50 ms while four 10 s plans run",
                                                      heavy.get("audiences_p99_ms"),
                                                      (heavy.get("audiences_p99_ms") or 1e9) < 50)
    out["heavy_plans.plans_answered"] = bar("the four plans answer 200; beyond capacity 429 with Retry-After",
                                            [heavy.get("plans_statuses"), heavy.get("overflow_statuses")],
                                            heavy.get("plans_statuses") == [200] * 4
                                            and 429 in (heavy.get("overflow_statuses") or [])
                                            and all(after for status, after in zip(heavy.get("overflow_statuses", []),
                                                                                   heavy.get("overflow_retry_after", []),
                                                                                   strict=True) if status == 429))
    disk = fault("task_store_disk_full")
    routes = disk.get("routes", {})
    out["task_store_disk_full.json_error_no_hang"] = bar(
        "a submit to a full task store answers a JSON error (no hang); the other routes answer 200",
        [disk.get("submit_status"), {n: r["status"] for n, r in routes.items()}],
        (disk.get("submit_status") or 0) >= 400 and disk.get("submit_error_shape") is None
        and all(r["status"] == 200 for r in routes.values()) and bool(routes))
    corrupt = fault("corrupt_champion").get("local_copy_truncated", {})
    customers = corrupt.get("models", {}).get("customers", {})
    others = [m for n, m in corrupt.get("models", {}).items() if n != "customers"]
    out["corrupt_champion.live_says_why_others_serve"] = bar(
        "customer model unloadable: one worker throughout, /livez 200, /readyz 503 naming why, others serve",
        [corrupt.get("readyz_status"), customers.get("note")],
        corrupt.get("routes", {}).get("livez", {}).get("status") == 200 and corrupt.get("readyz_status") == 503
        and bool(customers.get("note")) and bool(others) and all(m["loaded"] for m in others)
        and corrupt.get("routes", {}).get("recommend", {}).get("status") == 200 and corrupt.get("hung_requests") == 0
        and corrupt.get("worker_processes_started") == 1)
    artifact = fault("corrupt_champion").get("registry_artifact_truncated", {})
    out["corrupt_champion.bad_artifact_falls_back"] = bar(
        "a truncated champion artifact: ready, the customer models on their local copy with a note",
        artifact.get("models", {}).get("customers"),
        artifact.get("readyz_status") == 200
        and artifact.get("models", {}).get("customers", {}).get("source") == "local-copy"
        and bool(artifact.get("models", {}).get("customers", {}).get("note")))
    out["bad_inputs.no_server_errors"] = bar("no bad input gets a 5xx", catalogue.get("server_errors"),
                                             catalogue.get("server_errors") == 0)
    out["bad_inputs.no_wrong_answers"] = bar("every bad input gets its stated answer (no hang, error shape)",
                                             catalogue.get("wrong_answers"), catalogue.get("wrong_answers") == 0)
    return out


def run_fault(faults: dict[str, Any], name: str, function, *args) -> Any:
    """Run one fault; an exception is recorded as the fault's result (and the next fault still runs)."""
    progress(f"{name}: start")
    try:
        faults[name] = function(*args)
    except Exception as exc:  # noqa: BLE001 - one broken fault must not hide the others
        faults[name] = {"failed": f"{type(exc).__name__}: {str(exc)[:1500]}"}
        progress(f"{name}: FAILED {type(exc).__name__}: {str(exc)[:300]}")
    return faults[name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="Data home to use (default: a temporary one).")
    args = parser.parse_args()
    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="shopml-bench-reliability-"))
    home = (args.home or work / "home").resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPML_", "BENTOML_", "MLFLOW_"))}
    env.update(SHOPML_DATA_HOME=str(home), BENTOML_HOME=str(home / "bentoml"), MLFLOW_DISABLE_TELEMETRY="true",
               BENTOML_DO_NOT_TRACK="true")
    progress(f"preparing the data home {home}")
    models = _serving.prepare(home, env)
    bench = Bench(home, env, work, _serving.payloads(home), settings=defaults())
    faults: dict[str, Any] = {}
    catalogue: dict[str, Any] = {}
    normal = run_fault(faults, "normal_start", normal_session, bench)
    for name in ("reload_under_load", "heavy_plans", "sigterm_under_load"):
        faults[name] = normal.pop(name, None) or {"failed": normal.get("failed", "not reached")}
    slow = SlowRegistry()
    try:
        run_fault(faults, "registry_unreachable", registry_fault, bench, "registry_unreachable", UNREACHABLE)
        run_fault(faults, "registry_slow", registry_fault, bench, "registry_slow", f"http://127.0.0.1:{slow.port}")
        faults["registry_slow"]["connections_held"] = len(slow.accepted)
    finally:
        slow.close()
    restored = run_fault(faults, "registry_restored", registry_restored, bench)
    if isinstance(restored, tuple):
        faults["registry_restored"], catalogue = restored
    run_fault(faults, "corrupt_champion", corrupt_champion, bench)
    run_fault(faults, "task_store_disk_full", task_store_disk_full, bench)
    result = {
        "faults": faults,
        "bad_inputs": catalogue or {"failed": "not run"},
        "bars": bars(faults, catalogue, bench.settings),
        "settings": bench.settings,
        "models": models,
        "machine": {"load_average_start": load_start, "load_average_end": os.getloadavg(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "platform": platform.platform()},
        "command": ".venv/bin/python bench/reliability.py" + "".join(f" {a}" for a in sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - STARTED, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    met = sum(b["met"] for b in result["bars"].values())
    progress(f"bars met: {met} of {len(result['bars'])}; wrote {RESULTS} (service logs in {work})")


if __name__ == "__main__":
    main()
