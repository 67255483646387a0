"""POST /v1/sql params: a JSON number is bound exactly as written, or refused with a 422.

The body is parsed by the json module, which keeps every integer exact and reads 1e400
as infinity; a parameter union that falls back to float would turn 2**64 into
1.8446744073709552e19 without a word. A number the query cannot take exactly is refused
in the error envelope, naming the parameter and saying to pass it as a string.
"""

from __future__ import annotations

import pytest

from tests.server.conftest import TestClient, envelope


@pytest.mark.parametrize(
    "number", [str(2**63), str(2**64), str(2**70), str(-(2**63) - 1), "1e400", "-1e400", "NaN"]
)
def test_a_number_a_parameter_cannot_hold_is_a_422(client: TestClient, number: str) -> None:
    body = f'{{"sql": "SELECT ? AS a, ? AS n", "params": [1, {number}]}}'.encode()
    response = client.post("/v1/sql", content=body, headers={"Content-Type": "application/json"})
    error = envelope(response, 422)["error"]
    assert error["code"] == "invalid_request"
    assert error["errors"][0]["loc"] == ["body", "params", "1"]
    shown = number if "e" not in number and number != "NaN" else str(float(number))
    assert error["message"].startswith(f"body.params.1: the number {shown} ")
    assert "pass it as a string" in error["message"]


@pytest.mark.parametrize(
    ("number", "value"),
    [(str(2**63 - 1), 2**63 - 1), (str(-(2**63)), -(2**63)), ("1.5e300", 1.5e300), ("true", True)],
)
def test_a_number_a_parameter_holds_is_bound_exactly(
    client: TestClient, number: str, value: object
) -> None:
    body = f'{{"sql": "SELECT ? AS n", "params": [{number}]}}'.encode()
    response = client.post("/v1/sql", content=body, headers={"Content-Type": "application/json"})
    assert envelope(response)["data"]["rows"] == [[value]]
