"""The heavy lane in-process: a bounded queue answers 429, a dead solver process is replaced, errors keep their
status, and a verification failure is a 422 with the findings (never a 200)."""

from __future__ import annotations

import os
import pickle
import time

import pytest

from serving.errors import ServingError, describe
from serving.heavy import HeavyLane, JobResult, allocate_job
from shopml.errors import VerificationError


def slow_job(seconds: float) -> JobResult:
    time.sleep(seconds)
    return 200, {"slept": seconds}


def dying_job() -> JobResult:
    os._exit(3)


def refusing_job() -> JobResult:
    return describe(VerificationError("the plan failed its check", ["stop s1 served twice", "load 7 > 5 on v1"]))


@pytest.fixture(scope="module")
def lane():
    lane = HeavyLane(workers=1, queue=1, retry_after_seconds=3)
    yield lane
    lane.shutdown()


def test_a_full_lane_answers_429_with_retry_after(lane):
    running = lane.submit(slow_job, 1.0)
    waiting = lane.submit(slow_job, 0.1)
    with pytest.raises(ServingError) as refused:
        lane.submit(slow_job, 0.1)
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "3"}
    assert "retry in 3 s" in str(refused.value)
    assert lane.result(running) == {"slept": 1.0} and lane.result(waiting) == {"slept": 0.1}
    assert lane.result(lane.submit(slow_job, 0)) == {"slept": 0}  # places are given back
    assert lane.in_flight == 0


def test_a_task_waits_for_a_place_instead_of_being_refused(lane):
    first, second = lane.submit(slow_job, 0.5), lane.submit(slow_job, 0.1)
    started = time.perf_counter()
    third = lane.submit(slow_job, 0, wait=True)
    assert time.perf_counter() - started > 0.2  # it waited for the first to finish
    assert [lane.result(f) for f in (first, second, third)] == [{"slept": 0.5}, {"slept": 0.1}, {"slept": 0}]


def test_a_dead_solver_process_is_a_503_and_the_lane_recovers(lane):
    with pytest.raises(ServingError) as broken:
        lane.result(lane.submit(dying_job))
    assert broken.value.status == 503
    assert lane.result(lane.submit(slow_job, 0)) == {"slept": 0}


def test_verification_failure_is_422_with_the_findings(lane):
    with pytest.raises(ServingError) as refused:
        lane.result(lane.submit(refusing_job))
    assert refused.value.status == 422
    assert [d["message"] for d in refused.value.detail] == ["stop s1 served twice", "load 7 > 5 on v1"]


def test_verification_error_keeps_its_findings_across_processes():
    error = pickle.loads(pickle.dumps(VerificationError("bad plan", ["a", "b"])))
    assert str(error) == "bad plan" and error.findings == ["a", "b"]


def test_a_job_error_keeps_its_status_and_field():
    """A request the solver refuses is the same 400 it would be in the service's own process."""
    status, body = allocate_job({"warehouses": [{"warehouse_id": "W", "lat": 0, "lon": 0}],
                                 "regions": [{"region": "r", "lat": 0, "lon": 0}],
                                 "demand": [{"sku": "A", "region": "elsewhere", "demand": 1}], "options": {}})
    assert status == 400 and "elsewhere" in body["error"] and set(body) == {"error", "detail"}


def test_error_shape_middleware_rewrites_framework_answers():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from serving.errors import ErrorShapeMiddleware

    async def crash(request):
        return PlainTextResponse("Traceback: secret", status_code=500)

    async def ours(request):
        return JSONResponse({"error": "k: too big", "detail": [{"field": "k", "message": "too big"}]}, 400,
                            headers={"Retry-After": "1"})

    async def ready(request):
        return JSONResponse({"ready": False}, 503)

    app = Starlette(routes=[Route("/crash", crash), Route("/ours", ours), Route("/readyz", ready)])
    client = TestClient(ErrorShapeMiddleware(app))
    answer = client.get("/crash")
    assert answer.status_code == 500 and answer.json() == {"error": "internal error; see the service log", "detail": []}
    answer = client.get("/missing")
    assert answer.status_code == 404 and "GET /missing" in answer.json()["error"] and answer.json()["detail"] == []
    answer = client.get("/ours")
    assert answer.json()["detail"][0]["field"] == "k" and answer.headers["Retry-After"] == "1"
    assert client.get("/readyz").json() == {"ready": False}  # probes keep their own body
