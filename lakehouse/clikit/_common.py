"""What every command shares: the store option, --json, output helpers, the error boundary."""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson

from journal import MAX_SEQ, Journal, LakehouseError
from lakehouse._errors import DamageWarning

if TYPE_CHECKING:
    from lakehouse._kernel import Host

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_STORE = "./lakehouse-store"
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class State:
    """Options given before the group name, shared by every command."""

    store: Path
    json: bool = False
    lock_timeout: float = 10.0
    explicit_store: bool = False  # --store was given (the demo then uses it)
    format: str | None = None  # --format of a verb that prints rows (clikit/_output.py)
    # how the root group opens the store (lakehouse/cli/_opening.py)
    opener: Callable[[Path, float], Host] | None = None

    def journal(self, **options: Any) -> Journal:
        """Open the store's journal (StoreNotFound, exit 5, if there is none)."""
        return Journal.open(self.store, **options)

    def open_store(self) -> Host:
        """Open the store under the store lock's --lock-timeout (StoreNotFound, exit 5)."""
        if self.opener is None:
            raise RuntimeError("the root group gave no way to open a store")
        return self.opener(self.store, self.lock_timeout)


def json_option(command: F) -> F:
    """Add `--json` to a command, so it works before or after the command name."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.find_object(State).json = True  # type: ignore[union-attr]

    return click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=remember,
        help="Print one JSON object (NDJSON lines for record streams).",
    )(command)


def state() -> State:
    """The State of the running command."""
    return click.get_current_context().find_object(State)  # type: ignore[return-value]


def emit(obj: Mapping[str, Any], human: Callable[[], None]) -> None:
    """Print `obj` as JSON under --json, else call `human` to print it for people."""
    if state().json:
        click.echo(orjson.dumps(obj).decode())
    else:
        human()


def progress(message: str) -> None:
    """A progress line on stderr, only when stderr is a terminal."""
    if sys.stderr.isatty():
        click.echo(message, err=True)


def report_error(error: LakehouseError, as_json: bool) -> None:
    """`error: ...` and `hint: ...` on stderr; under --json also the error object on stdout."""
    click.echo(f"error: {error.message}", err=True)
    if error.hint:
        click.echo(f"hint: {error.hint}", err=True)
    if as_json:
        click.echo(orjson.dumps({"ok": False, "error": error.to_dict()}).decode())


def show_warning(message: Warning | str, *_where: Any, **_how: Any) -> None:
    """A Python warning as `warning: ...` (and its `hint: ...`) on stderr, no source line.

    It stands in for `warnings.showwarning`, whose category, file and line it ignores.
    """
    click.echo(f"warning: {getattr(message, 'message', message)}", err=True)
    hint = getattr(message, "hint", None)
    if hint:
        click.echo(f"hint: {hint}", err=True)


class LakehouseGroup(click.Group):
    """A click group whose commands turn a LakehouseError into its documented exit code.

    A DamageWarning (damage worked around: the result is right) is always shown, as
    `warning:` and `hint:` lines on stderr; it never changes the exit code.
    """

    def invoke(self, ctx: click.Context) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("always", DamageWarning)
            warnings.showwarning = show_warning
            try:
                return super().invoke(ctx)
            except LakehouseError as error:
                found = ctx.find_object(State)
                report_error(error, bool(found and found.json))
                ctx.exit(error.exit_code)


class InvalidValue(click.BadParameter):
    """An option's value out of its range or of the wrong type: invalid input, exit 3."""

    exit_code = 3


class _Refusing:
    """A param type mixin: `fail` raises InvalidValue (exit 3)."""

    def fail(
        self, message: str, param: click.Parameter | None = None, ctx: click.Context | None = None
    ) -> Any:
        raise InvalidValue(message, ctx=ctx, param=param)


class IntRange(_Refusing, click.IntRange):
    """click.IntRange whose refusals exit 3 (invalid input) rather than 2 (usage)."""


class FloatRange(_Refusing, click.FloatRange):
    """click.FloatRange that also refuses NaN and infinities, exiting 3."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


SEQ = IntRange(0, MAX_SEQ)  # a cursor or an as-of seq


def store_path(value: str | None) -> Path:
    """--store PATH, else $LAKEHOUSE_STORE, else ./lakehouse-store."""
    return Path(value or os.environ.get("LAKEHOUSE_STORE") or DEFAULT_STORE)


def examples(text: str) -> Callable[[F], F]:
    """Append an `Example:` block to a command's help (kept verbatim by click)."""

    def decorate(command: F) -> F:
        lines = "\n".join(f"  {line}" for line in text.strip().splitlines())
        command.__doc__ = f"{(command.__doc__ or '').rstrip()}\n\n\b\nExample:\n{lines}\n"
        return command

    return decorate
