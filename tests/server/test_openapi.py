"""The OpenAPI description is accurate: schemathesis, driven by it, finds no 5xx and no
response that contradicts it (status, content type, headers, body schema)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from lakehouse.server import ServerConfig, create_app
from tests.server.conftest import LIMITS, Seeded, TestClient

MAX_EXAMPLES = 30  # per operation: the whole run stays well under a minute


@pytest.fixture
def api_schema(shared: Seeded) -> Any:
    app = create_app(ServerConfig(shared.root, **{**LIMITS, "watch": False}))
    # the live event stream never ends without `limit`: its own tests cover it
    return schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/v1/journal/stream")


# schemathesis.pytest.from_fixture needs a pytest internal that pytest 9 dropped, so each
# operation's hypothesis strategy is driven here instead, valid and invalid inputs both
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms_and_never_answers_5xx(
    api_schema: Any, mode: GenerationMode, shared: Seeded
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 10
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            for name in ("min_seq", "as_of"):
                if case.query and name in case.query:
                    # a seq the journal has not reached is answered 503 after a wait (min_seq)
                    # or 400 (as_of), by design (test_routes.py, test_as_of.py pin them):
                    # keep the run to seqs that exist
                    case.query[name] = _reached(case.query[name], shared.head)
            # any text is a schema-valid `sql`, but only a SELECT runs: a 400 for the rest is right
            skip = [positive_data_acceptance] if case.operation.path == "/v1/sql" else []
            response = case.call_and_validate(excluded_checks=skip)
            assert response.status_code < 500
            assert "x-lakehouse-watermark" in {key.lower() for key in response.headers}

        check()


def _reached(value: Any, head: int) -> Any:
    """`value` with every seq above `head` lowered to it (lists and digit strings too)."""
    if isinstance(value, list):
        return [_reached(item, head) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value > head:
        return head
    if (
        isinstance(value, str)
        and re.fullmatch(r"[ \t\n\r]*[0-9]+[ \t\n\r]*", value)
        and int(value) > head
    ):
        return str(head)
    return value


def test_the_description_lists_every_route_and_min_seq_and_as_of_everywhere(
    client: TestClient,
) -> None:
    described = client.get("/openapi.json").json()
    routes = {
        (method.upper(), path) for path, item in described["paths"].items() for method in item
    }
    assert routes == {
        ("GET", "/health"),
        ("POST", "/v1/sql"),
        ("GET", "/v1/datasets"),
        ("GET", "/v1/datasets/{name}"),
        ("GET", "/v1/traces/search"),
        ("GET", "/v1/traces/{uid}"),
        ("GET", "/v1/traces/{uid}/history"),
        ("GET", "/v1/playbooks/search"),
        ("GET", "/v1/sessions/{id}"),
        ("GET", "/v1/journal"),
        ("GET", "/v1/journal/stream"),
    }
    # the published order (families' routes by their rank, not the registry's order)
    assert list(described["paths"]) == [
        "/health",
        "/v1/datasets",
        "/v1/datasets/{name}",
        "/v1/traces/search",
        "/v1/traces/{uid}",
        "/v1/traces/{uid}/history",
        "/v1/playbooks/search",
        "/v1/sessions/{id}",
        "/v1/sql",
        "/v1/journal",
        "/v1/journal/stream",
    ]
    for path, item in described["paths"].items():
        for operation in item.values():
            names = {parameter["name"] for parameter in operation.get("parameters", [])}
            assert "min_seq" in names, path
            assert ("as_of" in names) is (path != "/health"), path  # every read takes it
            assert {"200", "401", "406", "422", "503"} <= set(operation["responses"]), path
