"""Batch work past one machine: feature build and audience scoring at 1M, 10M and 50M order lines, pandas vs Spark.

Run: ``.venv/bin/python bench/scale.py [--sizes 1000000,10000000,50000000] [--engines pandas,spark]
[--tasks features,score] [--work DIR] [--pandas-memory-gb 6] [--budget-minutes 45] [--timeout 1200]``. Writes
``bench/results/scale.json`` (``--sizes 200000,1000000`` is a quick run; ``--recompare --work DIR`` redoes only
the comparisons of step 6 from the outputs a run left in DIR). Everything goes through the command
line, in subprocesses:

1. for each size, a data home ``<work>/n<size>`` gets a synthetic shop of that many order lines with
   ``shopml data generate --order-lines N --if-missing`` (chunked, so generating never holds it in memory;
   an existing shop of that size is reused), timed like the runs below;
2. churn and customer-value champions are trained once, on the smallest size
   (``shopml train customers --if-missing``), into one MLflow registry (``<work>/mlflow.db``) that every
   later command reads through ``SHOPML_MLFLOW_TRACKING_URI``;
3. for each size and engine: ``shopml features build`` and ``shopml score audiences -o scores.parquet``
   (the nightly job: features as of the day after the last order, then both models, P(alive) and segment),
   with ``--engine ENGINE`` and ``SHOPML_ENGINE`` once ``features build --help`` offers ``--engine``
   (``SHOPML_SPARK_*`` settings, such as the master, are passed through; default ``local[*]``). Each engine
   has its own data home whose ``data`` is a link to the size's tables, so their outputs sit side by side.
   Until ``--engine`` exists the pandas runs use the default engine and the Spark runs are recorded as not
   run, with the reason;
4. wall seconds and peak RSS: psutil polls the command and all its descendants every 0.2 s; ``peak_rss_mb`` is
   the largest sum over the tree (shared pages counted in each process, so an upper bound), and
   ``peak_driver_rss_mb`` that of the command's own process (the Spark driver's Python side);
5. the pandas engine is held to ``--pandas-memory-gb`` (6 GB): ``RLIMIT_DATA`` is set in the child before it
   starts (it counts the heap and private writable mappings, which is where pandas, numpy and Arrow allocate;
   ``RLIMIT_AS`` would also count address space reserved but never touched, about 2.3 GB of a shopml process's
   3.3 GB virtual size at 1 GB RSS, and so stop pandas well short of 6 GB used), and the poller kills the tree
   if its RSS passes the same cap anyway. Allocation then fails inside the process (``MemoryError``,
   ``ArrowMemoryError``): ``completed`` false and the error's last line recorded;
6. where both engines finish a task at a size, their outputs are compared row by row after sorting on the
   non-float columns: feature tables bit for bit (values and dtypes), scores to 1e-9 (``spark_equals_pandas``;
   ``spark_equals_pandas_within_1e-9`` holds features to 1e-9 too; per table and column in ``comparisons``);
7. a least-squares line through the Spark runs' seconds per task gives ``spark_seconds_per_million_lines``
   (slope) and a start-up intercept; ``projection`` applies it to a cluster of N executors, assuming the
   per-partition work divides evenly over cores: a projection, not a measurement;
8. the whole bench has a time budget (``--budget-minutes``, 45): no command runs past it (it is killed and
   recorded as such), and a Spark run whose time, extrapolated from the smaller sizes, would not fit in what is
   left is not started and is recorded with that reason.

Other engineers share this 2-core machine, so the load average is recorded at start and end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "scale.json"
SHOPML = str(Path(sys.executable).with_name("shopml"))
SIZES = (1_000_000, 10_000_000, 50_000_000)
ENGINES = ("pandas", "spark")
TASKS = ("features", "score")
POLL_SECONDS = 0.2
SCORE_TOLERANCE = 1e-9
PROJECTED_CLUSTERS = ((4, 4), (16, 4), (64, 4))  # (executors, cores each)


# --- running one command and measuring it ----------------------------------------------------------------------


class Budget:
    """Wall time left for the whole bench, and the timeout of the next command (``--timeout`` at most)."""

    def __init__(self, minutes: float, per_command: float) -> None:
        self.minutes = minutes
        self.deadline = time.perf_counter() + minutes * 60
        self.per_command = per_command

    @property
    def left(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())

    def timeout(self) -> tuple[float, str]:
        if self.left < self.per_command:
            return self.left, f"the bench's {self.minutes:g}-minute budget ran out"
        return self.per_command, f"still running after {self.per_command:.0f} s (--timeout)"


def run_measured(
    args: list[str], env: dict[str, str], cwd: Path, *, budget: Budget, memory_bytes: int | None = None
) -> dict[str, object]:
    """Run ``shopml ARGS``; wall seconds, peak RSS of the tree and of the process, exit status, error line."""
    limit = memory_bytes

    def cap() -> None:  # in the child, before exec: the pandas engine's memory cap
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    timeout, timeout_reason = budget.timeout()
    if timeout < 5:
        return {"completed": False, "seconds": None, "peak_rss_mb": None, "peak_driver_rss_mb": None,
                "exit_status": None, "error": f"not run: {timeout_reason}", "stdout_tail": None}
    began = time.perf_counter()
    proc = subprocess.Popen(
        [SHOPML, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=cap if limit is not None else None,
    )
    peak_tree = peak_driver = 0
    killed_for = None
    root = psutil.Process(proc.pid)
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    readers = [
        threading.Thread(target=lambda s=proc.stdout, b=out_chunks: b.append(s.read()), daemon=True),
        threading.Thread(target=lambda s=proc.stderr, b=err_chunks: b.append(s.read()), daemon=True),
    ]
    for r in readers:
        r.start()
    while proc.poll() is None:
        driver, tree = _rss(root)
        peak_driver, peak_tree = max(peak_driver, driver), max(peak_tree, tree)
        elapsed = time.perf_counter() - began
        if limit is not None and tree > limit:
            killed_for = f"killed by the bench: RSS of the process tree passed {limit / 2**30:.0f} GB"
        elif elapsed > timeout:
            killed_for = f"killed by the bench after {elapsed:.0f} s: {timeout_reason}"
        if killed_for:
            _kill_tree(proc)
            break
        time.sleep(POLL_SECONDS)
    proc.wait()
    seconds = time.perf_counter() - began
    for r in readers:
        r.join(timeout=5)
    stdout, stderr = "".join(out_chunks), "".join(err_chunks)
    completed = proc.returncode == 0 and killed_for is None
    return {
        "completed": completed,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_tree / 2**20),
        "peak_driver_rss_mb": round(peak_driver / 2**20),
        "exit_status": proc.returncode,
        "error": None if completed else (killed_for or _error_line(stderr, stdout)),
        "stdout_tail": stdout[-400:] if completed else None,
    }


def _rss(root: psutil.Process) -> tuple[int, int]:
    try:
        driver = root.memory_info().rss
        children = root.children(recursive=True)
    except psutil.Error:
        return 0, 0
    tree = driver
    for child in children:
        with contextlib.suppress(psutil.Error):  # ended between listing and reading
            tree += child.memory_info().rss
    return driver, tree


def _kill_tree(proc: subprocess.Popen) -> None:
    """End the command and every process it started (its own session, so nothing else is touched)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _error_line(stderr: str, stdout: str) -> str:
    """The line that says what went wrong: ``error: ...``, an exception line, or the last non-empty line."""
    lines = [line.strip() for line in (stderr or stdout).splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("error:") or "Error" in line.split(":", 1)[0] or line.startswith("Killed"):
            return line[:500]
    return (lines[-1] if lines else "no output")[:500]


# --- the bench ---------------------------------------------------------------------------------------------------


def base_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_") or k.startswith("SHOPML_SPARK_")}
    env["SHOPML_MLFLOW_TRACKING_URI"] = f"sqlite:///{(work / 'mlflow.db').resolve()}"
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    return env


def engine_option_exists(env: dict[str, str], cwd: Path) -> bool:
    helps = [subprocess.run([SHOPML, *cmd, "--help"], env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=120).stdout for cmd in (["features", "build"], ["score", "audiences"])]
    return all("--engine" in h for h in helps)


def engine_home(size_home: Path, engine: str) -> Path:
    """``<size home>/<engine>``: its own features and reports, the size's tables linked in as ``data``."""
    home = size_home / engine
    home.mkdir(exist_ok=True)
    link = home / "data"
    if not link.exists():
        link.symlink_to(size_home / "data", target_is_directory=True)
    return home


def task_args(task: str, engine: str, has_engine: bool, home: Path) -> list[str]:
    args = ["features", "build"] if task == "features" else ["score", "audiences", "-o", str(home / "scores.parquet")]
    return args + (["--engine", engine] if has_engine else [])


def compare_task(task: str, size_home: Path) -> dict[str, object]:
    """The pandas output of ``task`` against the Spark output at one size (see :func:`compare_frames`)."""
    left, right = size_home / "pandas", size_home / "spark"
    if task == "score":
        frames = {"scores": tuple(pd.read_parquet(h / "scores.parquet") for h in (left, right))}
    else:
        dirs = _feature_dir(left), _feature_dir(right)
        if None in dirs:
            return {"equal": False, "exact": False, "max_abs_difference": None, "non_float_equal": False,
                    "detail": "a build wrote no manifest"}
        names = [set(json.loads((d / "manifest.json").read_text())["tables"]) for d in dirs]
        if names[0] != names[1]:
            return {"equal": False, "exact": False, "max_abs_difference": None, "non_float_equal": False,
                    "detail": f"different tables: {sorted(names[0])} vs {sorted(names[1])}"}
        frames = {name: tuple(pd.read_parquet(_table_path(d, name)) for d in dirs) for name in sorted(names[0])}
    return compare_frames(frames, tolerance=0.0 if task == "features" else SCORE_TOLERANCE)


def compare_frames(frames: dict[str, tuple[pd.DataFrame, pd.DataFrame]], *, tolerance: float) -> dict[str, object]:
    """Row by row, after sorting both on their non-float columns (the keys among them): non-float columns and
    dtypes must be equal, floats within ``tolerance`` (0: bit for bit, NaN equal to NaN).

    ``equal`` is that bar; ``exact`` says whether everything is bit-for-bit equal; ``max_abs_difference`` is the
    largest float difference; ``detail`` names the columns that differ and by how much.
    """
    notes: list[str] = []
    exact = comparable = True
    worst = 0.0
    for name, (a, b) in frames.items():
        if set(a.columns) != set(b.columns) or len(a) != len(b):
            return {"equal": False, "exact": False, "max_abs_difference": None, "non_float_equal": False,
                    "detail": f"{name}: {a.shape} {sorted(a.columns)} vs {b.shape} {sorted(b.columns)}"}
        b = b[a.columns]
        keys = [c for c in a.columns if not pd.api.types.is_float_dtype(a[c])]
        a, b = (f.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True) if keys else f
                for f in (a, b))
        for col in a.columns:
            if str(a[col].dtype) != str(b[col].dtype):
                exact = False
                notes.append(f"{name}.{col}: dtype {a[col].dtype} vs {b[col].dtype}")
            if pd.api.types.is_float_dtype(a[col]):
                x, y = a[col].to_numpy(float), b[col].to_numpy(float)
                same = (x == y) | (np.isnan(x) & np.isnan(y))
                if not same.all():
                    exact = False
                    gap = np.abs(x - y)[~same]
                    largest = float("inf") if np.isnan(gap).any() else float(gap.max())  # inf: NaN on one side
                    worst = max(worst, largest)
                    notes.append(f"{name}.{col}: {int((~same).sum()):,} of {len(x):,} differ, largest {largest:.2g}")
            elif not a[col].astype(str).equals(b[col].astype(str)):
                exact = comparable = False
                notes.append(f"{name}.{col}: values differ")
    equal = comparable and worst <= tolerance
    rows = sum(len(a) for a, _ in frames.values())
    summary = f"{len(frames)} table(s), {rows:,} rows: " + ("bit-for-bit equal" if exact else "; ".join(notes[:8]))
    return {"equal": equal, "exact": exact, "max_abs_difference": worst, "non_float_equal": comparable,
            "detail": summary[:1500]}


def _feature_dir(home: Path) -> Path | None:
    found = sorted((home / "features").glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None


def _table_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.parquet" if (directory / f"{name}.parquet").exists() else directory / name


def projected_seconds(runs: list[dict[str, object]], task: str, engine: str, lines: int) -> float | None:
    """Seconds a run would take, extrapolated from the completed runs of the same task and engine: the fitted line
    with two sizes or more, proportional to the lines with one, ``None`` with none."""
    points = [(r["order_lines"], r["seconds"]) for r in runs
              if r["task"] == task and r["engine"] == engine and r["completed"]]
    if not points:
        return None
    if len({p[0] for p in points}) == 1:
        return points[-1][1] * lines / points[-1][0]
    x, y = np.array(points, dtype=float).T
    slope, intercept = np.polyfit(x, y, 1)
    return max(float(intercept + slope * lines), max(y))


def recompare(work: Path | None, out: Path) -> dict[str, object]:
    """Redo the Spark-pandas comparisons of the results in ``out`` from the outputs still in ``work``."""
    if work is None or not work.is_dir():
        raise SystemExit("--recompare needs the --work folder of the run that wrote the results")
    result = json.loads(out.read_text())
    requested = {g["order_lines"]: g["order_lines_requested"] for g in result["generate"]}
    comparisons = []
    for task in TASKS:
        for lines, size in requested.items():
            done = {r["engine"] for r in result["runs"]
                    if r["task"] == task and r["order_lines"] == lines and r["completed"]}
            if {"pandas", "spark"} <= done:
                comparisons.append({"task": task, "order_lines": lines, **compare_task(task, work / f"n{size}")})
    result.update(summarise(comparisons))
    result["recompared"] = f"comparisons recomputed from the outputs in {work} by --recompare"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result["comparisons"], indent=2))
    return result


def summarise(comparisons: list[dict[str, object]]) -> dict[str, object]:
    """``spark_equals_pandas``: features bit for bit and scores within 1e-9 at every size where both finished;
    ``spark_equals_pandas_within_1e-9``: the same with features also allowed 1e-9 (float summation order)."""
    if not comparisons:
        return {"spark_equals_pandas": None, "spark_equals_pandas_within_1e-9": None, "comparisons": []}
    close = all(c["non_float_equal"] and c["max_abs_difference"] <= SCORE_TOLERANCE for c in comparisons)
    return {"spark_equals_pandas": all(c["equal"] for c in comparisons),
            "spark_equals_pandas_within_1e-9": close, "comparisons": comparisons}


def fit_slope(runs: list[dict[str, object]], task: str) -> dict[str, float] | None:
    """Seconds = intercept + slope x lines over the completed Spark runs of ``task`` (two sizes at least)."""
    points = [(r["order_lines"], r["seconds"]) for r in runs
              if r["task"] == task and r["engine"] == "spark" and r["completed"]]
    if len({p[0] for p in points}) < 2:
        return None
    lines, seconds = np.array(points, dtype=float).T
    slope, intercept = np.polyfit(lines / 1e6, seconds, 1)
    return {"seconds_per_million_lines": round(float(slope), 3), "intercept_seconds": round(float(intercept), 1)}


def projection(fits: dict[str, dict[str, float] | None], cores: int, sizes: list[int]) -> dict[str, object]:
    rows = []
    for executors, per in PROJECTED_CLUSTERS:
        for n in sizes:
            row: dict[str, object] = {"executors": executors, "cores_per_executor": per, "order_lines": n}
            for task, fit in fits.items():
                if fit:
                    scaled = fit["seconds_per_million_lines"] * n / 1e6 * cores / (executors * per)
                    row[f"{task}_seconds"] = round(fit["intercept_seconds"] + scaled, 1)
            rows.append(row)
    return {
        "label": "projection, not a measurement",
        "assumes": f"seconds = intercept + slope x lines x {cores} cores here / (executors x cores each): the "
                   "per-partition work divides evenly over cores, the start-up intercept stays, and shuffle, "
                   "network and storage cost nothing extra",
        "rows": rows,
    }


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("pandas", "numpy", "pyarrow", "pyspark", "mlflow", "lightgbm", "psutil"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        out["java"] = (java.stderr or java.stdout).splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        out["java"] = "not found"
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="Order lines per size, comma-separated (default 1000000,10000000,50000000).")
    parser.add_argument("--engines", default=",".join(ENGINES), help="Engines (default pandas,spark).")
    parser.add_argument("--tasks", default=",".join(TASKS), help="Tasks (default features,score).")
    parser.add_argument("--work", type=Path, default=None,
                        help="Folder for the data homes and the registry; reused when run again (default: a "
                             "temporary folder, removed at the end).")
    parser.add_argument("--pandas-memory-gb", type=float, default=6.0, help="Memory cap of the pandas engine.")
    parser.add_argument("--timeout", type=float, default=1200, help="Seconds one command may run (default 1200).")
    parser.add_argument("--budget-minutes", type=float, default=45,
                        help="Wall time of the whole bench (default 45); see step 8 above.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--recompare", action="store_true",
                        help="Only compare again the outputs a finished run left in --work, and update --out.")
    args = parser.parse_args(argv)
    if args.recompare:
        return recompare(args.work, args.out)
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip() in TASKS]
    work = args.work or Path(tempfile.mkdtemp(prefix="shopml-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    env = base_env(work)
    load_start = os.getloadavg()
    began = time.perf_counter()
    budget = Budget(args.budget_minutes, args.timeout)
    has_engine = engine_option_exists(env, work)
    cap = int(args.pandas_memory_gb * 2**30)
    print(f"work folder {work}; --engine available: {has_engine}", flush=True)

    generated, runs, comparisons = [], [], []
    training = None
    for size in sizes:
        home = work / f"n{size}"
        gen_env = {**env, "SHOPML_DATA_HOME": str(home)}
        result = run_measured(["data", "generate", "--order-lines", str(size), "--if-missing"], gen_env, work,
                              budget=budget)
        manifest = home / "data" / "manifest.json"
        lines = json.loads(manifest.read_text())["tables"]["orders"]["rows"] if manifest.is_file() else None
        reused = "nothing generated (--if-missing)" in " ".join((result.get("stdout_tail") or "").split())
        generated.append({"order_lines_requested": size, "order_lines": lines, "reused": reused,
                          **{k: v for k, v in result.items() if k != "stdout_tail"}})
        print(f"generate {size:,}: {generated[-1]}", flush=True)
        if not result["completed"]:
            continue
        if training is None:
            train_home = engine_home(home, "pandas")
            training = run_measured(["train", "customers", "--if-missing"],
                                    {**env, "SHOPML_DATA_HOME": str(train_home)}, work, budget=budget)
            training = {"order_lines": lines, **{k: v for k, v in training.items() if k != "stdout_tail"}}
            print(f"train customers on {lines:,} lines: {training}", flush=True)
        for task in tasks:
            done: dict[str, bool] = {}
            for engine in engines:
                engine_dir = engine_home(home, engine)
                row = {"task": task, "engine": engine, "order_lines": lines}
                expected = projected_seconds(runs, task, engine, lines) if engine == "spark" else None
                not_run = dict(completed=False, seconds=None, peak_rss_mb=None, peak_driver_rss_mb=None)
                if engine != "pandas" and not has_engine:
                    row.update(not_run, error="not run: `shopml features build` / `score audiences` have no "
                                              "--engine option yet")
                elif expected is not None and expected > budget.left:
                    row.update(not_run, projected_seconds=round(expected),
                               error=f"not run: about {expected / 60:.0f} min expected (extrapolated from the smaller "
                                     f"sizes), {budget.left / 60:.0f} min left of the bench's "
                                     f"{args.budget_minutes:g}-minute budget")
                else:
                    run_env = {**env, "SHOPML_DATA_HOME": str(engine_dir)}
                    if has_engine:
                        run_env["SHOPML_ENGINE"] = engine
                    result = run_measured(task_args(task, engine, has_engine, engine_dir), run_env, work,
                                          budget=budget, memory_bytes=cap if engine == "pandas" else None)
                    row.update({k: v for k, v in result.items() if k != "stdout_tail"})
                runs.append(row)
                done[engine] = bool(row["completed"])
                print(f"{task} {engine} {lines:,}: {row}", flush=True)
            if done.get("pandas") and done.get("spark"):
                comparisons.append({"task": task, "order_lines": lines, **compare_task(task, home)})
                print(f"compare: {comparisons[-1]}", flush=True)

    fits = {task: fit_slope(runs, task) for task in TASKS}
    cores = os.cpu_count() or 1
    result = {
        "runs": runs,
        **summarise(comparisons),
        "spark_seconds_per_million_lines": {t: f["seconds_per_million_lines"] if f else None for t, f in fits.items()},
        "spark_fit": fits,
        "projection": projection(fits, cores, sizes),
        "generate": generated,
        "training": training,
        "engine_option": has_engine,
        "spark_master": env.get("SHOPML_SPARK_MASTER", "local[*] (default)"),
        "pandas_memory_cap": f"RLIMIT_DATA {args.pandas_memory_gb:g} GB, and the tree killed past that RSS",
        "sizes": sizes,
        "cores": cores,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "versions": versions(),
        "load_average": [round(load_start[0], 2), round(os.getloadavg()[0], 2)],
        "bench_seconds": round(time.perf_counter() - began, 1),
        "budget_minutes": args.budget_minutes,
        "command": " ".join([".venv/bin/python", "bench/scale.py", *(sys.argv[1:] if argv is None else argv)]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.out}", flush=True)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main()
