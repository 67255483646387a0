"""The Python read API: `store.sql`, `store.datasets.read`, and the README's example.

`store.sql` goes through the guard `lakehouse sql` uses (the same refusals, the same
errors) and binds `params` to `?` placeholders; the README's example is run as written,
in a temp directory, and each `# -> ...` comment in it must be what it prints.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse import InvalidInput, NotFound, Store
from projections import QueryFailed, QueryRefused

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    """The python block after the README's `<!-- read-api-example -->` marker."""
    text = README.read_text()
    found = re.search(r"<!-- read-api-example -->\n```python\n(.*?)\n```", text, re.DOTALL)
    assert found, "the README lost its read API example"
    return found.group(1)


def test_the_readme_example_runs_and_prints_what_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = readme_example()
    assert 15 <= len(code.splitlines()) <= 30
    expected = [line.split("# -> ", 1)[1] for line in code.splitlines() if "# -> " in line]
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    assert printed.getvalue().splitlines() == expected


@pytest.fixture
def lake(store: Path, tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(store, checkpoint_every=0, durability="none")
    source = tmp_path / "staff.csv"
    source.write_text("name,rate\nAda,92.5\nGrace,88\n")
    opened.datasets.ingest("staff", source)
    yield opened
    opened.close()


def test_sql_binds_params_and_keeps_repeated_names(lake: Store) -> None:
    result = lake.sql("SELECT name AS x, rate AS x FROM staff WHERE rate > ?", params=[90])
    assert result.columns == [("x", "VARCHAR"), ("x", "DOUBLE")]
    assert result.table.column_names == ["x", "x"]
    assert result.rows() == [("Ada", 92.5)]
    assert result.watermark == lake.journal.head_seq
    assert json.loads(lake.sql("SELECT ? AS n", params=["1"], format="json"))["rows"] == [["1"]]


def test_sql_is_guarded_like_the_cli(lake: Store) -> None:
    with pytest.raises(QueryRefused, match="DELETE statements are refused"):
        lake.sql("DELETE FROM journal")
    with pytest.raises(QueryRefused, match=r"table function read_csv\(\) is refused"):
        lake.sql("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(QueryFailed):
        lake.sql("SELECT ?", params=[])
    with pytest.raises(InvalidInput, match="format 'xml' is not one of"):
        lake.sql("SELECT 1", format="xml")  # type: ignore[call-overload]
    with pytest.raises(InvalidInput, match="params must be a list"):
        lake.sql("SELECT ?", params="1")


def test_sql_as_of_an_earlier_seq(lake: Store) -> None:
    first = lake.traces.add(text="one").seq
    lake.traces.add(text="two")
    assert lake.sql("SELECT count(*) FROM traces", as_of=first).rows() == [(1,)]
    assert lake.sql("SELECT count(*) FROM traces").rows() == [(2,)]


def test_datasets_read_gives_the_rows_as_stored(lake: Store) -> None:
    table = lake.datasets.read("staff")
    assert isinstance(table, pa.Table)
    assert table.to_pydict() == {"name": ["Ada", "Grace"], "rate": [92.5, 88.0]}
    lake.datasets.drop("staff")
    with pytest.raises(NotFound, match="dataset 'staff' was dropped"):
        lake.datasets.read("staff")
    with pytest.raises(NotFound):
        lake.datasets.read("nobody")
