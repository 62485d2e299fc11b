"""Recommenders A/B-tested online, end to end on the real service app in-process: the experiment file names the
champion and two challengers, ``/v1/recommend`` assigns each shopper deterministically and logs the exposure,
simulated shoppers click and buy with probabilities planted per variant, and the evaluation from the logs
reaches the planted decision (and the reverse one when the effects are swapped, no ship when there is none).
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from experiments import assign, evaluate
from serving.attribution import unit_rows
from serving.experiment import read_exposures
from tests.serving.conftest import KEYS, copy_data_home

HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {KEYS['storefront']}"}
BASE_CLICK, BASE_BUY = 0.30, 0.10
"""Click (view) and purchase probabilities of a shopper shown the control's list; a variant multiplies both."""


@pytest.fixture(scope="module")
def service(shop, tmp_path_factory):
    """The hot app over a runtime on a copy of the test shop, whose registry has a second recommender version."""
    if shop.trained.get("recommender") != "ok":
        pytest.skip(f"recommender not trained: {shop.trained.get('recommender')}")
    from starlette.testclient import TestClient

    from serving.hot import create_hot_app
    from serving.runtime import ServingRuntime
    from shopml.settings import load_settings
    from training.tracking import configure_mlflow

    home = copy_data_home(shop.home, tmp_path_factory.mktemp("online_ab") / "home")
    settings = load_settings(data_home=home)
    client = configure_mlflow(settings)
    champion = client.get_model_version_by_alias("recommender", "champion")
    challenger = client.create_model_version("recommender", champion.source, run_id=champion.run_id)
    rt = ServingRuntime(settings)
    rt.models.load("recommender")
    yield TestClient(create_hot_app(lambda: rt)), rt, str(challenger.version)
    rt.storefront.stop()


def run_experiment(rt, name: str, variants: list[dict], **extra) -> None:
    path = rt.settings.experiment_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"experiment": name, "variants": variants, **extra}))
    rt.storefront.refresh()


def three_arms(challenger: str) -> list[dict]:
    return [{"name": "control", "alias": "champion", "weight": 0.4, "control": True},
            {"name": "a", "version": challenger, "weight": 0.3},
            {"name": "b", "version": challenger, "weight": 0.3}]


def post(client, path: str, body: dict) -> dict:
    response = client.post(path, content=json.dumps(body), headers=HEADERS)
    assert response.status_code == 200, response.text
    return response.json()


def simulate(client, units: list[tuple[str, str]], effect: dict[str, float], seed: int) -> dict[str, int]:
    """Each unit (kind, id) asks for its list and then views / buys one of its items with the control's
    probabilities times ``effect[variant]``; returns the units served per variant."""
    rng = np.random.default_rng(seed)
    served: dict[str, int] = {}
    for kind, unit in units:
        who = {"customer_id": unit} if kind == "customer" else {"session_id": unit}
        answer = post(client, "/v1/recommend", {**who, "k": 5})
        variant = answer["variant"]
        served[variant] = served.get(variant, 0) + 1
        events = []
        if rng.random() < BASE_CLICK * effect[variant]:
            events.append({"type": "view", "sku": answer["items"][0]["sku"], **who})
        if rng.random() < BASE_BUY * effect[variant]:
            events.append({"type": "purchase", "sku": answer["items"][-1]["sku"], **who})
        if events:
            post(client, "/v1/events", {"events": events})
    return served


def decide(rt, name: str):
    rt.storefront.exposures.flush()
    rt.storefront.events.flush()
    file = rt.storefront.experiment.file
    attribution = unit_rows(rt.settings.data_home, name, file.attribution_hours)
    return attribution, evaluate(file.experiment_spec(), rows=attribution.rows)


def sessions(prefix: str, n: int) -> list[tuple[str, str]]:
    return [("session", f"{prefix}-{i}") for i in range(n)]


def test_the_better_variant_is_shipped_and_the_worse_rejected(service):
    client, rt, challenger = service
    run_experiment(rt, "recs-planted", three_arms(challenger))
    assert rt.storefront.challenger_states.keys() == {challenger}  # its own live state beside the champion's
    customers = [("customer", str(c)) for c in rt.storefront.state.live.base.customer_ids]
    units = customers + sessions("planted", 1500 - len(customers))
    served = simulate(client, units, {"control": 1.0, "a": 1.6, "b": 0.5}, seed=1)
    attribution, result = decide(rt, "recs-planted")
    assert attribution.rows["variant"].value_counts().to_dict() == served
    assert set(attribution.rows["unit_kind"]) == {"customer", "session"} and attribution.mixed_units == 0
    assert result.decision.recommendation == "ship" and result.decision.arm == "a", result.summary()
    verdicts = {v.arm: v for v in result.decision.verdicts}
    assert verdicts["b"].rejected and not result.srm.flagged


def test_the_reverse_effect_gives_the_reverse_decision_and_none_gives_no_ship(service):
    client, rt, challenger = service
    run_experiment(rt, "recs-reversed", three_arms(challenger))
    simulate(client, sessions("reversed", 1500), {"control": 1.0, "a": 0.5, "b": 1.6}, seed=2)
    _, result = decide(rt, "recs-reversed")
    assert result.decision.recommendation == "ship" and result.decision.arm == "b", result.summary()
    run_experiment(rt, "recs-null", three_arms(challenger))
    simulate(client, sessions("null", 1500), {"control": 1.0, "a": 1.0, "b": 1.0}, seed=3)
    _, result = decide(rt, "recs-null")
    assert result.decision.recommendation != "ship", result.summary()


def test_assignment_is_deterministic_and_is_the_engines(service):
    client, rt, challenger = service
    run_experiment(rt, "recs-determinism", three_arms(challenger))
    spec = rt.storefront.experiment.file.assignment
    for unit in ("s-1", "s-2", "s-3", "s-4", "s-5"):
        first = post(client, "/v1/recommend", {"session_id": unit})
        again = post(client, "/v1/recommend", {"session_id": unit, "k": 3})
        assert first["variant"] == again["variant"] == assign(spec, unit).variant
        assert first["experiment"] == "recs-determinism"
        assert first["model_version"] == (challenger if first["variant"] != "control" else "1")
    assert post(client, "/v1/recommend", {"k": 3})["variant"] is None  # nobody to assign: the champion


def test_exposure_logging_loses_no_record_under_concurrency(service):
    client, rt, challenger = service
    run_experiment(rt, "recs-logging", three_arms(challenger))
    log = rt.storefront.exposures
    log.flush()
    before = len(read_exposures(log.root).query("experiment == 'recs-logging'"))
    from serving.schemas import RecommendRequest

    def shopper(t: int) -> None:
        for i in range(250):
            rt.recommend(RecommendRequest(session_id=f"t{t}-{i}", k=3))
            if i % 50 == 0:
                log.flush()  # the writer thread's flush racing with the requests

    threads = [threading.Thread(target=shopper, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.flush()
    frame = read_exposures(log.root).query("experiment == 'recs-logging'")
    assert len(frame) - before == 1000 and frame["unit"].nunique() == 1000
    assert not frame["unit"].str.startswith("t").any()  # pseudonyms, not the session ids


def test_a_challenger_that_does_not_exist_pauses_the_test_and_the_champion_serves(service):
    client, rt, challenger = service
    run_experiment(rt, "recs-missing", [{"name": "control", "alias": "champion", "weight": 0.5, "control": True},
                                        {"name": "ghost", "version": "999", "weight": 0.5}])
    note = next(m.note for m in rt.models_info().models if m.name == "recommender")
    assert "variant 'ghost' (version 999 of the recommender): cannot be loaded" in note and "paused" in note
    answers = [post(client, "/v1/recommend", {"session_id": f"m-{i}"}) for i in range(20)]
    assert {a["variant"] for a in answers} == {None} and {a["model_version"] for a in answers} == {"1"}
    run_experiment(rt, "recs-bad-file", [{"name": "control", "alias": "champion", "weight": 0.7, "control": True}])
    note = next(m.note for m in rt.models_info().models if m.name == "recommender")
    assert "not applied" in note and "variants" in note
    assert post(client, "/v1/recommend", {"session_id": "m-1"})["variant"] is None
    run_experiment(rt, "recs-back", three_arms(challenger))
    note = next(m.note for m in rt.models_info().models if m.name == "recommender")
    assert "cannot be loaded" not in note and "'recs-back' running" in note
