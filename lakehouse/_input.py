"""Input models: pydantic validation whose every refusal names the field at fault."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from lakehouse._errors import InvalidInput

M = TypeVar("M", bound="Input")


class Input(BaseModel):
    """Base of every command's input: unknown fields are refused, values are strict."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def parse(model: type[M], data: dict[str, Any], *, what: str) -> M:
    """Validate `data` as `model`; raise InvalidInput naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise InvalidInput(
            f"{what}: {field}: {message}" if field else f"{what}: {message}",
            hint=_hint(error),
            field=field or what,
            errors=len(exc.errors()),
        ) from exc


def exact_json(value: Any) -> Any:
    """`value` if JSON stores it exactly; else ValueError (for a pydantic validator).

    orjson refuses ints beyond 64 bits and lone surrogates, and writes NaN and Infinity as
    null: a value that does not come back equal would not be what the caller stored.
    """
    try:
        stored = orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"cannot be stored as JSON: {exc}") from exc
    if orjson.loads(stored) != value:
        raise ValueError("holds a value JSON cannot store exactly (NaN or Infinity?)")
    return value


def parse_json(text: str, *, field: str) -> Any:
    """Parse a JSON argument; raise InvalidInput naming the option if it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"{field} is not valid JSON: {exc}",
            hint=f'pass {field} as a JSON value, e.g. \'{{"key": "value"}}\'',
            field=field,
        ) from exc


def _hint(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "add the missing field"
    if kind == "extra_forbidden":
        return "remove the unknown field (check its spelling)"
    return "fix the value and retry"
