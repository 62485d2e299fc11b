"""A throw-away PostgreSQL cluster with an ``mlflow server`` on it, for tests of the registry through a server.

``TrackingServer`` runs ``initdb`` into a fresh temporary folder, starts PostgreSQL on a free port of 127.0.0.1
(as the ``postgres`` user when the tests run as root: PostgreSQL refuses to run as root), creates the ``mlflow``
database and starts ``mlflow server`` on it with artifacts in the same folder. ``stop()`` stops both and removes
the folder. The logs of both stay in the folder while it runs and are quoted in any start-up error.

The ``tracking_server`` fixture (session scope, registered in ``tests/conftest.py``) yields a started server;
``SHOPML_TEST_TRACKING_SERVER`` (an ``http://`` URI, e.g. ``deploy/mlflow-postgres.sh``'s) makes it use that
server instead, with ``SHOPML_TEST_TRACKING_DATABASE`` (a ``postgresql://`` URL) for tests that read its database.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL_HINT = "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql-15, or just postgresql)"
DATABASE = "mlflow"
PREFIX = "shopml-mlflow-pg-"
DB_USER = "shopml"


class TrackingServerError(RuntimeError):
    """The PostgreSQL cluster or the MLflow server could not be started."""


def postgres_bindir() -> Path:
    """The folder holding ``initdb``/``pg_ctl``: $SHOPML_PG_BINDIR, the newest /usr/lib/postgresql/*/bin, or PATH."""
    given = os.environ.get("SHOPML_PG_BINDIR")
    candidates = [Path(given)] if given else []
    installed = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    candidates += sorted(installed, key=lambda bindir: int(bindir.parent.name) if bindir.parent.name.isdigit() else 0,
                         reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise TrackingServerError(f"PostgreSQL server binaries (initdb, pg_ctl) not found in "
                              f"{given or '/usr/lib/postgresql/*/bin'} or on PATH: {INSTALL_HINT}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"({path.name}: no log)"
    return f"--- last lines of {path} ---\n" + "\n".join(text)


class TrackingServer:
    """PostgreSQL + ``mlflow server`` in a temporary folder; use as a context manager or start()/stop()."""

    def __init__(self, *, startup_timeout: float = 120.0, workers: int = 1) -> None:
        self.startup_timeout = startup_timeout
        self.workers = workers
        self.root: Path | None = None
        self.pg_port: int | None = None
        self.port: int | None = None
        self.startup_seconds: dict[str, float] = {}
        self._bindir: Path | None = None
        self._mlflow: subprocess.Popen[bytes] | None = None
        self._pg_running = False
        self._as_postgres = os.geteuid() == 0

    # -- addresses ---------------------------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        """The MLflow tracking (and registry) URI: ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        """libpq URL of the MLflow database (for ``psycopg.connect``)."""
        return f"postgresql://{DB_USER}@127.0.0.1:{self.pg_port}/{DATABASE}"

    @property
    def backend_store_uri(self) -> str:
        """The SQLAlchemy URL the MLflow server uses (psycopg 3 driver)."""
        return f"postgresql+psycopg://{DB_USER}@127.0.0.1:{self.pg_port}/{DATABASE}"

    # -- life cycle --------------------------------------------------------------------------------------------
    def __enter__(self) -> TrackingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> TrackingServer:
        self._bindir = postgres_bindir()
        mlflow = Path(sys.executable).parent / "mlflow"
        if not mlflow.is_file():
            raise TrackingServerError(f"{mlflow} not found: the MLflow server runs from the project's venv")
        self._sweep_stale()
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (self.root / "owner.pid").write_text(str(os.getpid()))
        atexit.register(self.stop)
        try:
            began = time.perf_counter()
            self._start_postgres()
            self.startup_seconds["postgres"] = time.perf_counter() - began
            began = time.perf_counter()
            self._start_mlflow(mlflow)
            self.startup_seconds["mlflow"] = time.perf_counter() - began
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the MLflow server and PostgreSQL, then remove the temporary folder (safe to call twice)."""
        if self._mlflow is not None:
            _stop_group(self._mlflow)
            self._mlflow = None
        if self._pg_running and self.root is not None:
            pgdata = self.root / "pgdata"
            stopped = self._run_pg("pg_ctl", "-D", str(pgdata), "-m", "fast", "-w", "-t", "30", "stop",
                                   check=False)
            if stopped.returncode != 0:  # last resort: the postmaster's pid is the first line of postmaster.pid
                with contextlib.suppress(OSError, ValueError, IndexError):
                    os.kill(int((pgdata / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
            self._pg_running = False
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
        atexit.unregister(self.stop)

    def _sweep_stale(self) -> None:
        """Stop and remove what a killed test process left behind (its owner.pid names a dead process)."""
        for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
            try:
                owner = int((folder / "owner.pid").read_text())
                os.kill(owner, 0)
                continue  # its owner is still running
            except PermissionError:
                continue  # alive, another user's
            except (OSError, ValueError):
                pass
            with contextlib.suppress(OSError, ValueError):
                server = int((folder / "mlflow.pid").read_text())
                if b"mlflow" in Path(f"/proc/{server}/cmdline").read_bytes():
                    os.killpg(server, signal.SIGKILL)
            if (folder / "pgdata" / "postmaster.pid").exists():
                self._run_pg("pg_ctl", "-D", str(folder / "pgdata"), "-m", "immediate", "-w", "stop", check=False)
            shutil.rmtree(folder, ignore_errors=True)

    # -- PostgreSQL --------------------------------------------------------------------------------------------
    def _run_pg(self, tool: str, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        assert self._bindir is not None
        command = [str(self._bindir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  cwd=self.root, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise TrackingServerError(f"{tool} did not finish within {timeout:.0f} s: {' '.join(command)}") from exc
        if check and done.returncode != 0:
            raise TrackingServerError(f"{tool} failed (exit {done.returncode}): {' '.join(command)}\n"
                                      f"{done.stdout}{done.stderr}\n{_tail(self.root / 'postgres.log')}")
        return done

    def _start_postgres(self) -> None:
        assert self.root is not None
        if self._as_postgres:
            if shutil.which("runuser") is None:
                raise TrackingServerError("running as root but `runuser` is missing: PostgreSQL refuses to run as "
                                          "root; run the tests as another user or install util-linux")
            _ensure_postgres_user()
            shutil.chown(self.root, user="postgres")  # initdb, the socket and the server log go here
            os.chmod(self.root, 0o755)
        self._run_pg("initdb", "-D", str(self.root / "pgdata"), "-U", DB_USER, "--auth=trust", "--encoding=UTF8",
                     "--no-locale", "--no-sync", "--no-instructions")
        for attempt in range(3):  # a free port may be taken by someone else between choosing and binding it
            self.pg_port = free_port()
            options = (f"-p {self.pg_port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off")
            started = self._run_pg("pg_ctl", "-D", str(self.root / "pgdata"), "-o", options,
                                   "-l", str(self.root / "postgres.log"), "-w", "-t", str(int(self.startup_timeout)),
                                   "start", check=attempt == 2, timeout=self.startup_timeout + 10)
            if started.returncode == 0:
                break
        self._pg_running = True
        import psycopg

        with psycopg.connect(f"postgresql://{DB_USER}@127.0.0.1:{self.pg_port}/postgres", autocommit=True,
                             connect_timeout=10) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")

    # -- MLflow ------------------------------------------------------------------------------------------------
    def _start_mlflow(self, mlflow: Path) -> None:
        assert self.root is not None
        artifacts = self.root / "artifacts"
        artifacts.mkdir()
        log_path = self.root / "mlflow.log"
        # no job runner (its seven huey consumer processes serve GenAI jobs, not the registry)
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
               "PYTHONUNBUFFERED": "1"}
        env.pop("MLFLOW_TRACKING_URI", None)
        for attempt in range(3):
            self.port = free_port()
            with open(log_path, "ab") as log:
                self._mlflow = subprocess.Popen(
                    [str(mlflow), "server", "--backend-store-uri", self.backend_store_uri,
                     "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(self.port),
                     "--workers", str(self.workers)],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root, env=env,
                    start_new_session=True,  # its own process group: stop() ends the server and its workers
                )
            (self.root / "mlflow.pid").write_text(str(self._mlflow.pid))
            try:
                self._wait_healthy(log_path)
                return
            except TrackingServerError:
                _stop_group(self._mlflow)
                self._mlflow = None
                if attempt == 2 or "address already in use" not in _tail(log_path).lower():
                    raise

    def _wait_healthy(self, log_path: Path) -> None:
        assert self._mlflow is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._mlflow.poll() is not None:
                raise TrackingServerError(f"mlflow server exited with status {self._mlflow.returncode} before "
                                          f"answering {self.uri}/health\n{_tail(log_path)}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise TrackingServerError(f"mlflow server did not answer {self.uri}/health within "
                                  f"{self.startup_timeout:.0f} s\n{_tail(log_path)}")


def _stop_group(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the process group the server leads, then SIGKILL it after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # workers that outlived their parent are still in the group
        os.killpg(process.pid, signal.SIGKILL)


def _ensure_postgres_user() -> None:
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        done = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                               "postgres"], capture_output=True, text=True)
        if done.returncode != 0:
            raise TrackingServerError(f"no `postgres` user to run PostgreSQL as, and useradd failed: "
                                      f"{done.stderr.strip()}") from None


@dataclass(frozen=True)
class GivenServer:
    """A tracking server named by SHOPML_TEST_TRACKING_SERVER instead of one started by the tests."""

    uri: str
    database_url: str | None


@pytest.fixture(scope="session")
def tracking_server() -> Iterator[TrackingServer | GivenServer]:
    """A PostgreSQL-backed ``mlflow server`` for this test session (one per xdist worker that asks for it)."""
    given = os.environ.get("SHOPML_TEST_TRACKING_SERVER")
    if given:
        yield GivenServer(given.rstrip("/"), os.environ.get("SHOPML_TEST_TRACKING_DATABASE"))
        return
    with TrackingServer() as server:
        yield server
