"""The bodies the endpoint takes and gives, as pydantic models: they make /openapi.json.

Routes build their responses directly (see `_envelope`), so these models describe rather
than validate what goes out; tests/server/test_openapi.py holds the two together.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt
from pydantic_core import PydanticCustomError

T = TypeVar("T")
Row = dict[str, Any]
_BIGINT = (-(2**63), 2**63 - 1)


def _exact(value: Any) -> Any:
    """Refuse a number the query cannot take as written; the float member would round it.

    The body's JSON keeps integers exact and reads 1e400 as infinity (and NaN as NaN), so
    without this 2**64 is bound as 1.8446744073709552e19 and 1e400 as NULL.
    """
    if type(value) is int and not _BIGINT[0] <= value <= _BIGINT[1]:
        raise PydanticCustomError(
            "number_too_big",
            "the number {number} does not fit a BIGINT (64 bits): pass it as a string and "
            "cast it in the SQL, e.g. CAST(? AS HUGEINT)",
            {"number": str(value)},
        )
    if type(value) is float and not math.isfinite(value):
        raise PydanticCustomError(
            "number_not_finite",
            "the number {number} is not finite (1e400 overflows a double; JSON has no NaN): "
            "pass it as a string and cast it in the SQL, e.g. CAST(? AS DOUBLE)",
            {"number": str(value)},
        )
    return value


Param = Annotated[
    Annotated[int, Field(ge=_BIGINT[0], le=_BIGINT[1])] | float | str | bool | None,
    BeforeValidator(_exact),
]


class ErrorDetail(BaseModel):
    """What went wrong: a code to branch on, a message, a hint, and the error's fields."""

    model_config = ConfigDict(extra="allow")
    code: str
    message: str
    hint: str | None = None


class ErrorEnvelope(BaseModel):
    """The envelope of every error response."""

    ok: Literal[False]
    status: int
    watermark: int
    error: ErrorDetail


class Envelope(BaseModel, Generic[T]):
    """The envelope of every success response: `data` reflects seq `watermark`."""

    ok: Literal[True]
    status: Literal[200]
    watermark: int
    data: T


class Health(BaseModel):
    """Whether the server is following the journal, and how far behind its head it is."""

    status: Literal["ok", "degraded"]
    head_seq: int
    watermark: int
    lag: int
    watching: bool
    error: str | None


class SqlRequest(BaseModel):
    """One read-only SELECT, its parameters (for `?` placeholders) and a row cap."""

    model_config = ConfigDict(extra="forbid")
    sql: str = Field(
        min_length=1, max_length=65_536, description="Exactly one SELECT (or WITH ... SELECT)."
    )
    params: list[Param] = Field(default_factory=list, max_length=1000)
    max_rows: StrictInt | None = Field(
        default=None, ge=0, description="Stop after this many rows (the server's cap applies)."
    )


class Column(BaseModel):
    """A result column: its name and DuckDB type (`... as text`: its numbers are strings)."""

    name: str
    type: str


class SqlResult(BaseModel):
    """A query's rows, each a list in column order; `truncated` when a cap cut them."""

    columns: list[Column]
    rows: list[list[Any]]
    row_count: int
    truncated: bool


class DatasetList(BaseModel):
    """The datasets not dropped, by name."""

    datasets: list[Row]


class TraceHistory(BaseModel):
    """A trace and its predecessors back to the first, and any broken links met."""

    uid: str
    chain: list[Row]
    problems: list[str]


class SearchHits(BaseModel):
    """The entities most like the query, best first, each with its similarity `score`."""

    hits: list[Row]


class CheckpointRef(BaseModel):
    """A checkpoint a client can start from when its cursor fell into archived records."""

    seq: int
    name: str
    created_at: str | None


class JournalPage(BaseModel):
    """Records after a cursor (up to the watermark) and the cursor to pass next."""

    records: list[Row]
    next: int
    gap: bool
    first_seq: int | None
    checkpoint: CheckpointRef | None
    findings: list[Row]
