"""Fixtures of the security suite: the serving tests' shop, a service of its own, and a case recorder.

The suite's service runs on a copy of the serving tests' data home (:func:`tests.serving.conftest.copy_data_home`),
so that the keys it creates, revokes and rotates and the audit records it causes stay out of the service the
other tests share. The shop itself (tables, features, trained models) is built once per test process and shared
with tests/serving.

:class:`Cases` counts every case the suite tries, by kind, and its failures: a test checks all its cases and
fails at the end listing every failure (not only the first), and ``bench/security.py`` reads the counts
(``SHOPML_SECURITY_CASES`` names a folder; each test process writes ``cases-<pid>.json`` there).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.serving.conftest import KEYS, copy_data_home, needs, shop, start_server  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
CASES_ENV = "SHOPML_SECURITY_CASES"
KINDS = ("role_matrix", "key_lifecycle", "fuzz_per_role", "bodies", "header_injection", "path_traversal",
         "timing_safe", "audit_tamper")
"""The kinds of case, in the order of ``bench/results/security.json``."""


@dataclass
class Tally:
    tried: int = 0
    failures: list[str] = field(default_factory=list)


class Cases:
    """Cases tried and failed, by kind, for the whole test process."""

    def __init__(self) -> None:
        self.kinds: dict[str, Tally] = {}

    @contextlib.contextmanager
    def of(self, kind: str) -> Iterator[Check]:
        """``with cases.of("bodies") as check: check(ok, "what")``; the block fails listing every failed case."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind of case {kind!r}; one of {KINDS}")
        check = Check(self.kinds.setdefault(kind, Tally()))
        yield check
        if check.failed:
            shown = "\n  ".join(check.failed[:40])
            raise AssertionError(f"{len(check.failed)} of {check.tried} {kind} case(s) failed:\n  {shown}")

    def summary(self) -> dict[str, dict[str, int]]:
        return {kind: {"tried": t.tried, "failures": len(t.failures)} for kind, t in self.kinds.items()}


class Check:
    """Records one case each call: ``check(condition, description)``."""

    def __init__(self, tally: Tally):
        self.tally = tally
        self.tried = 0
        self.failed: list[str] = []

    def __call__(self, ok: bool, what: str) -> bool:
        self.tried += 1
        self.tally.tried += 1
        if not ok:
            self.failed.append(what)
            self.tally.failures.append(what)
        return ok


CASES = Cases()


@pytest.fixture
def cases() -> Cases:
    return CASES


def pytest_sessionfinish(session) -> None:
    folder = os.environ.get(CASES_ENV)
    if folder and CASES.kinds:
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        body = {kind: {"tried": t.tried, "failures": t.failures} for kind, t in CASES.kinds.items()}
        (out / f"cases-{os.getpid()}.json").write_text(json.dumps(body, indent=1))


def load_bad_inputs():
    """``bench/bad_inputs.py`` (the service's bad-input catalogue and its raw HTTP client), imported by path."""
    name = "shopml_bench_bad_inputs"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "bad_inputs.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def bad_inputs():
    return load_bad_inputs()


@pytest.fixture(scope="session")
def secure_home(shop, tmp_path_factory) -> Path:  # noqa: F811 (the imported fixture)
    """A copy of the shop's data home for the suite's own service."""
    return copy_data_home(shop.home, tmp_path_factory.mktemp("security") / "home")


@pytest.fixture(scope="session")
def secure_server(shop, secure_home, tmp_path_factory):  # noqa: F811 (the imported fixture)
    """``shopml serve`` on :func:`secure_home` (demo keys on, as in the serving tests)."""
    env = {**shop.env, "SHOPML_DATA_HOME": str(secure_home), "BENTOML_HOME": str(secure_home / "bentoml")}
    server = start_server(env, tmp_path_factory.mktemp("security-log") / "serve.log", wait_ready=True)
    server.home = secure_home
    server.env = env
    yield server
    server.stop()


@pytest.fixture(scope="session")
def secure_settings(secure_home):
    from shopml.settings import load_settings

    return load_settings(data_home=secure_home)
