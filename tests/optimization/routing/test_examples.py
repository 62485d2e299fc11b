"""Every example request in docs/examples (``routes_*.json``) parses, plans and passes the verifier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimization.routing import RouteRequest, plan_routes, verify_plan

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "docs" / "examples").glob("routes_*.json"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_plans_verified(path: Path):
    payload = json.loads(path.read_text())
    payload["options"] = {**payload.get("options", {}), "time_limit": 1.0, "workers": 1}
    request = RouteRequest.parse(payload)
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok and plan.feasible
    assert plan.routes
