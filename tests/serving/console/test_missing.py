"""Without data or models every page says what is missing and how to get it (the app without BentoML)."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from serving.auth import KeyRing, hash_key
from serving.console import create_console_app
from serving.errors import ModelNotLoadedError, ServingError
from serving.schemas import ModelsResponse
from shopml.settings import ApiKeySetting, load_settings


def mounted(console):
    """The console at ``/console``, where the service mounts it (its links and cookie path say so)."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    return Starlette(routes=[Mount("/console", console)])


class EmptyRuntime:
    """A runtime of a service with no shop data and no model."""

    audiences = None

    def __init__(self, settings):
        self.settings = settings

        class Models:
            def get(self, spec):
                raise ModelNotLoadedError("model 'forecast' is not available (not loaded); run `shopml train forecast`")

        self.models = Models()

    def kpis(self, *args):
        raise ServingError("no shop data in the data home: run `shopml data load` or `shopml data generate`",
                           status=503)

    def models_info(self):
        return ModelsResponse(models=[], features_as_of=None, ready=False)


def test_every_page_says_what_is_missing(tmp_path):
    settings = load_settings(data_home=tmp_path)
    ring = KeyRing([ApiKeySetting(name="admin", sha256=hash_key("k"), roles=["admin"])])
    app = mounted(create_console_app(lambda: EmptyRuntime(settings), keyring=ring, settings=settings))
    with TestClient(app, base_url="http://testserver") as client:
        page = client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        assert client.post("/console/login", data={"csrf": token, "key": "k"}, follow_redirects=False).status_code == 303
        expected = {"overview": "shopml data generate", "customers": "shopml train churn",
                    "demand": "shopml train forecast", "models": "not trained yet"}
        for name, hint in expected.items():
            answer = client.get(f"/console/{name}")
            assert answer.status_code == 200, (name, answer.text[:300])
            assert "Not available" in answer.text and hint in answer.text, (name, answer.text[-1500:])
        for name in ("experiments", "logistics"):
            assert client.get(f"/console/{name}").status_code == 200


def test_a_service_still_starting_is_said_on_the_page(tmp_path):
    settings = load_settings(data_home=tmp_path)
    ring = KeyRing([ApiKeySetting(name="admin", sha256=hash_key("k"), roles=["admin"])])

    def starting():
        raise ServingError("the service is starting; retry shortly", status=503)

    app = mounted(create_console_app(starting, keyring=ring, settings=settings))
    with TestClient(app, base_url="http://testserver") as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/login").text).group(1)
        client.post("/console/login", data={"csrf": token, "key": "k"}, follow_redirects=False)
        answer = client.get("/console/overview")
        assert answer.status_code == 200 and "the service is starting" in answer.text


def test_failed_logins_are_throttled(tmp_path):
    from serving.console.app import LOGIN_ATTEMPTS

    settings = load_settings(data_home=tmp_path)
    ring = KeyRing([ApiKeySetting(name="admin", sha256=hash_key("k"), roles=["admin"])])
    app = mounted(create_console_app(lambda: EmptyRuntime(settings), keyring=ring, settings=settings))
    with TestClient(app, base_url="http://testserver") as client:
        for attempt in range(LOGIN_ATTEMPTS[0] + 1):
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/login").text).group(1)
            answer = client.post("/console/login", data={"csrf": token, "key": "wrong"}, follow_redirects=False)
            expected = 200 if attempt < LOGIN_ATTEMPTS[0] else 429
            assert answer.status_code == expected, attempt
        assert "Retry-After" in answer.headers


def test_the_models_page_draws_calibration_and_drift_from_the_monitor_reports(tmp_path):
    """Reports as ``shopml monitor`` keeps them in the monitoring store: judged cohorts and output PSI."""
    import json

    settings = load_settings(data_home=tmp_path)
    folder = tmp_path / "monitoring" / "reports"
    folder.mkdir(parents=True)
    for day, psi in (("2024-09-02", 0.04), ("2024-09-09", 0.31)):
        report = {"as_of": day, "verdict": [], "drift": {"predictions": {"drifted": [], "columns": [
                      {"column": "churn_probability", "psi": psi}, {"column": "segment", "psi": psi / 2}]}},
                  "outcomes": {"churn": [{"scored_at": "2024-06-03", "model_version": "churn=3", "roc_auc": 0.78,
                                          "ece": 0.04, "status": "scored"}]}}
        (folder / f"monitor-{day}.json").write_text(json.dumps(report))
    ring = KeyRing([ApiKeySetting(name="admin", sha256=hash_key("k"), roles=["admin"])])
    app = mounted(create_console_app(lambda: EmptyRuntime(settings), keyring=ring, settings=settings))
    with TestClient(app, base_url="http://testserver") as client:
        page = client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        client.post("/console/login", data={"csrf": token, "key": "k"})
        models = client.get("/console/models").text
    assert 'id="calibration"' in models and 'id="drift"' in models
    assert "2024-09-09" in models and "0.31" in models


def test_segment_sizes_over_time_come_from_the_kept_monitor_scores(tmp_path):
    import pandas as pd

    from monitoring.history import History
    from serving.console.pages import segment_history

    settings = load_settings(data_home=tmp_path)
    assert "at least two" in segment_history(settings)["segment_history_missing"]
    history = History(tmp_path / "monitoring")
    for day, segments in (("2024-01-01", ["a", "a", "b"]), ("2024-01-08", ["a", "b", "b"])):
        history.write_scores(pd.Timestamp(day), pd.DataFrame({
            "customer_id": ["1", "2", "3"], "churn_probability": 0.5, "predicted_value": [10.0, 20.0, 30.0],
            "segment": segments, "model_version": "c1"}))
    figure = segment_history(settings)["segment_history_figure"].replace(" ", "")
    assert '"2024-01-08"' in figure and '"name":"a"' in figure and "[2,1]" in figure
