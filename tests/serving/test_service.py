"""The real service, started with ``shopml serve`` on a loopback port: every endpoint, auth, bad input."""

from __future__ import annotations

import time

import pytest

from serving.auth import ROUTE_ROLES
from tests.serving.conftest import KEYS

ROUTE = {
    "depots": [{"id": "d", "location": {"x": 0, "y": 0}}],
    "stops": [{"id": f"s{i}", "location": {"x": i % 7, "y": i // 7}, "demand": {"kg": 1}} for i in range(1, 9)],
    "vehicles": [{"id": "v1", "start_depot": "d", "capacity": {"kg": 5}},
                 {"id": "v2", "start_depot": "d", "capacity": {"kg": 5}}],
    "options": {"time_limit": 1, "seed": 3},
}
ASSIGN_SPEC = {"experiment": "banner", "variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}]}
EXPERIMENT = {
    "name": "checkout",
    "variants": [{"name": "control", "weight": 0.5, "control": True}, {"name": "new", "weight": 0.5}],
    "metrics": [{"name": "conversion", "type": "proportion"}],
    "data": {"control": {"conversion": {"n": 5000, "sum": 500}}, "new": {"conversion": {"n": 5000, "sum": 580}}},
}
ALLOCATION = {
    "warehouses": [{"warehouse_id": "W1", "lat": 52.5, "lon": 13.4}, {"warehouse_id": "W2", "lat": 48.1, "lon": 11.6}],
    "regions": [{"region": "north", "lat": 53.5, "lon": 10.0}, {"region": "south", "lat": 48.8, "lon": 9.2}],
    "stock": [{"warehouse_id": "W1", "sku": "A", "on_hand": 10}, {"warehouse_id": "W2", "sku": "A", "on_hand": 5}],
    "demand": [{"sku": "A", "region": "north", "demand": 8}, {"sku": "A", "region": "south", "demand": 6}],
}


def test_health_metrics_and_openapi_are_open(server):
    assert server.call("GET", "/livez")[0] == 200
    status, text = server.call("GET", "/metrics")
    assert status == 200 and "shopml_model_info" in text
    status, doc = server.call("GET", "/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.1")
    for path in ("/v1/recommend", "/v1/customers/score", "/v1/audiences", "/v1/routes/plan",
                 "/v1/routes/plan-task/submit", "/v1/stock/allocate", "/v1/forecast", "/v1/experiments/size"):
        assert path in doc["paths"], path


def test_the_hot_routes_are_answered_by_the_fast_lane(server):
    """The running service answers the storefront's routes in front of BentoML (serving.fastlane): its own
    counters on /metrics move with every answer, refusals included."""
    import re

    def counted(status: int) -> int:
        text = server.call("GET", "/metrics")[1]
        found = re.search(rf'shopml_hot_requests_total{{route="/v1/similar-items",status="{status}"}} (\d+)', text)
        return int(found.group(1)) if found else 0

    before_ok, before_denied = counted(200), counted(401)
    assert server.call("POST", "/v1/similar-items", {"sku": "NOPE", "k": 3}, key="storefront")[0] == 200
    assert server.call("POST", "/v1/similar-items", {"sku": "NOPE", "k": 3})[0] == 401
    assert (counted(200), counted(401)) == (before_ok + 1, before_denied + 1)


def test_ready_only_when_every_model_is_loaded(server, shop):
    status, models = server.call("GET", "/v1/models", key="storefront")
    assert status == 200
    loaded = {m["name"]: m["loaded"] for m in models["models"]}
    assert set(loaded) == {"customers", "recommender", "forecast"}
    for name, ok in loaded.items():
        assert ok == (shop.trained[name] == "ok"), (name, models)
    all_loaded = all(loaded.values())
    assert models["ready"] == all_loaded
    status, probe = server.call("GET", "/readyz")
    assert status == (200 if all_loaded else 503)
    assert probe["ready"] == all_loaded and probe["models"] == models["models"]  # the probe says why


@pytest.mark.parametrize("path", sorted(ROUTE_ROLES))
def test_auth_matrix(server, path):
    """No key: 401; a key of a role the route does not allow: 403; an allowed role gets past auth."""
    method = {"/v1/models": "GET", "/v1/routes/plan-task/status": "GET", "/v1/routes/plan-task/get": "GET",
              "/v1/routes/plan-task/cancel": "PUT"}.get(path, "POST")
    target = path
    body = {} if method != "GET" else None
    assert server.call(method, target, body)[0] == 401
    assert server.call(method, target, body, key="not-a-key")[0] == 401
    for role, key in KEYS.items():
        status, _ = server.call(method, target, body, key=key)
        allowed = role == "admin" or role in ROUTE_ROLES[path]
        assert (status == 403) == (not allowed), (path, role, status)


@pytest.mark.parametrize(
    ("path", "key", "body", "field"),
    [
        ("/v1/recommend", "storefront", {"customer_id": "c", "k": 0}, "k"),
        ("/v1/recommend", "storefront", {"customer_id": "c", "k": 101}, "k"),
        ("/v1/recommend", "storefront", {"exclude": ["x"] * 501}, "exclude"),
        ("/v1/recommend", "storefront", {"customer_id": "c", "colour": "red"}, "colour"),
        ("/v1/similar-items", "storefront", {}, "sku"),
        ("/v1/experiments/assign", "storefront", {"spec": {"experiment": "e", "variants": []}, "unit_id": "u"},
         "spec.variants"),
        ("/v1/customers/score", "marketing", {"customer_ids": []}, "customer_ids"),
        ("/v1/customers/score", "marketing", {"customer_ids": ["x"] * 1001}, "customer_ids"),
        ("/v1/audiences", "marketing", {"page_size": 5000}, "page_size"),
        ("/v1/audiences", "marketing", {"max_churn_probability": 2}, "max_churn_probability"),
        ("/v1/experiments/size", "marketing", {"plan": {"baseline": 1.5, "mde": 0.1}}, "baseline"),
        ("/v1/experiments/evaluate", "marketing", {**EXPERIMENT, "variants": EXPERIMENT["variants"][:1]}, "variants"),
        ("/v1/forecast", "logistics", {"horizon": 0}, "horizon"),
        ("/v1/routes/plan", "logistics", {**ROUTE, "vehicles": []}, "vehicles"),
        ("/v1/routes/plan", "logistics", {**ROUTE, "options": {"time_limit": 31}}, "time_limit"),
        ("/v1/routes/plan", "logistics", {**ROUTE, "stops": [{**ROUTE["stops"][0], "id": f"s{i}"} for i in range(101)]},
         "stops"),
        ("/v1/routes/plan", "logistics", {**ROUTE, "vehicles": [{"id": "v", "start_depot": "nowhere"}]}, "depot"),
        ("/v1/stock/allocate", "logistics", {**ALLOCATION, "demand": []}, "demand"),
        # issue 15: strict types on the hot routes, known segments, bounded domains, refused at task submit
        ("/v1/recommend", "storefront", {"customer_id": "c", "k": "5"}, "k"),
        ("/v1/recommend", "storefront", {"customer_id": "c", "k": True}, "k"),
        ("/v1/similar-items", "storefront", {"sku": "x", "k": 5.5}, "k"),
        ("/v1/recommend", "storefront", {"include_purchased": "yes"}, "include_purchased"),
        ("/v1/audiences", "marketing", {"segments": ["at-rsk"]}, "at_risk"),
        ("/v1/experiments/size", "marketing", {"plan": {"baseline": None, "mde": 0.1}}, "baseline"),
        ("/v1/forecast", "logistics", {"quantiles": [0.5, 1.5]}, "quantiles"),
        ("/v1/routes/plan", "logistics", {**ROUTE, "stops": [{**ROUTE["stops"][0], "time_windows": [{"start": 0, "end": 1e12}]}]},
         "time_windows"),
        ("/v1/stock/allocate", "logistics", {**ALLOCATION, "demand": [{**ALLOCATION["demand"][0], "demand": 1e300}]},
         "demand"),
        ("/v1/routes/plan-task/submit", "logistics",
         {**ROUTE, "stops": [{**ROUTE["stops"][0], "id": f"s{i}"} for i in range(2001)]}, "stops"),
        ("/v1/routes/plan-task/submit", "logistics", {**ROUTE, "vehicles": [{"id": "v", "start_depot": "nowhere"}]},
         "depot"),
    ],
)
def test_bad_input_is_400_naming_the_field(server, path, key, body, field):
    """Every route, BentoML's included, answers the documented shape, and names the field to fix."""
    status, answer = server.call("POST", path, body, key=key)
    assert status == 400, answer
    assert set(answer) == {"error", "detail"} and isinstance(answer["error"], str), answer
    assert field in str(answer), answer


@pytest.mark.parametrize(("method", "path", "status"), [("POST", "/v1/nowhere", 404), ("GET", "/v1/audiences", 405),
                                                        ("GET", "/v1/routes/plan-task/get?task_id=nope", 404)])
def test_framework_errors_have_the_error_shape(server, method, path, status):
    got, answer = server.call(method, path, {} if method == "POST" else None, key="admin")
    assert got == status and set(answer) == {"error", "detail"}, answer
    assert "openapi" in answer["error"] or "task" in answer["error"].lower() or got == 404


def test_forecast_lists_unknown_skus_and_forecasts_the_rest(server, shop, needs):
    needs("forecast")
    from shopml.settings import load_settings
    from training.forecast import Forecaster
    from training.registry import load_champion

    forecaster, _ = load_champion(Forecaster, load_settings(data_home=shop.home))
    known = [str(s) for s in list(forecaster.skus)[:2]]
    status, answer = server.call("POST", "/v1/forecast", {"skus": [*known, "no-such-sku"], "horizon": 2},
                                 key="logistics")
    assert status == 200, answer
    assert answer["unknown_skus"] == ["no-such-sku"]
    assert {r["sku"] for r in answer["rows"]} == set(known)


@pytest.mark.parametrize(
    ("raw", "headers", "status"),
    [
        (b"", {}, 400),
        (b"\x00", {}, 400),
        (b"{not json", {}, 400),
        (b"[1, 2]", {}, 400),
        (b'{"customer_id": "c"}', {"Content-Type": "multipart/form-data"}, 415),
    ],
)
@pytest.mark.parametrize("path,key", [("/v1/recommend", "storefront"), ("/v1/audiences", "marketing"),
                                      ("/v1/routes/plan", "logistics")])
def test_malformed_bodies_are_4xx(server, path, key, raw, headers, status):
    got, _ = server.call("POST", path, raw=raw, key=key, headers=headers)
    assert got == status


@pytest.mark.parametrize("path", ["/v1/recommend", "/v1/routes/plan"])
def test_declared_oversize_body_is_413_before_it_is_sent(server, path):
    """Only the headers go out: the guard answers from Content-Length without reading a byte of the body."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(server.url)
    head = (f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {KEYS['admin']}\r\nContent-Length: 2000000\r\n\r\n")
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413"), answer


def test_assign_matches_the_experiments_package(server):
    from experiments import assign

    for unit in ("u1", "u2", "ü-3"):
        status, answer = server.call("POST", "/v1/experiments/assign", {"spec": ASSIGN_SPEC, "unit_id": unit},
                                     key="storefront")
        assert status == 200
        assert answer["variant"] == assign(ASSIGN_SPEC, unit).variant


def test_evaluate_and_size_match_the_experiments_package(server):
    from experiments import evaluate, plan_sample_size

    status, answer = server.call("POST", "/v1/experiments/evaluate", EXPERIMENT, key="marketing")
    assert status == 200
    expected = evaluate(EXPERIMENT).to_dict()
    assert answer["decision"] == expected["decision"]
    assert answer["comparisons"][0]["p_value"] == pytest.approx(expected["comparisons"][0]["p_value"])
    status, answer = server.call("POST", "/v1/experiments/size", {"plan": {"baseline": 0.1, "mde": 0.05}},
                                 key="marketing")
    assert status == 200 and answer["total_units"] == plan_sample_size(baseline=0.1, mde=0.05).total_units


def test_route_plan_sync_and_as_task(server):

    status, plan = server.call("POST", "/v1/routes/plan", ROUTE, key="logistics")
    assert status == 200 and plan["feasible"] and plan["totals"]["stops_served"] == 8
    assert plan["totals"]["vehicles"] == 2  # 8 kg on 5 kg vehicles
    status, task = server.call("POST", "/v1/routes/plan-task/submit", ROUTE, key="logistics")
    assert status == 200 and task["task_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, info = server.call("GET", f"/v1/routes/plan-task/status?task_id={task['task_id']}", key="logistics")
        assert status == 200
        if info["status"] != "in_progress":
            break
        time.sleep(0.2)
    assert info["status"] == "completed"
    status, result = server.call("GET", f"/v1/routes/plan-task/get?task_id={task['task_id']}", key="logistics")
    assert status == 200 and result["feasible"] and result["totals"]["stops_served"] == 8
    assert server.call("GET", "/v1/routes/plan-task/status?task_id=nope", key="logistics")[0] == 404


def test_allocate(server):
    from optimization.allocation import AllocationRequest, allocate

    status, plan = server.call("POST", "/v1/stock/allocate", ALLOCATION, key="logistics")
    assert status == 200, plan
    expected = allocate(AllocationRequest(**ALLOCATION)).to_dict()
    assert plan["verified"] and plan["status"] == expected["status"] and plan["method"] == expected["method"]
    assert plan["objective"] == pytest.approx(expected["objective"])
    assert plan["fill_rate"] == pytest.approx(expected["fill_rate"])
    status, answer = server.call("POST", "/v1/stock/allocate", {**ALLOCATION, "options": {"time_limit_s": 61}},
                                 key="logistics")
    assert status == 400 and "time_limit_s" in answer["error"]


def test_admin_reload_keeps_serving(server):
    status, answer = server.call("POST", "/v1/admin/reload", key="admin")
    assert status == 200 and set(answer["reloaded"]) == {"customers", "recommender", "forecast"}
    assert server.call("POST", "/v1/admin/reload", key="storefront")[0] == 403
    assert server.call("GET", "/livez")[0] == 200
