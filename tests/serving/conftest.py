"""A tiny synthetic shop with features and real trained models, and the real service started on it.

The shop, its features and its models are built once per session, in-process, with the project's own
functions (generator, feature pipeline, each model package's training entry point, which registers a champion
in the session's SQLite MLflow); a model whose package has not landed yet is absent, and the tests that need it
skip with the reason. The service is started with ``shopml serve``
on a free loopback port, as a user would, and stopped by its process group at the end of the session.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOPML = [sys.executable, "-m", "cli"]
KEYS = {role: f"demo-{role}-key" for role in ("storefront", "marketing", "logistics", "admin")}


@dataclass
class Shop:
    home: Path
    env: dict[str, str]
    trained: dict[str, str] = field(default_factory=dict)  # model -> "ok" or why not


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env.update(SHOPML_DATA_HOME=str(home), MLFLOW_DISABLE_TELEMETRY="true", BENTOML_DO_NOT_TRACK="true",
               BENTOML_HOME=str(home / "bentoml"))
    return env


def run_shopml(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*SHOPML, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _train_customers(settings, tables) -> None:
    from training.customers import TrainConfig, prepare, train_churn, train_value
    from training.lifecycle import load_training_tables

    data = prepare(load_training_tables(settings), TrainConfig(n_train=2))
    train_churn(settings, data)
    train_value(settings, data)


def _train_recommender(settings, tables) -> None:
    from training.recommend import RecommenderConfig, train_recommender

    train_recommender(settings, tables, params=RecommenderConfig(seed=settings.seed, use_ranker=False))


def _train_forecast(settings, tables) -> None:
    from training.forecast.data import TrainConfig, prepare
    from training.forecast.train import train_forecast
    from training.lifecycle import load_training_tables

    train_forecast(settings, prepare(load_training_tables(settings), TrainConfig(top_n=30, backtest_origins=1)))


TRAINERS = {"customers": _train_customers, "recommender": _train_recommender, "forecast": _train_forecast}


_SHOPS: dict[str, Shop] = {}
"""The shop of this test process, built once even when several conftests (tests/serving, tests/security) import
the fixture: each import is its own pytest fixture with its own cache."""


@pytest.fixture(scope="session")
def shop(tmp_path_factory) -> Shop:
    """A small demo shop, its features and every model whose package can train it (in-process, real models)."""
    if "shop" not in _SHOPS:
        _SHOPS["shop"] = _build_shop(tmp_path_factory)
    return _SHOPS["shop"]


def _build_shop(tmp_path_factory) -> Shop:
    from features.pipeline import build_features
    from features.store import save_tables
    from features.synthetic import ShopConfig, generate_shop
    from shopml.settings import load_settings

    home = tmp_path_factory.mktemp("serving") / "home"
    settings = load_settings(data_home=home)
    tables = generate_shop(ShopConfig(customers=600, products=120, days=500, seed=7)).tables()
    save_tables(tables, settings.raw_dir, source="synthetic:seed=7")
    build_features(tables, settings.features_dir)
    result = Shop(home, _env(home))
    for model, train in TRAINERS.items():
        try:
            train(settings, tables)
            result.trained[model] = "ok"
        except (ImportError, NotImplementedError, AttributeError) as exc:
            result.trained[model] = f"{type(exc).__name__}: {exc}"
    return result


def copy_data_home(home: Path, target: Path) -> Path:
    """A copy of a data home (raw tables, features, registry, last-good copies) without the service's lock and
    BentoML's task store, for a second service that must not share them with the first."""
    import shutil

    shutil.copytree(home, target, ignore=shutil.ignore_patterns("bentoml", "service.lock"))
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    started_s: float
    log: Path

    def call(self, method: str, path: str, body=None, key: str | None = None, raw: bytes | None = None,
             headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, object]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if key is not None:
            request.add_header("Authorization", f"Bearer {KEYS.get(key, key)}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, payload, kind = response.status, response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            status, payload, kind = exc.code, exc.read(), exc.headers.get("Content-Type", "")
        if "json" in kind:
            return status, json.loads(payload)
        return status, payload.decode("utf-8", "replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_server(env: dict[str, str], log: Path, wait_ready: bool = False, timeout: float = 90) -> Server:
    """``shopml serve`` on a free port; returns once ``/livez`` (or ``/readyz``) answers 200."""
    port = free_port()
    start = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen([*SHOPML, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, 0.0, log)
    probe = "/readyz" if wait_ready else "/livez"
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise AssertionError(f"shopml serve exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            if server.call("GET", probe, timeout=2)[0] == 200:
                server.started_s = time.perf_counter() - start
                return server
        except OSError:
            pass
        time.sleep(0.25)
    server.stop()
    raise AssertionError(f"service not up after {timeout} s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def server(shop, tmp_path_factory):
    srv = start_server(shop.env, tmp_path_factory.mktemp("log") / "serve.log", wait_ready=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def expected_scores(shop):
    """The champion customer scorer applied in-process to the feature table the service reads."""
    import pandas as pd

    from features.customers import CUSTOMER_FEATURES
    from features.pipeline import latest_feature_dir
    from shopml.settings import load_settings
    from training.customers import CustomerScorer
    from training.registry import load_champion

    if shop.trained.get("customers") != "ok":
        pytest.skip(f"customers not trained: {shop.trained.get('customers')}")
    settings = load_settings(data_home=shop.home)
    scorer, _ = load_champion(CustomerScorer, settings)
    table = pd.read_parquet(latest_feature_dir(settings.features_dir) / "customers.parquet")
    scores = scorer.score(table[["customer_id", *CUSTOMER_FEATURES]])
    return scores.assign(customer_id=scores["customer_id"].astype(str)).set_index("customer_id")


@pytest.fixture
def needs(shop):
    """``needs("recommender")`` skips the test when that model could not be trained in this build."""

    def check(*models: str) -> None:
        for model in models:
            if shop.trained.get(model) != "ok":
                pytest.skip(f"{model} not trained: {shop.trained.get(model)}")

    return check
