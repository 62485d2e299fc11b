"""``shopml serve``: start the BentoML service on the configured host and port.

One data home has one service: two services on the same SQLite registry, task store and last-good copies
fail each other at random (``sqlite3 disk I/O error``). ``serve`` therefore takes an exclusive lock on
``<data home>/serving/service.lock`` before it starts BentoML, and refuses, naming the running service,
when another process holds it. The lock is an ``flock`` on a file descriptor that survives ``os.execve`` into
BentoML, so it is held exactly as long as the service process lives: the kernel releases it when that process
exits, however it exits, and no stale lock is ever left behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from shopml.errors import ShopmlError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The folder holding the ``serving`` package (cli/serve.py is one level below it): BentoML's working dir."""

LOCK_FILE = Path("serving") / "service.lock"
"""Where, under the data home, the running service holds its lock and says who it is."""


class ServiceRunningError(ShopmlError):
    """Another ``shopml serve`` holds the data home's service lock (``serve`` exits 1 on it, not 2: nothing
    is wrong with the command, the data home is busy)."""


def lock_service(data_home: Path, url: str) -> int:
    """Take the data home's service lock without waiting and return its file descriptor (inheritable, so the
    lock survives ``os.execve``); write this process's pid and URL into the file for whoever comes second.

    Raises :class:`ServiceRunningError` naming the holder (pid and URL, as it wrote them) when it is taken.
    """
    import fcntl
    import os
    from datetime import UTC, datetime

    path = Path(data_home) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:  # BlockingIOError (EWOULDBLOCK) when another process holds it
        os.close(fd)
        raise ServiceRunningError(_conflict_message(path, data_home)) from exc
    os.ftruncate(fd, 0)
    holder = {"pid": os.getpid(), "url": url, "started": datetime.now(UTC).isoformat(timespec="seconds")}
    os.write(fd, json.dumps(holder).encode())
    os.set_inheritable(fd, True)
    return fd


def _conflict_message(path: Path, data_home: Path) -> str:
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):  # the holder is between taking the lock and writing its name
        holder = {}
    pid, url = holder.get("pid", "unknown"), holder.get("url", "an unknown address")
    since = f" since {holder['started']}" if "started" in holder else ""
    stop = f"`kill {pid}`" if pid != "unknown" else "the process holding " + str(path)
    return (
        f"a shopml service already runs on data home {Path(data_home).resolve()}: pid {pid}, {url}{since}. "
        f"Stop it first ({stop}, or Ctrl-C in its terminal), or serve another data home "
        f"(SHOPML_DATA_HOME=/other/home shopml serve)."
    )


def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default: settings serve_host)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (default: settings serve_port, 3000)."),
    workers: int | None = typer.Option(None, min=1, max=64, help="Worker processes (default: settings)."),
    development: bool = typer.Option(False, "--development", help="BentoML development mode (one process)."),
) -> None:
    """Serve every champion model, the optimizers and the experiment engine (see docs/serving.md).

    Exits 1 when another service already runs on the same data home.
    """
    import os
    import sys

    from cli._console import print_error
    from shopml.settings import CONFIG_ENV_VAR, load_settings

    overrides = {k: v for k, v in {"serve_host": host, "serve_port": port, "serve_workers": workers}.items() if v}
    settings = load_settings(**overrides)
    data_home = Path(settings.data_home).resolve()
    url = f"http://{settings.serve_host}:{settings.serve_port}"
    try:
        lock_service(data_home, url)  # held, through execve, until the service exits
    except ServiceRunningError as exc:
        print_error(str(exc))
        # SystemExit rather than typer.Exit: see cli.routing (the entry point would lose typer.Exit's code)
        raise SystemExit(1) from None
    env = dict(os.environ)
    env["SHOPML_DATA_HOME"] = str(data_home)
    env["SHOPML_SERVE_WORKERS"] = str(settings.serve_workers)
    env["SHOPML_SERVE_HOST"] = settings.serve_host  # the workers warn about demo keys beyond loopback by it
    env["SHOPML_SERVE_PORT"] = str(settings.serve_port)
    if os.environ.get(CONFIG_ENV_VAR):
        env[CONFIG_ENV_VAR] = str(Path(os.environ[CONFIG_ENV_VAR]).resolve())
    elif Path("shopml.toml").is_file():
        env[CONFIG_ENV_VAR] = str(Path("shopml.toml").resolve())
    env.setdefault("BENTOML_HOME", str(data_home / "bentoml"))
    env.setdefault("BENTOML_DO_NOT_TRACK", "true")
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    command = [sys.executable, "-m", "bentoml", "serve", "serving.service:Shopml", "--working-dir", str(PROJECT_ROOT),
               "--host", settings.serve_host, "--port", str(settings.serve_port),
               "--timeout-graceful-shutdown", str(max(1, int(settings.serve_shutdown_seconds)))]
    if development:
        command.append("--development")
    typer.echo(f"shopml service on {url} (data home {data_home})")
    sys.stdout.flush()
    os.execve(sys.executable, command, env)
