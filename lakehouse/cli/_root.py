"""The root group: the store's own verbs, and each family's group from the registry."""

from __future__ import annotations

import click

from lakehouse.cli._checkpoint import checkpoint_group
from lakehouse.cli._demo import demo
from lakehouse.cli._doctor import doctor
from lakehouse.cli._init import init
from lakehouse.cli._journal import journal_group
from lakehouse.cli._opening import open_at
from lakehouse.cli._projections import projections_group
from lakehouse.cli._segments import segments_group
from lakehouse.cli._serve import serve
from lakehouse.cli._sql import sql
from lakehouse.cli._tables import tables
from lakehouse.clikit import (
    CONTEXT,
    FloatRange,
    LakehouseGroup,
    State,
    examples,
    store_path,
)


class RootGroup(LakehouseGroup):
    """The `lakehouse` group: its own verbs, and each family's group from the registry,
    imported only when it is run or listed (a `trace add` loads no other family's CLI)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from lakehouse._registry import PLUGINS

        return sorted({*self.commands, *(plugin.command for plugin in PLUGINS)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from lakehouse._registry import PLUGINS

        for plugin in PLUGINS:
            if plugin.command == cmd_name:
                group: click.Command = plugin.cli()
                return group
        return super().get_command(ctx, cmd_name)


@click.group(cls=RootGroup, context_settings=CONTEXT)
@click.option(
    "--store",
    metavar="PATH",
    help="Store root. Default: $LAKEHOUSE_STORE, else ./lakehouse-store.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per result.")
@click.option(
    "--lock-timeout",
    type=FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long a mutation waits for the store lock before exit 6 (store busy).",
)
@click.version_option(package_name="lakehouse-journal", prog_name="lakehouse")
@click.pass_context
@examples("""
lakehouse init
lakehouse --store /data/lh journal tail --follow
""")
def cli(ctx: click.Context, store: str | None, as_json: bool, lock_timeout: float) -> None:
    """A local-first, event-sourced store: every change is a record in a crash-safe journal."""
    ctx.obj = State(
        store_path(store),
        as_json,
        lock_timeout,
        explicit_store=store is not None,
        opener=open_at,
    )


for command in (
    init,
    sql,
    tables,
    projections_group,
    checkpoint_group,
    journal_group,
    segments_group,
    serve,
    doctor,
    demo,
):
    cli.add_command(command)


def main() -> None:
    """Entry point of the `lakehouse` console script."""
    cli(prog_name="lakehouse")
