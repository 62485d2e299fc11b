"""Error bodies are rewritten into the service's shape, pydantic's raw errors included (BentoML's task route)."""

from __future__ import annotations

import json

from serving.errors import _shaped


def test_pydantic_errors_become_fields_and_messages_without_internal_class_names():
    raw = json.dumps({"error": "3 validation error for RoutePlanRequestIODescriptor", "detail": [
        {"type": "missing", "loc": ["depots"], "msg": "Field required", "url": "https://errors.pydantic.dev/x"},
        {"type": "value_error", "loc": ["stops", 0, "id"], "msg": "Value error, too long"}, "odd"]}).encode()
    shaped = json.loads(_shaped(400, raw, {"method": "POST", "path": "/v1/routes/plan-task"}))
    assert shaped["detail"] == [{"field": "depots", "message": "Field required"},
                                {"field": "stops.0.id", "message": "Value error, too long"},
                                {"field": "", "message": "odd"}]
    assert "IODescriptor" not in shaped["error"] and "3 problem(s)" in shaped["error"] and "depots" in shaped["error"]


def test_bodies_in_the_shape_pass_unchanged():
    body = b'{"error":"invalid request","detail":[{"field":"k","message":"too big"}]}'
    assert _shaped(400, body, {}) == body
    assert json.loads(_shaped(404, b'{"error": "no task"}', {})) == {"error": "no task", "detail": []}
