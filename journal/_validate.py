"""Validation of a record before it is written: every refusal names the field at fault.

A payload must round-trip exactly through JSON: dict, list, str, int (64-bit), finite
float, bool and None only. The fast check walks the payload once; the slow path, run
only on refusal, walks it again to name the exact path (``payload.v[1].x``).
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from journal._errors import DraftInvalid, PayloadInvalid
from journal._record import Draft

_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_ENTITY = re.compile(r"[a-z][a-z0-9_]*")
_dumps = orjson.dumps


def check_draft(draft: Draft, *, internal: bool = False) -> bytes:
    """Validate a draft and return its payload as JSON bytes; raise InvalidRecord if bad."""
    kind, entity, id_, payload, rev, v = draft
    if (kind, entity) not in _good_names:
        _check_names(kind, entity, internal=internal)
    if type(id_) is not str or not id_ or len(id_) > 256:
        raise DraftInvalid(
            f"id {id_!r} must be a non-empty string of at most 256 characters",
            hint="pass the entity's id as a string",
            field="id",
        )
    _check_text(id_, "id")
    for name, value in (("rev", rev), ("v", v)):
        if type(value) is not int or not 0 <= value < 2**63:
            raise DraftInvalid(
                f"{name} {value!r} must be an integer from 0 to 2**63 - 1",
                hint=f"pass {name} as a non-negative int",
                field=name,
            )
    if type(payload) is not dict:
        raise PayloadInvalid(
            f"payload must be a JSON object, got {type(payload).__name__}",
            hint="wrap the value in a dict",
            field="payload",
        )
    if not _plain_json(payload):
        _check_json(payload, "payload")
    try:
        return _dumps(payload)
    except orjson.JSONEncodeError as exc:
        _check_json(payload, "payload")  # names the field
        raise PayloadInvalid(  # what the check above does not know, orjson's words
            f"payload cannot be stored as JSON: {exc}",
            hint="strings must be valid Unicode (no lone surrogates); ints fit in 64 bits",
            field="payload",
        ) from exc


_good_names: set[tuple[str, str]] = set()


def _check_names(kind: Any, entity: Any, *, internal: bool) -> None:
    """Check a kind and an entity name once; remember the pairs that passed."""
    if type(kind) is not str or not _KIND.fullmatch(kind):
        raise DraftInvalid(
            f"kind {kind!r} is not a dotted lower-case name",
            hint="use a kind like 'trace.added': family, dot, event",
            field="kind",
        )
    if kind.startswith("journal.") and not internal:
        raise DraftInvalid(
            f"kind {kind!r} is reserved for the journal's own notes",
            hint="choose a kind outside the 'journal.' namespace",
            field="kind",
        )
    if type(entity) is not str or not _ENTITY.fullmatch(entity):
        raise DraftInvalid(
            f"entity {entity!r} is not a lower-case name",
            hint="use an entity name like 'trace' or 'dataset'",
            field="entity",
        )
    if len(_good_names) > 10_000:
        _good_names.clear()
    if not kind.startswith("journal."):
        _good_names.add((kind, entity))


def _plain_json(payload: dict[str, Any]) -> bool:
    """True if every value is a JSON type that round-trips exactly (the fast check)."""
    stack: list[Any] = [payload.values()]
    while stack:
        for item in stack.pop():
            kind = type(item)
            if kind is str or kind is int or kind is bool or item is None:
                continue
            if kind is float:
                if item - item != 0.0:  # NaN and +-Infinity; finite x - x is 0.0
                    return False
            elif kind is dict:
                stack.append(item.values())
            elif kind is list:
                stack.append(item)
            else:
                return False
    return True


_MAX_DEPTH = 254  # orjson refuses to nest containers deeper
_INT_RANGE = range(-(2**63), 2**64)  # what orjson stores as an exact integer


def _check_json(payload: dict[str, Any], path: str) -> None:
    """Find what would not round-trip exactly through JSON and name where it is.

    The slow path, run only when the fast check or orjson refused the payload.
    """
    stack: list[tuple[Any, str, int]] = [(payload, path, 1)]
    while stack:
        value, where, depth = stack.pop()
        kind = type(value)
        if kind is str:
            _check_text(value, where)
        elif kind is int and value not in _INT_RANGE:
            raise PayloadInvalid(
                f"{where} is {value}, beyond a 64-bit integer",
                hint="store a big number as a string",
                field=where,
            )
        elif kind is float and not math.isfinite(value):
            raise PayloadInvalid(
                f"{where} is {value!r}; JSON has no NaN or Infinity",
                hint="store a finite number, or null for a missing value",
                field=where,
            )
        elif kind is dict or kind is list:
            if depth > _MAX_DEPTH:
                raise PayloadInvalid(
                    f"{where} nests containers deeper than {_MAX_DEPTH} levels",
                    hint="flatten the payload",
                    field=where,
                )
            stack.extend(_children(value, where, depth + 1))
        elif kind not in (int, float, bool, type(None)):
            raise PayloadInvalid(
                f"{where} is a {kind.__name__}, which JSON cannot store exactly",
                hint="use only dict, list, str, int, finite float, bool and None",
                field=where,
            )


def _children(value: Any, where: str, depth: int) -> list[tuple[Any, str, int]]:
    if type(value) is list:
        return [(item, f"{where}[{index}]", depth) for index, item in enumerate(value)]
    for key in value:
        if type(key) is not str:
            raise PayloadInvalid(
                f"{where} has a non-string key {key!r}",
                hint="JSON object keys are strings",
                field=where,
            )
        _check_text(key, where)
    return [(item, f"{where}.{key}", depth) for key, item in value.items()]


def _check_text(text: str, where: str) -> None:
    """Refuse a string that is not valid Unicode (a lone surrogate cannot be UTF-8)."""
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        raise (DraftInvalid if where == "id" else PayloadInvalid)(
            f"{where} holds a lone surrogate ({text[exc.start]!r}): not valid Unicode",
            hint="decode the text properly; surrogates come in pairs only in UTF-16",
            field=where,
        ) from exc
