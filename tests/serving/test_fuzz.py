"""No input yields a 5xx: hypothesis on the hot routes in-process, schemathesis on the running service."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serving.conftest import KEYS

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
ids = st.one_of(st.text(max_size=250), st.integers(), st.none(), st.sampled_from(["", " ", "\x00", "ü" * 201]))


@pytest.fixture(scope="module")
def hot_client(shop):
    """The hot Starlette app over a runtime holding the session's real models (loaded in-process)."""
    from starlette.testclient import TestClient

    from serving.hot import create_hot_app
    from serving.runtime import ServingRuntime
    from shopml.settings import load_settings

    runtime = ServingRuntime(load_settings(data_home=shop.home))
    runtime.start()
    return TestClient(create_hot_app(lambda: runtime), raise_server_exceptions=True), runtime


def _post(client, path: str, body) -> int:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=raw, headers={"Content-Type": "application/json"}).status_code


HOT = ["/v1/recommend", "/v1/similar-items", "/v1/customers/score", "/v1/experiments/assign"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@FUZZ
@given(path=st.sampled_from(HOT), body=json_values | st.binary(max_size=64))
def test_arbitrary_bodies_never_5xx(hot_client, path, body):
    client, runtime = hot_client
    status = _post(client, path, body)
    assert status < 500 or (status == 503 and not runtime.ready), (path, body, status)


@FUZZ
@given(customer=ids, k=st.integers(-5, 200) | st.none(), exclude=st.lists(ids, max_size=4) | json_values,
       country=ids, purchased=st.booleans() | json_values)
def test_recommend_fields_never_5xx(hot_client, customer, k, exclude, country, purchased):
    client, runtime = hot_client
    body = {"customer_id": customer, "k": k, "exclude": exclude, "country": country, "include_purchased": purchased}
    status = _post(client, "/v1/recommend", body)
    if runtime.models.loaded("recommender") is None:
        assert status in (400, 503)
    else:
        assert status in (200, 400), (body, status)


@FUZZ
@given(customers=st.lists(ids, max_size=20) | json_values)
def test_customer_score_fields_never_5xx(hot_client, customers):
    client, runtime = hot_client
    status = _post(client, "/v1/customers/score", {"customer_ids": customers})
    assert status in ((200, 400) if runtime.audiences is not None else (400, 503)), (customers, status)


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(server, shop):
    """Schemathesis generates requests from the service's own OpenAPI document: zero 5xx answers."""
    excluded = [op for model, op in (("forecast", "/v1/forecast"),) if shop.trained.get(model) != "ok"]
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{server.url}/v1/openapi.json",
               "-H", f"Authorization: Bearer {KEYS['admin']}", "-n", "8", "-c", "not_a_server_error",
               "--generation-deterministic", "--exclude-path", "/readyz"]
    for path in excluded:
        command += ["--exclude-path", path]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env={"NO_COLOR": "1", "PATH": ""})
    text = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", text)
    assert generated and int(generated.group(1)) > 100, text[-3000:]
    assert "Server error" not in text, text[-5000:]
    assert done.returncode == 0, text[-3000:]
