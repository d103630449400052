"""Schemathesis drives every endpoint of the served OpenAPI schema with generated requests, valid and invalid:
no 5xx, only documented status codes and content types, responses matching their schemas.

Driven through its Hypothesis strategies (``operation.as_strategy()``) rather than its pytest plugin, whose lazy
fixture loading does not support pytest 9.
"""

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import ApiHub

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_every_endpoint_conforms_to_its_schema(api_hub: ApiHub) -> None:
    schema = schemathesis.openapi.from_url(f"{api_hub.url}/openapi.json")
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results)  # every operation's schema loads
    assert {op.label for op in operations} >= {
        "POST /orders",
        "GET /orders",
        "GET /orders/{order_id}",
        "POST /orders/{order_id}/cancel",
        "POST /orders/{order_id}/shipping-address",
        "POST /webhooks/erp",
        "POST /webhooks/carrier",
        "POST /webhooks/payment",
        "GET /healthz",
        "GET /readyz",
    }
    seen: Counter[tuple[str, int]] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case: schemathesis.Case[Any]) -> None:
            response = case.call_and_validate(headers=api_hub.headers(), timeout=30, checks=CHECKS)
            seen[(case.operation.label, response.status_code)] += 1

        conforms()

    # The run really exercised the API: accepted and refused requests on the main operations.
    statuses = {status for (_, status) in seen}
    assert sum(seen.values()) >= 10 * len(operations)
    assert {201, 422, 401} <= statuses, seen
    assert any(label == "POST /orders" and status == 201 for (label, status) in seen), seen
