"""``shopml serve``: one data home, one service. The lock is held through ``execve`` and a second ``serve``
refuses, naming the running one; no service needs to start for any of this."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli.serve import LOCK_FILE, PROJECT_ROOT, ServiceRunningError, lock_service


def test_the_working_dir_given_to_bentoml_holds_the_service():
    assert (PROJECT_ROOT / "serving" / "service.py").is_file()
    assert (PROJECT_ROOT / "cli" / "serve.py").is_file()


def test_a_second_lock_on_the_same_data_home_is_refused_until_the_first_is_released(tmp_path: Path):
    """flock locks belong to an open file description, so a second one conflicts even in this process."""
    fd = lock_service(tmp_path, "http://127.0.0.1:3001")
    try:
        assert os.get_inheritable(fd)  # survives os.execve into bentoml
        with pytest.raises(ServiceRunningError) as refused:
            lock_service(tmp_path, "http://127.0.0.1:3002")
        message = str(refused.value)
        assert f"pid {os.getpid()}, http://127.0.0.1:3001" in message
        assert f"kill {os.getpid()}" in message and "SHOPML_DATA_HOME=" in message
    finally:
        os.close(fd)
    os.close(lock_service(tmp_path, "http://127.0.0.1:3002"))  # free again: the kernel dropped the lock


# Takes the lock as `shopml serve` does, then execs into another program, as serve does into bentoml.
HOLDER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from cli.serve import lock_service
    lock_service(Path(sys.argv[1]), "http://127.0.0.1:3999")
    os.execv(sys.executable, [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"])
""")


def test_serve_refuses_while_another_service_holds_the_data_home(tmp_path: Path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env["SHOPML_DATA_HOME"] = str(home)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(home)], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"  # the lock is held by the exec'd program now
        second = subprocess.run([sys.executable, "-m", "cli", "serve", "--port", "3998"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1, (second.stdout, second.stderr)
        err = second.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert f"a shopml service already runs on data home {home.resolve()}: pid {holder.pid}" in err
        assert "http://127.0.0.1:3999" in err and f"kill {holder.pid}" in err and "SHOPML_DATA_HOME" in err
        assert "shopml service on" not in second.stdout  # it never got as far as starting
    finally:
        holder.kill()
        holder.wait()
    assert (home / LOCK_FILE).is_file()
    os.close(lock_service(home, "http://127.0.0.1:3998"))  # released when the holder died


def test_serve_host_beyond_loopback_with_the_demo_keys_warns_in_the_service_log(tmp_path: Path):
    """``--host`` reaches the workers, which warn at start (not only when a request arrives from outside)."""
    import time
    import urllib.request

    from tests.serving.conftest import _env, free_port

    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--host", "0.0.0.0", "--port", str(port)],
                                   env=_env(tmp_path / "home"), cwd=PROJECT_ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and "accepts the public demo keys" not in log.read_text():
            assert process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        text = log.read_text()
        assert "reachable beyond loopback (0.0.0.0)" in text and "SHOPML_DEMO_MODE=false" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=10) as answer:
            assert answer.status == 200
    finally:
        import signal

        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
