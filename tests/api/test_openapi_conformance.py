"""Schemathesis against our own OpenAPI document: generated requests for every route
never get a 5xx, and every response matches the documented schema."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from custmdm.api import create_app
from custmdm.core.customers import CustomerDraft
from custmdm.register import Register

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_every_route_answers_as_documented(reg: Register, db_url: str) -> None:
    reg.add_rule("std", "C{kind}{seq:6}")
    reg.register(CustomerDraft("enterprise", "深圳市华盛电子科技有限公司", region="440305"))
    headers = {"Authorization": f"Bearer {reg.create_token('tester', 'fuzz').token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(db_url))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_as_documented(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        answers_as_documented()
