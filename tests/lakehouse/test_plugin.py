"""A family is one folder and one registry entry: a throw-away `widgets` family, written
into a temporary folder here, appears in the store, `lakehouse --help`, `/openapi.json`
and the projection contract suite's parametrisation, and works end to end."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

# the CLI and the server are imported before the registry is patched, as in any real run:
# a module that copied the registry's tuple when it was imported would miss the new family
from lakehouse import Store
from lakehouse.cli import cli
from lakehouse.server import ServerConfig, create_app

# the folder a new family would be under lakehouse/: fold, API, projection, CLI, routes
WIDGETS = {
    "__init__.py": """
        from lh_widgets._plugin import PLUGIN

        __all__ = ["PLUGIN"]
    """,
    "_family.py": """
        from typing import Any

        from journal import Record
        from lakehouse._family import Family, Kind

        MADE = Kind("widget.made")


        class WidgetsFamily(Family[dict[str, Any]]):
            name = "widgets"
            entity = "widget"
            kinds = {MADE.name: MADE}
            creates = frozenset({MADE.name})

            def fold(self, head, record: Record, payload: dict[str, Any]):
                return {"id": record.id, "colour": payload["colour"], "rev": record.rev}


        WIDGETS = WidgetsFamily()
    """,
    "_api.py": """
        from journal import Draft
        from lakehouse._kernel import Decision, Host, Outcome


        class Widgets:
            def __init__(self, store: Host) -> None:
                self._store = store

            def make(self, wid: str, colour: str) -> Outcome:
                def decide(heads):
                    draft = Draft("widget.made", "widget", wid, {"colour": colour}, 1)
                    return Decision([draft], "widget", wid, 1)

                return self._store.execute(decide)
    """,
    "_projection.py": """
        from lakehouse._columns import columns
        from projections import Projection, Table

        TABLE = Table("widgets", columns("id VARCHAR", "colour VARCHAR", "rev BIGINT"), key="id")


        class WidgetsProjection(Projection):
            name = "widgets"
            kinds = frozenset({"widget.made"})
            tables = (TABLE,)

            def apply(self, event, changes) -> None:
                head = event.head
                changes["widgets"].put((head["id"], head["colour"], head["rev"]))
    """,
    "_cli.py": """
        import click

        from lakehouse.clikit import open_store, print_outcome
        from lh_widgets._api import Widgets


        @click.group("widget")
        def widget_group() -> None:
            \"\"\"Widgets: a family added as one folder.\"\"\"


        @widget_group.command("make")
        @click.argument("wid")
        @click.option("--colour", required=True)
        def make(wid: str, colour: str) -> None:
            \"\"\"Make a widget.\"\"\"
            with open_store() as store:
                print_outcome(Widgets(store).make(wid, colour))
    """,
    "_routes.py": """
        from fastapi import APIRouter
        from starlette.responses import Response

        from lakehouse.httpkit import Envelope, Models, Name, Row, read_errors, rows, success

        router = APIRouter()


        @router.get("/v1/widgets/{wid}", response_model=Envelope[Row], responses=read_errors())
        def widget(models: Models, wid: Name) -> Response:
            \"\"\"One widget.\"\"\"
            return success(models.seq, rows(models, "SELECT * FROM widgets WHERE id = ?", [wid])[0])
    """,
    "_plugin.py": """
        from lakehouse._plugin import Plugin
        from lh_widgets._api import Widgets
        from lh_widgets._family import WIDGETS


        def _projections(setup):
            from lh_widgets._projection import WidgetsProjection

            return [WidgetsProjection()]


        def _cli():
            from lh_widgets._cli import widget_group

            return widget_group


        def _routes():
            from lh_widgets._routes import router

            return router


        PLUGIN = Plugin(WIDGETS, "widgets", Widgets, _projections, "widget", _cli, _routes)
    """,
}


@pytest.fixture
def widgets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The widgets folder on the path, and its one entry in the registry."""
    import lakehouse._registry as registry

    folder = tmp_path / "src" / "lh_widgets"
    folder.mkdir(parents=True)
    for name, text in WIDGETS.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    monkeypatch.syspath_prepend(str(folder.parent))
    from lh_widgets import PLUGIN  # type: ignore[import-not-found]

    monkeypatch.setattr(registry, "PLUGINS", (*registry.PLUGINS, PLUGIN))
    yield
    for module in [name for name in sys.modules if name.startswith("lh_widgets")]:
        del sys.modules[module]


def test_a_family_in_one_folder_appears_everywhere_and_works(widgets: None, tmp_path: Path) -> None:
    from lakehouse._registry import projections as registry_projections
    from tests.server.conftest import TestClient

    # the projection contract suite parametrises over exactly this list
    names = [projection.name for projection in registry_projections(Path("unused"))]
    assert names[-1] == "widgets" and "traces" in names

    runner = CliRunner()
    shown = runner.invoke(cli, ["--help"], prog_name="lakehouse")
    assert shown.exit_code == 0 and "widget " in shown.stdout and "a family added" in shown.stdout

    root = tmp_path / "store"
    Store.open(root, create=True).close()
    made = runner.invoke(cli, ["--store", str(root), "widget", "make", "w1", "--colour", "red"])
    assert made.exit_code == 0, made.output
    assert "widget w1 rev 1 at seq" in made.stdout

    with Store.open(root) as store:
        assert store.widgets.make("w2", "blue").rev == 1  # type: ignore[attr-defined]
        assert store.sql("SELECT id, colour FROM widgets ORDER BY id").rows() == [
            ("w1", "red"),
            ("w2", "blue"),
        ]

    with TestClient(create_app(ServerConfig(root, watch=False))) as client:
        assert "/v1/widgets/{wid}" in client.get("/openapi.json").json()["paths"]
        answer = client.get("/v1/widgets/w1").json()
        assert answer["ok"] and answer["data"] == {"id": "w1", "colour": "red", "rev": 1}


def test_without_the_entry_the_family_is_nowhere(tmp_path: Path) -> None:
    """The check above is not vacuous: the registry alone decides."""
    from lakehouse._registry import projections as registry_projections

    assert "widgets" not in [p.name for p in registry_projections(Path("unused"))]
    assert "widget " not in CliRunner().invoke(cli, ["--help"]).stdout
