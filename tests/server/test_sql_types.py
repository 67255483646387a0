"""POST /v1/sql answers every type DuckDB returns, as JSON, CSV and Arrow.

The JSON and CSV values are the ones `lakehouse sql` prints (one conversion,
projections/_encode.py); Arrow carries the Arrow data itself, with the types Arrow cannot
hold (UHUGEINT, TIME WITH TIME ZONE, BIT, VARINT) as DuckDB's text of them.
"""

from __future__ import annotations

import pyarrow as pa

from tests.projections._all_types import (
    NAMES,
    QUERY,
    TYPES,
    UHUGE,
    check_csv_fields,
    check_json_row,
    split_csv_line,
)
from tests.server.conftest import TestClient, envelope

ARROW = {"Accept": "application/vnd.apache.arrow.stream"}


def test_every_type_as_json(client: TestClient) -> None:
    data = envelope(client.post("/v1/sql", json={"sql": QUERY}))["data"]
    assert [column["name"] for column in data["columns"]] == NAMES
    assert [column["type"] for column in data["columns"]] == TYPES
    check_json_row(data["rows"][0])


def test_every_type_as_csv(client: TestClient) -> None:
    response = client.post("/v1/sql", json={"sql": QUERY}, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    header, line = response.text.splitlines()
    assert split_csv_line(header) == [f'"{name}"' for name in NAMES]
    check_csv_fields(split_csv_line(line))


def test_every_type_as_arrow(client: TestClient) -> None:
    response = client.post("/v1/sql", json={"sql": QUERY}, headers=ARROW)
    assert response.status_code == 200
    table = pa.ipc.open_stream(response.content).read_all()
    assert table.column_names == NAMES  # repeats kept
    columns = dict(zip(NAMES, table.columns, strict=True))
    assert columns["umax"].to_pylist() == [UHUGE]  # not decimal(38) -1
    assert columns["ttz"].to_pylist() == ["12:34:56+05:30"]  # the offset kept
    assert columns["bits"].to_pylist() == ["0101"]
    assert columns["vi"].to_pylist() == ["123456789012345678901234567890"]
    assert columns["l"].to_pylist() == [[1, 2, None]]
    assert columns["hmax"].type == pa.decimal128(38, 0)
