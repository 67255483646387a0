"""What routes share: the read models a request holds (after its `min_seq` wait, and as
of its `as_of` seq), the parameter types, and the error statuses for the OpenAPI.

The server (lakehouse/server/_app.py) puts on `app.state` what these read: `live` (a
`Served`: the followed read models), `as_of` (`PastReads`) and `config` (its
`min_seq_wait`). Routes know them only by these protocols, so a family's routes import
this kit and never the server that mounts them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Annotated, Any, Protocol

from fastapi import Depends, Query, Request
from pydantic import BeforeValidator, Field

from lakehouse.httpkit._schemas import ErrorEnvelope
from projections import ReadModels


class Served(Protocol):
    """The read models the server follows: the current ones, or a wait for a seq."""

    @property
    def models(self) -> ReadModels:
        """The read models served now."""
        ...

    def wait_for(self, seq: int, timeout: float) -> ReadModels:
        """The read models once they reflect `seq` (NotCaughtUp after `timeout` s)."""
        ...


class PastReads(Protocol):
    """Reads as of a past seq, bounded in number."""

    def at(self, seq: int, served: ReadModels) -> AbstractContextManager[ReadModels]:
        """The read models as of `seq`, held for the block."""
        ...


_WHOLE = re.compile(r"[+-]?[0-9]+")


def _whole(value: Any) -> Any:
    """Refuse '1.0' and '1e3' for an integer parameter: the description says integer."""
    if isinstance(value, str) and not _WHOLE.fullmatch(value.strip()):
        raise ValueError("must be a whole number, e.g. 42")
    return value


def _flag(value: Any) -> Any:
    """Take only true or false for a boolean parameter (not 1, yes or on)."""
    if isinstance(value, str):
        if value.lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return value.lower() == "true"
    return value


# query parameters as exact as their description (pydantic alone takes '1.0' and 'yes');
# bounds go on the inner type: beside a validator, Query(ge=) leaves them out of the schema
Whole = BeforeValidator(_whole)
Flag = BeforeValidator(_flag)
Seq = Annotated[int, Field(ge=0, le=2**62)]
AS_OF = Query(
    description="Read the state as it was when the journal ended at this seq (the answer's "
    "watermark is then this seq); 400 beyond the journal's head.",
)
MIN_SEQ = Query(
    description="Wait (bounded) until the server reflects this seq, e.g. the seq a mutation "
    "verb printed; 503 with the current watermark if it does not in time.",
)
DESCRIPTIONS = {
    400: "The query or a parameter was refused or failed, or as_of is beyond the head.",
    401: "The bearer token is missing or wrong.",
    404: "No such entity.",
    406: "The Accept header takes none of the formats the route gives, or the result "
    "cannot be given in the format asked for.",
    413: "The request body is too large.",
    422: "A parameter or the body does not match this route, or a result row is over the cap.",
    429: "Every query slot (or as_of read) is busy, or the answers in flight hold the "
    "result memory.",
    503: "The server did not reach min_seq in time.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can give (401, 406, 422, 503: all)."""
    wanted = sorted({401, 406, 422, 503, *statuses})
    return {
        status: {"model": ErrorEnvelope, "description": DESCRIPTIONS[status]} for status in wanted
    }


def read_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`errors` for a route reading `Models`: as_of adds 400 (beyond the head) and 429."""
    return errors(400, 429, *statuses)


def served_of(request: Request) -> Served:
    """The server's live read models."""
    live: Served = request.app.state.live
    return live


def current_models(
    request: Request, min_seq: Annotated[Seq | None, Whole, MIN_SEQ] = None
) -> ReadModels:
    """The read models served now, once they reflect `min_seq`: held throughout a request."""
    live = served_of(request)
    if min_seq is None:
        models = live.models
    else:
        wait: float = request.app.state.config.min_seq_wait
        models = live.wait_for(min_seq, wait)
    request.state.watermark = models.seq
    return models


def read_models(
    request: Request,
    min_seq: Annotated[Seq | None, Whole, MIN_SEQ] = None,
    as_of: Annotated[Seq | None, Whole, AS_OF] = None,
) -> Iterator[ReadModels]:
    """The read models a data route reads: the current ones (after `min_seq`), or those as
    of seq `as_of`, whose watermark the answer then carries (see _asof.py)."""
    models = current_models(request, min_seq)
    if as_of is None:
        yield models
        return
    reads: PastReads = request.app.state.as_of
    with reads.at(as_of, models) as past:
        request.state.watermark = past.seq
        yield past


Models = Annotated[ReadModels, Depends(read_models)]
Current = Annotated[ReadModels, Depends(current_models)]  # no as_of: /health, the journal
