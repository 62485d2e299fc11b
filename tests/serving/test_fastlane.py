"""The fast lane in front of BentoML: which requests it takes, one rate limit across both lanes, its metrics.

The real service (``tests/serving/test_service.py``) answers through the lane; these tests pin its routing and
its bookkeeping on plain ASGI apps.
"""

from __future__ import annotations

import hashlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from serving.auth import AuthMiddleware, KeyRing, Principal, Role
from serving.fastlane import LATENCY_BUCKETS, FastLane, HotEndpoints, LaneMetrics
from serving.ratelimit import Rate
from serving.schemas import AssignRequest, AssignResponse

HOT = "/v1/experiments/assign"
KEY = "lane-test-key"


def _bentoml_like() -> Starlette:
    """Stands for BentoML's app: says that it answered, on the hot path too."""

    async def behind(request):
        return JSONResponse({"answered_by": "bentoml", "method": request.method})

    return Starlette(routes=[Route(HOT, behind, methods=["GET", "POST"]),
                             Route("/v1/audiences", behind, methods=["POST"])])


class _Runtime:
    def __init__(self) -> None:
        self.calls: list[AssignRequest] = []

    def assign(self, req: AssignRequest) -> AssignResponse:
        self.calls.append(req)
        return AssignResponse(experiment=req.spec.experiment, unit_id=req.unit_id, variant="a", reason="assigned",
                              bucket=0.25)


def _lane(rate: Rate | None = None, clock=lambda: 0.0):
    principal = Principal("lane", frozenset({Role.STOREFRONT, Role.MARKETING}), key_id="k_lane", rate=rate)
    ring = KeyRing(entries=[(hashlib.sha256(KEY.encode()).digest(), principal)])
    runtime = _Runtime()
    behind = AuthMiddleware(_bentoml_like(), keyring=ring, clock=clock)
    hot = behind.sharing(HotEndpoints(lambda: runtime, {HOT: ("assign", AssignRequest)}))
    lane = FastLane(behind, hot, [HOT], LaneMetrics([HOT]))
    return TestClient(lane), runtime, lane


BODY = {"spec": {"experiment": "banner", "variants": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}]},
        "unit_id": "u1"}
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_posts_to_hot_paths_take_the_lane_and_everything_else_goes_behind():
    client, runtime, _ = _lane()
    answer = client.post(HOT, json=BODY, headers=AUTH)
    assert answer.status_code == 200 and answer.json()["variant"] == "a" and len(runtime.calls) == 1
    assert client.get(HOT, headers=AUTH).json() == {"answered_by": "bentoml", "method": "GET"}
    assert client.post("/v1/audiences", json={}, headers=AUTH).json()["answered_by"] == "bentoml"
    assert len(runtime.calls) == 1


def test_the_lane_checks_keys_and_names_bad_fields():
    client, runtime, _ = _lane()
    assert client.post(HOT, json=BODY).status_code == 401
    assert client.post(HOT, json=BODY, headers={"Authorization": "Bearer wrong"}).status_code == 401
    bad = client.post(HOT, json={**BODY, "unit_id": 5}, headers=AUTH)
    assert bad.status_code == 400 and any(d["field"] == "unit_id" for d in bad.json()["detail"])
    assert client.post(HOT, content=b"{not json", headers=AUTH).status_code == 400
    assert runtime.calls == []


def test_one_rate_limit_covers_both_lanes():
    """Burst 3: three requests pass whichever lane takes them, the fourth is refused in either."""
    client, _, _ = _lane(rate=Rate(per_second=0.001, burst=3))
    assert client.post(HOT, json=BODY, headers=AUTH).status_code == 200
    assert client.post("/v1/audiences", json={}, headers=AUTH).status_code == 200
    assert client.post(HOT, json=BODY, headers=AUTH).status_code == 200
    refused = client.post("/v1/audiences", json={}, headers=AUTH)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert client.post(HOT, json=BODY, headers=AUTH).status_code == 429


def test_the_lane_counts_its_answers_and_their_latency():
    client, _, lane = _lane()
    for _ in range(3):
        client.post(HOT, json=BODY, headers=AUTH)
    client.post(HOT, json=BODY)  # 401
    client.get(HOT, headers=AUTH)  # behind the lane: not counted
    text = lane.metrics.render()
    assert f'shopml_hot_requests_total{{route="{HOT}",status="200"}} 3' in text
    assert f'shopml_hot_requests_total{{route="{HOT}",status="401"}} 1' in text
    assert f'shopml_hot_request_seconds_count{{route="{HOT}"}} 4' in text
    assert f'shopml_hot_request_seconds_bucket{{route="{HOT}",le="+Inf"}} 4' in text


def test_latency_buckets_are_cumulative():
    metrics = LaneMetrics(["/p"])
    for seconds in (0.0001, 0.0015, 0.0015, 3.0):
        metrics.observe("/p", 200, seconds)
    counts = {line.split('le="')[1].split('"')[0]: int(line.rsplit(" ", 1)[1])
              for line in metrics.render().splitlines() if "_bucket" in line}
    assert counts[f"{LATENCY_BUCKETS[0]:g}"] == 1 and counts["0.002"] == 3 and counts["1"] == 3 and counts["+Inf"] == 4
    assert list(counts.values()) == sorted(counts.values())
