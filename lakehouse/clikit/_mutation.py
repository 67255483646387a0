"""What every mutation verb shares: --if-rev, --idempotency-key, the store, the outcome line."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lakehouse.clikit._common import emit, state

if TYPE_CHECKING:
    from lakehouse._kernel import Host, Outcome

F = TypeVar("F", bound=Callable[..., Any])


def mutation_options(command: F) -> F:
    """Add --if-rev N and --idempotency-key K to a mutation verb."""
    command = click.option(
        "--idempotency-key",
        metavar="K",
        help="A retry with the same key appends nothing and prints the first result.",
    )(command)
    return click.option(
        "--if-rev",
        type=int,  # its range is the command model's (exit 3, naming if_rev)
        metavar="N",
        help="Refuse (exit 4) unless the entity is at rev N.",
    )(command)


def open_store() -> Host:
    """Open the store named by --store (exit 5 if there is none), as the root group
    opens it: a family's CLI sees the store only as a Host, through its own API."""
    return state().open_store()


def print_outcome(outcome: Outcome) -> None:
    """One line for people (what was written, at which seq), or the outcome as JSON."""
    head = {"head": outcome.head} if outcome.head is not None else {}
    emit({**outcome.to_dict(), **head}, lambda: click.echo(describe(outcome)))


def describe(outcome: Outcome) -> str:
    """The human line for an outcome."""
    what = f"{outcome.entity} {outcome.id} rev {outcome.rev}"
    if outcome.replayed:
        return f"{what} at seq {outcome.seq} (idempotency key seen before; nothing appended)"
    if not outcome.appended:
        return f"{what}: already so, nothing appended"
    return f"{what} at seq {outcome.seq}"


def print_head(
    head: Mapping[str, Any], render: dict[str, Callable[[Any], str]] | None = None
) -> None:
    """An entity's head as `key value` lines for people (a field may have its own
    rendering), or as one JSON object."""

    def human() -> None:
        for key, value in head.items():
            text = render[key](value) if render and key in render else value
            click.echo(f"{key:<16}{text}")

    emit(head, human)
