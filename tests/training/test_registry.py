"""Promotion logic against a real MLflow registry: only a better model becomes champion.

Once on the embedded SQLite store, and once through an ``mlflow server`` on a real PostgreSQL that the
``tracking_server`` fixture (tests/tracking_server.py) starts and stops; SHOPML_TEST_TRACKING_SERVER points it at
a running server instead.
"""

from __future__ import annotations

import uuid

import mlflow
import pytest

from training.registry import Tiebreak, promotion_rule, register_and_promote
from training.tracking import configure_mlflow, training_run


class Constant(mlflow.pyfunc.PythonModel):
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, context, model_input, params=None):
        return [self.value] * len(model_input)


def _log(settings, value: float):
    with training_run(settings, "registry-test", f"v{value}") as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant(value), pip_requirements=["mlflow"])
    return run.info.run_id, info.model_uri


BRIER = 0.005  # the tolerance on ROC-AUC within which a better Brier score promotes


@pytest.mark.parametrize(("auc", "brier", "promoted", "said"), [
    (0.81, 0.20, True, "roc_auc 0.8100 beats champion v3 (0.8000)"),        # better ranking: as before
    (0.797, 0.15, True, "within 0.005 of champion v3 (0.8000) and brier 0.1500 beats its 0.1600"),
    (0.80, 0.15, True, "brier 0.1500 beats its 0.1600"),                     # a tie on ROC-AUC
    (0.797, 0.17, False, "brier 0.1700 does not beat its 0.1600"),           # as good, no better calibrated
    (0.79, 0.10, False, "does not beat champion v3 (0.8000), by more than 0.005"),  # worse ranking: never
    (0.797, 0.16, False, "does not beat its 0.1600"),                        # a tie on both keeps the champion
])
def test_the_promotion_rule_breaks_ties_on_the_tiebreak_within_its_tolerance(auc, brier, promoted, said):
    decision = promotion_rule("roc_auc", auc, True, "3", 0.80, Tiebreak("brier", brier, BRIER), 0.16)
    assert decision[0] is promoted and said in decision[1], decision


def test_without_a_tiebreak_only_the_primary_metric_decides():
    assert promotion_rule("roc_auc", 0.7999, True, "1", 0.80, None, None) == (
        False, "roc_auc 0.7999 does not beat champion v1 (0.8000)")
    assert promotion_rule("wape", 0.30, False, "1", 0.35, None, None)[0]
    assert not promotion_rule("roc_auc", 0.7999, True, "1", 0.80, Tiebreak("brier", 0.1, BRIER), None)[0]
    with pytest.raises(ValueError, match="tolerance"):
        Tiebreak("brier", 0.1, -0.01)


@pytest.mark.slow
def test_alias_moves_only_on_improvement_and_records_why(settings):
    _promotion_flow(settings, "toy")


@pytest.fixture(scope="module")
def flow_on_server(tracking_server, tmp_path_factory):
    """The promotion flow run once through the PostgreSQL-backed server: (model name, champion version)."""
    from shopml.settings import load_settings

    settings = load_settings(data_home=tmp_path_factory.mktemp("server-home"),
                             mlflow_tracking_uri=tracking_server.uri)
    name = f"toy-{uuid.uuid4().hex[:8]}"
    champion = _promotion_flow(settings, name)
    yield name, champion
    mlflow.set_tracking_uri("")  # later tests in this worker must not talk to the server by accident
    mlflow.set_registry_uri("")


@pytest.mark.slow
def test_same_flow_against_a_tracking_server(tracking_server, flow_on_server):
    """Register, promote with reasons, alias `champion` and load by alias, all through the server's REST API."""
    name, champion = flow_on_server
    client = mlflow.MlflowClient(tracking_uri=tracking_server.uri, registry_uri=tracking_server.uri)
    assert str(client.get_model_version_by_alias(name, "champion").version) == champion
    assert [int(v.version) for v in client.search_model_versions(f"name='{name}'")] == [5, 4, 3, 2, 1]
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(loaded.predict([[0], [0], [0]])) == [2.0, 2.0, 2.0]


@pytest.mark.slow
def test_the_server_keeps_the_registry_in_postgresql(tracking_server, flow_on_server):
    """MLflow's own tables in the PostgreSQL database hold the model, its versions and the champion alias."""
    import psycopg

    if tracking_server.database_url is None:
        pytest.skip("SHOPML_TEST_TRACKING_SERVER is set without SHOPML_TEST_TRACKING_DATABASE")
    name, champion = flow_on_server
    with psycopg.connect(tracking_server.database_url, connect_timeout=10) as conn:
        assert conn.execute("SELECT version()").fetchone()[0].startswith("PostgreSQL ")
        assert conn.execute("SELECT count(*) FROM registered_models WHERE name = %s", (name,)).fetchone() == (1,)
        versions = conn.execute("SELECT version, source FROM model_versions WHERE name = %s ORDER BY version",
                                (name,)).fetchall()
        assert [version for version, _ in versions] == [1, 2, 3, 4, 5]
        alias = conn.execute("SELECT version FROM registered_model_aliases WHERE name = %s AND alias = 'champion'",
                             (name,)).fetchone()
        assert alias == (int(champion),)
        (location,) = conn.execute("SELECT artifact_location FROM experiments WHERE name = 'registry-test'"
                                   ).fetchone()
    assert location.startswith("mlflow-artifacts:"), location  # artifacts go through the server's proxy
    if getattr(tracking_server, "root", None) is not None:
        assert list((tracking_server.root / "artifacts").rglob("MLmodel")), "no model in the artifacts destination"


def _promotion_flow(settings, name: str) -> str:
    client = configure_mlflow(settings)
    kwargs = {"model_name": name, "metric": "auc", "evaluation_key": "eval-A"}
    run1, uri1 = _log(settings, 1.0)
    first = register_and_promote(client, model_uri=uri1, run_id=run1, value=0.70, **kwargs)
    assert first.promoted and "first version" in first.reason

    run2, uri2 = _log(settings, 2.0)
    worse = register_and_promote(client, model_uri=uri2, run_id=run2, value=0.65, **kwargs)
    assert not worse.promoted and "does not beat champion v1" in worse.reason
    assert str(client.get_model_version_by_alias(name, "champion").version) == first.version
    assert client.get_run(run2).data.tags["promotion.promoted"] == "false"

    run3, uri3 = _log(settings, 3.0)
    other_eval = register_and_promote(client, model_uri=uri3, run_id=run3, value=0.99, model_name=name,
                                      metric="auc", evaluation_key="eval-B")
    assert not other_eval.promoted and "different evaluation" in other_eval.reason

    rescored = register_and_promote(client, model_uri=uri3, run_id=run3, value=0.80, model_name=name, metric="auc",
                                    evaluation_key="eval-B", rescore=lambda uri: 0.75)
    assert rescored.promoted and rescored.champion_value == 0.75

    forced = register_and_promote(client, model_uri=uri2, run_id=run2, value=0.1, force=True, **kwargs)
    assert forced.promoted and forced.reason.startswith("forced")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(loaded.predict([[0], [0]])) == [2.0, 2.0]
    return forced.version
