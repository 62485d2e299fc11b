"""Schemathesis per role: requests generated from the service's own OpenAPI document, sent with every key.

Each generated request (valid and invalid ones, a bounded number per operation, deterministic) goes out without
a key and with each demo role's key. Without a key: 401. A role the route does not list: 403, whatever the
request holds. A listed role (admin always): never a 5xx, never 401/403, and every error in the service's shape.
``tests/serving/test_fuzz.py`` runs schemathesis' own CLI as admin for server errors; this adds the other roles
and the authorisation checks. Solver time limits in generated plans are capped at 1 s so the suite stays fast.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from serving.auth import allowed_roles
from tests.serving.conftest import KEYS

EXAMPLES = 6
"""Generated requests per operation and generation mode (positive, negative)."""
SKIPPED = {("POST", "/v1/admin/reload")}
"""Reloading every model for each generated request would only measure the reload (the matrix calls it once)."""


def _cap_solver_time(body):
    if isinstance(body, dict):
        options = body.get("options")
        if isinstance(options, dict):
            for name in ("time_limit", "time_limit_s"):
                if isinstance(options.get(name), int | float) and not isinstance(options.get(name), bool):
                    options[name] = min(options[name], 1)
        elif "stops" in body or "warehouses" in body:
            body["options"] = {"time_limit": 1} if "stops" in body else {"time_limit_s": 1}
    return body


def test_schemathesis_per_role(secure_server, bad_inputs, cases):
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{secure_server.url}/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith("/v1/") and (op.method.upper(), op.path) not in SKIPPED]
    assert len(operations) >= 12, [op.label for op in operations]
    with cases.of("fuzz_per_role") as check:
        for operation in operations:
            _fuzz(operation, secure_server.url, bad_inputs, check)()


def _fuzz(operation, url: str, bad_inputs, check):
    """A hypothesis test sending each generated request of ``operation`` without a key and with every key."""
    from schemathesis import GenerationMode

    roles = allowed_roles(operation.path)
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=2 * EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=strategy)
    def send_with_every_key(case):
        if case.body is not None and not isinstance(case.body, bytes | str):
            case.body = _cap_solver_time(case.body)
        what = f"{case.method} {case.formatted_path} {json.dumps(case.body, default=str)[:120]}"
        own = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        case.headers = own  # a generated (negative) Authorization header would replace the role's key
        answer = case.call(base_url=url, timeout=60)
        check(answer.status_code == 401, f"{what} without a key: {answer.status_code}")
        for role, key in KEYS.items():
            case.headers = {**own, "Authorization": f"Bearer {key}"}
            answer = case.call(base_url=url, timeout=60)
            status = answer.status_code
            if role == "admin" or (roles is not None and role in roles):
                problem = None
                if status >= 400:
                    problem = bad_inputs.error_shape_problem(
                        bad_inputs.Answer(status, answer.content, dict(answer.headers), 0.0))
                check(status < 500 and status not in (401, 403) and problem is None,
                      f"{what} as {role}: {status} {problem or ''} {answer.text[:200]}")
            else:
                check(status == 403, f"{what} as {role}: {status}, expected 403")

    return send_with_every_key
