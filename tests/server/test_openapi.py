"""The OpenAPI spec, fuzzed with schemathesis against a real server: no input, however odd,
gets a 500 (a traceback would be behind it)."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from .conftest import TOKEN, running  # noqa: E402

EXAMPLES = 6
"""Cases per operation: enough to send odd ids, names and bodies everywhere, quickly."""


def test_no_request_from_the_spec_gets_a_server_error(config_for):
    headers = {"authorization": f"Bearer {TOKEN}"}
    with running(config_for(sample_size=128)) as server:
        schema = schemathesis.openapi.from_url(f"{server.url}/api/openapi.json", headers=headers)
        seen, failures, statuses = [], [], set()
        for found in schema.get_all_operations():
            operation = found.ok()
            seen.append(operation.label)

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def fuzz(case) -> None:
                response = case.call(base_url=server.url, headers=headers, timeout=60)
                statuses.add(response.status_code)
                if response.status_code >= 500 or "Traceback" in response.text:
                    failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

            fuzz()
    assert len(seen) >= 12 and "POST /api/jobs/upload" in seen
    assert failures == []
    assert {200, 404, 422} <= statuses, statuses  # real answers and refusals both reached
