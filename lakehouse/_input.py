"""Input models: pydantic validation whose every refusal names the field at fault.

Two rules besides the models' own: an integer that reaches a record fits the column its
read model gives it (`Count`, `Rev`: BIGINT, whose range is the journal's too), and a
JSON number is kept exactly or refused, naming its path (`parse_json`, `exact_json`):
orjson would read an integer beyond 64 bits as a float, and a number beyond a double's
range as infinity, changing the value the user gave without a word.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, TypeVar

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, ValidationError
from pydantic_core import PydanticCustomError

from lakehouse._errors import InvalidInput

M = TypeVar("M", bound="Input")

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1  # DuckDB BIGINT, Arrow int64: the read models
JSON_INT_MIN, JSON_INT_MAX = -(2**63), 2**64 - 1  # what a record's JSON (orjson) holds exactly
NUMBER_HINT = 'store a number this big (or this precise) as a string, e.g. "18446744073709551616"'


def _tuple_as_list(value: Any) -> Any:
    """A tuple where the API promises `list | tuple`; anything else is left to the model."""
    return list(value) if type(value) is tuple else value


def _exact_float(value: Any) -> Any:
    """An int a double holds exactly becomes one; any other int is refused, not rounded."""
    if type(value) is not int:
        return value
    try:
        converted = float(value)
    except OverflowError:
        converted = math.inf
    if converted != value:
        raise PydanticCustomError(
            "float_inexact",
            "the number {number} does not fit a double exactly",
            {"number": _show(value), "hint": NUMBER_HINT},
        )
    return converted


Count = Annotated[int, Field(ge=0, le=BIGINT_MAX)]  # a number of things, in a BIGINT column
Rev = Annotated[int, Field(ge=0, le=BIGINT_MAX)]  # an entity's rev (the journal's bound too)
# a list of names: a tuple is taken as the list it is, a string is refused (not split)
Names = Annotated[list[StrictStr], BeforeValidator(_tuple_as_list)]
# a float the caller may give as an int, if a double holds that int exactly
ExactFloat = Annotated[float, BeforeValidator(_exact_float), Field(allow_inf_nan=False)]


class Input(BaseModel):
    """Base of every command's input: unknown fields are refused, values are strict."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Mutation(Input):
    """The options every mutation verb takes: --if-rev and --idempotency-key."""

    if_rev: Rev | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=256)


def mutation(what: str, if_rev: Any, idempotency_key: Any) -> Mutation:
    """Validate a verb's --if-rev and --idempotency-key (InvalidInput names the bad one)."""
    return parse(Mutation, {"if_rev": if_rev, "idempotency_key": idempotency_key}, what=what)


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
    """`value` if JSON stores it exactly; else a pydantic error naming the path at fault.

    orjson refuses ints beyond 64 bits and lone surrogates, and writes NaN and Infinity as
    null: a value that does not come back equal would not be what the caller stored.
    """
    try:
        stored = orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        _refuse_number(value)
        raise ValueError(f"cannot be stored as JSON: {exc}") from exc
    if orjson.loads(stored) != value:
        _refuse_number(value)
        raise ValueError("holds a value JSON cannot store exactly")
    return value


def _refuse_number(value: Any) -> None:
    """Raise a pydantic error naming the first number in `value` that JSON cannot hold."""
    problem = _number_problem(value)
    if problem is not None:
        raise PydanticCustomError("json_number", problem, {"hint": NUMBER_HINT})


def parse_json(text: str, *, field: str) -> Any:
    """Parse a JSON argument exactly; raise InvalidInput naming the option, or the path
    of a number that cannot be kept as it was written."""
    try:
        orjson.loads(text)  # the strict parser: valid UTF-8, no NaN, no lone surrogates
    except orjson.JSONDecodeError as exc:
        if "infinity" not in str(exc):  # a number beyond a double: found and named below
            raise InvalidInput(
                f"{field} is not valid JSON: {exc}",
                hint=f'pass {field} as a JSON value, e.g. \'{{"key": "value"}}\'',
                field=field,
            ) from exc
    try:
        # the json module keeps every integer exact and every float's text, so the walk
        # below can name a number orjson would have changed
        value = json.loads(text, parse_float=_float_or_text)
    except (ValueError, RecursionError) as exc:  # more than 4300 digits, or too deep
        raise InvalidInput(
            f"{field} cannot be read exactly: {exc}", hint=NUMBER_HINT, field=field
        ) from exc
    problem = _number_problem(value)
    if problem is not None:
        raise InvalidInput(f"{field}: {problem}", hint=NUMBER_HINT, field=field)
    return value


class _Unfit(str):
    """The text of a float literal a double cannot hold (1e400): kept to be named."""


def _float_or_text(text: str) -> float | _Unfit:
    number = float(text)
    return number if math.isfinite(number) else _Unfit(text)


def _number_problem(value: Any) -> str | None:
    """What is wrong with the first number JSON cannot hold exactly, at its path; or None."""
    try:
        return _walk(value, "")
    except RecursionError:  # nested deeper than the walk can go: no number was named
        return "value: nested too deeply to check its numbers"


def _walk(value: Any, path: str) -> str | None:
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            found = _walk(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif kind is list:
        for index, item in enumerate(value):
            found = _walk(item, f"{path}[{index}]")
            if found is not None:
                return found
    elif kind is int and not JSON_INT_MIN <= value <= JSON_INT_MAX:
        return f"{path or 'value'}: the number {_show(value)} does not fit in 64 bits"
    elif kind is _Unfit:
        return f"{path or 'value'}: the number {value} is beyond what a double holds"
    elif kind is float and not math.isfinite(value):
        return f"{path or 'value'}: the number {value} is not finite (JSON has no {value})"
    return None


def _show(number: int) -> str:
    text = str(number) if number.bit_length() < 4000 else f"of {number.bit_length()} bits"
    return text if len(text) <= 40 else f"{text[:20]}...{text[-8:]} ({len(text)} digits)"


def _hint(error: Any) -> str:
    kind = error["type"]
    given = (error.get("ctx") or {}).get("hint")
    if isinstance(given, str):
        return given
    if kind == "missing":
        return "add the missing field"
    if kind == "extra_forbidden":
        return "remove the unknown field (check its spelling)"
    return "fix the value and retry"
