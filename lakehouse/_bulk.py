"""A fold from genesis in bulk: the projections' tables and the heads computed in SQL.

Folding the journal record by record through Python costs a few microseconds a record in
every projection and in the heads, so a rebuild of a long history ran at a hundredth of
the speed of a plain parse loop (tools/bench/projection_bench.py row B). A family that
declares its fold in SQL (`lakehouse._family.Bulk`), and projections that declare their
tables in SQL over it (`Projection.columnar`), are folded here instead, in one pass of
DuckDB over the segments (`read_json`, on every core), while the projections without
SQL (the raw journal, the catalog) are folded record by record as always, in this
thread, with the heads of the families without SQL. That Python fold reads the journal
through its reader, so every record's CRC, seq order and batch atomicity are checked as
they always are.

The SQL answer is used only where it is exactly what the Python fold would give, else
this returns None and the caller folds record by record:
- the reader reported nothing (no damage, no gap) and DuckDB read exactly the records
  it handed out (their count, and the sum of their seqs and of their squares), each
  record's envelope of the types its writer gives it (strings, and BIGINT rev and v);
- no record of a family folded in SQL is one its SQL refuses (a kind or schema version
  it does not know, an entity no record created, a value of a type its projection would
  refuse: those records go to each projection's policy, which only the Python fold does);
- every projection reading such a family's records declares SQL for all its tables.
tests/lakehouse/test_bulk.py checks both folds give equal tables, heads and checkpoints
on random histories, and that each kind of refusal falls back.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from journal import check_dir, remove_tree
from lakehouse._family import Family
from lakehouse._heads import KEYS
from lakehouse._readmodels import Fold, connect_models
from projections import INTERNAL, Projection, quote

if TYPE_CHECKING:
    import duckdb

    from lakehouse._kernel import Engine

RECORDS = "records"  # the raw records, as the families' SQL reads them
SPILL = "spill-"  # projections/cache/spill-<pid>-<random>/: where a fold in bulk spills
MEMORY_ENV = "LAKEHOUSE_FOLD_MEMORY"
# DuckDB's share of a fold in bulk: at 1M records, 1GB held the rebuild's peak RSS to
# 1.9 GiB at 1.2x the time it took unbounded (tools/bench/projection_bench.py row F)
MEMORY_BUDGET = "1GB"
_COLUMNS = {  # the columns of a record the SQL reads (the crc it does not)
    "seq": "BIGINT",
    "ts": "VARCHAR",
    "writer": "VARCHAR",
    "kind": "VARCHAR",
    "entity": "VARCHAR",
    "id": "VARCHAR",
    "rev": "BIGINT",
    "v": "BIGINT",
    "payload": "JSON",
}
# DuckDB writes a JSON value back as text in its own way, which differs from orjson's (the
# journal's) only in numbers written with an exponent, small or long numbers and \u00XX
# escapes: a payload whose text has any of these is written again by orjson, so every
# payload is the text the journal holds (tests/lakehouse/test_bulk.py tries every kind)
_UNLIKE_ORJSON = (
    r"[:,\[]-?0\.000|[:,\[]-?[0-9]+(\.[0-9]+)?[eE]|[:,\[]-?[0-9]{16}|\\u00[0-9a-fA-F]{2}"
)
_MAX_LINE = 1 << 20  # above the journal's 256 KiB refusal, so no record is cut short


@dataclass
class BulkFold:
    """What a fold in bulk made: the DuckDB connection holding the SQL tables (build the
    read models on it), the folds (the first holds every family's heads) and the spill
    directory DuckDB may write to beyond its memory budget. `close` lets go of them all."""

    con: duckdb.DuckDBPyConnection
    folds: list[Fold]
    root: Path
    spill: str  # relative to the root

    def close(self) -> None:
        """Close the connection and the folds, and remove the spill directory."""
        self.con.close()
        for done in self.folds:
            done.close()
        with contextlib.suppress(OSError):
            remove_tree(self.root, self.spill)


def memory_budget() -> str:
    """The memory DuckDB may use for a fold in bulk before it spills to disk: $LAKEHOUSE_FOLD_MEMORY
    (a DuckDB size, e.g. 2GB), else MEMORY_BUDGET."""
    return os.environ.get(MEMORY_ENV) or MEMORY_BUDGET


def bulk_fold(store: Engine, projections: list[Projection], *, upto: int) -> BulkFold | None:
    """Fold `projections` from genesis to `upto` in bulk, or None to fold them record by
    record (see the module's docstring for when)."""
    bulk = [family for family in store.families if family.bulk is not None]
    owner = {kind: family for family in store.families for kind in family.kinds}
    sql: list[Projection] = []
    python: list[Projection] = []
    for projection in projections:
        families = {owner.get(kind) for kind in projection.kinds} if projection.kinds else None
        reads_bulk = families is None or any(f in bulk for f in families)
        tables = {table.name for table in projection.tables}
        # SQL for every table, over records of families folded in SQL or over the raw ones
        raw = not projection.uses_heads
        if set(projection.columnar) == tables and (raw or (families or set()) <= set(bulk)):
            sql.append(projection)
        elif reads_bulk and projection.uses_heads:
            return None  # it needs the heads of families folded in SQL, record by record
        else:
            python.append(projection)
    if not bulk or not sql:
        return None
    # beyond its budget DuckDB spills into the store (DESIGN §3: nothing outside it is
    # written), in a directory of this fold's own that doctor names if it is left behind
    spill = f"projections/cache/{SPILL}{os.getpid()}-{secrets.token_hex(4)}"
    check_dir(store.root, "projections/cache", create=True)
    directory = check_dir(store.root, spill, create=True)
    con = connect_models(store.root, locked=False)
    result = BulkFold(con, [], store.root, spill)
    try:
        con.execute("SET temp_directory = ?", [str(directory)])
        con.execute("SET memory_limit = ?", [memory_budget()])
        folds = _fold(store, con, bulk, sql=sql, python=python, upto=upto)
    except BaseException:
        result.close()
        raise
    if folds is None:
        result.close()
        return None
    result.folds = folds
    return result


def _fold(
    store: Engine,
    con: duckdb.DuckDBPyConnection,
    bulk: list[Family[Any]],
    *,
    sql: list[Projection],
    python: list[Projection],
    upto: int,
) -> list[Fold] | None:
    others = [family for family in store.families if family not in bulk]
    rest = Fold(store, None, python, families=others)
    rest.check_envelopes = True
    done = Fold(store, None, sql)
    try:
        # DuckDB works on its own threads (it lets go of the GIL) while this one folds
        built: list[tuple[int, int, int] | BaseException | None] = []
        worker = threading.Thread(
            target=_build, args=(store, con, bulk, done, upto, built), name="bulk-fold"
        )
        worker.start()
        try:
            rest.advance(upto)
        finally:
            worker.join()
        if isinstance(built[0], BaseException):
            raise built[0]
        reading = rest.reading
        if (
            built[0] is None
            or reading is None
            or reading.findings
            or rest.tally != built[0]
            or not rest.envelopes_ok
        ):
            done.close()
            rest.close()
            # refused, or the reader saw damage, or DuckDB read other records, or read an
            # envelope value it would have made text or NULL (a number for an id, say)
            return None
        _heads(con, bulk, done, upto)
        _merge_heads(done, rest)
    except BaseException:
        done.close()
        rest.close()
        raise
    return [done, rest] if python else [done]


def _build(  # noqa: PLR0917 - a thread's target takes its arguments by position
    store: Engine,
    con: duckdb.DuckDBPyConnection,
    bulk: list[Family[Any]],
    done: Fold,
    upto: int,
    out: list[tuple[int, int, int] | BaseException | None],
) -> None:
    """Load the records and build every SQL table: the loaded seqs' tally, or None if
    the families' SQL refuses a record (see `_refused`) or DuckDB fails."""
    import duckdb

    try:
        tally = _load(store, con, upto)
        con.execute(f"SET schema = '{INTERNAL}'")
        for family in bulk:
            assert family.bulk is not None
            for statement in family.bulk.prepare:
                con.execute(statement)
        if _refused(con, bulk):
            out.append(None)
            return
        _tables(con, bulk, done, upto)
        out.append(tally)
    except duckdb.Error:
        # a segment that vanished (archived) or a value the SQL could not convert: the
        # record-by-record fold knows what to do with either
        out.append(None)
    except BaseException as error:  # handed to the folding thread, which raises it
        out.append(error)


def _load(store: Engine, con: duckdb.DuckDBPyConnection, upto: int) -> tuple[int, int, int]:
    """Read every record up to `upto` into the `records` table; its seqs' tally."""
    archived, _ = store.journal.archived()
    live, _ = store.journal.segments()
    paths = [str(segment.path) for segment in sorted({*archived, *live})]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {INTERNAL}")
    columns = "{" + ", ".join(f"'{k}': '{t}'" for k, t in _COLUMNS.items()) + "}"
    # a torn tail is not JSON: skipped here as the reader skips it (the tally then tells
    # whether both read the same records)
    source = (
        f"read_json(?, format='newline_delimited', columns={columns}, "
        f"ignore_errors=true, maximum_object_size={_MAX_LINE})"
    )
    con.execute(
        f"CREATE TABLE {INTERNAL}.{RECORDS} AS SELECT * FROM {source} WHERE seq <= ?",
        [paths, upto],
    )
    _orjson_payloads(con)
    row = con.execute(
        f"SELECT count(*), coalesce(sum(seq), 0), coalesce(sum(seq::HUGEINT * seq), 0) "
        f"FROM {INTERNAL}.{RECORDS}"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _orjson_payloads(con: duckdb.DuckDBPyConnection) -> None:
    """Make every payload the text orjson writes for it (see _UNLIKE_ORJSON)."""
    import pyarrow as pa

    unlike = con.execute(
        f"SELECT seq, payload FROM {INTERNAL}.{RECORDS} WHERE regexp_matches(payload, ?)",
        [_UNLIKE_ORJSON],
    ).fetchall()
    if not unlike:
        return
    texts = [orjson.dumps(orjson.loads(text)).decode() for _, text in unlike]
    con.register("_orjson", pa.table({"seq": [seq for seq, _ in unlike], "text": texts}))
    try:
        con.execute(
            f"UPDATE {INTERNAL}.{RECORDS} r SET payload = o.text FROM _orjson o WHERE r.seq = o.seq"
        )
    finally:
        con.unregister("_orjson")


def _refused(con: duckdb.DuckDBPyConnection, bulk: list[Family[Any]]) -> bool:
    """True if a record of a family folded in SQL is one its SQL cannot take exactly."""
    known = ", ".join(
        f"('{kind.name}', {kind.version})" for family in bulk for kind in family.kinds.values()
    )
    entities = ", ".join(f"'{family.entity}'" for family in bulk)
    queries = [
        f"SELECT seq FROM {RECORDS} WHERE entity IN ({entities}) AND (ts IS NULL "
        f"OR id IS NULL OR rev IS NULL OR (kind, v) NOT IN ({known}))"
    ]
    queries += [family.bulk.refusals for family in bulk if family.bulk is not None]
    return any(con.execute(f"SELECT 1 FROM ({q}) LIMIT 1").fetchone() for q in queries)


def _tables(con: duckdb.DuckDBPyConnection, bulk: list[Family[Any]], done: Fold, upto: int) -> None:
    """Build every SQL table, as `done`'s parts' base relations."""
    for family in bulk:
        assert family.bulk is not None
        for relation, source, target in family.bulk.sorted_json:
            _sort_json(con, relation, source, target)
    for part in done.parts:
        relations: dict[str, str] = {}
        for table in part.projection.tables:
            name = f"{INTERNAL}.{quote('_bulk_' + table.name)}"
            typed = ", ".join(
                f"CAST({quote(column.name)} AS {column.type}) AS {quote(column.name)}"
                for column in table.columns
            )
            select = part.projection.columnar[table.name]
            con.execute(f"CREATE TABLE {name} AS SELECT {typed} FROM ({select})")
            relations[table.name] = name
        part.base_relations = relations
        part.changes.watermark = upto


def _heads(con: duckdb.DuckDBPyConnection, bulk: list[Family[Any]], done: Fold, upto: int) -> None:
    """Every head of the families folded in SQL, and their idempotency keys, into `done`."""
    heads, loads, dumps, option = done.heads, orjson.loads, orjson.dumps, orjson.OPT_SORT_KEYS
    for family in bulk:
        assert family.bulk is not None
        for table, values in family.bulk.heads(con).items():
            # written again by orjson, keys sorted at every level: the bytes the snapshot
            # writer makes of a head folded in Python (tests/lakehouse/test_heads_snapshot.py).
            # Copied into a bytes object of its own size: the one orjson returns keeps the
            # whole of its growing buffer (~8 KB a head), which took a 1M-record rebuild
            # from 1.2 to 7.6 GiB (tools/bench/projection_bench.py row F)
            encoded = {
                key: bytes(memoryview(dumps(loads(text), option=option)))
                for key, text in values.items()
            }
            heads.put(table, encoded, encoded=True)
    heads.put(KEYS, _keys(con, bulk))
    heads.seq = done.seq = upto
    con.execute(f"DROP TABLE {RECORDS}")
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall():
        con.execute(f"DROP TABLE temp.main.{quote(name)}")
    con.execute("SET schema = 'main'")


def _merge_heads(done: Fold, rest: Fold) -> None:
    """Take the heads the Python fold folded (of the families without SQL) into `done`'s;
    an idempotency key both folds saw is the one of the later record, as `Heads` has it."""
    heads = done.heads
    for table, values in rest.heads.changed().items():
        taken = values
        if table == KEYS:
            taken = {
                key: result
                for key, result in values.items()
                if (mine := heads.idempotent(key)) is None or mine["seq"] < result["seq"]
            }
        heads.put(table, taken)


def _sort_json(con: duckdb.DuckDBPyConnection, table: str, source: str, target: str) -> None:
    """Fill `target` with the JSON of `source` as compact text with sorted keys."""
    import pyarrow as pa

    values = [row[0] for row in con.execute(f"SELECT DISTINCT {source} FROM {table}").fetchall()]
    texts = [v for v in values if v is not None]

    def sort(text: str) -> str:
        return orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS).decode()

    mapping = pa.table({"raw": texts, "text": [sort(text) for text in texts]})
    con.register("_sorted_json", mapping)
    try:
        con.execute(
            f"UPDATE {table} SET {target} = m.text FROM _sorted_json m "
            f"WHERE {table}.{source}::VARCHAR = m.raw"
        )
    finally:
        con.unregister("_sorted_json")


_KEYS = """
SELECT json_extract_string(payload, '$.idempotency.key') AS key,
    arg_max([seq::VARCHAR, kind, entity, id, rev::VARCHAR,
        json_extract(payload, '$.idempotency.request')::VARCHAR], seq)
FROM records
WHERE entity IN ({entities}) AND json_type(payload, '$.idempotency') = 'OBJECT'
    AND json_type(payload, '$.idempotency.key') = 'VARCHAR'
GROUP BY key
"""


def _keys(con: duckdb.DuckDBPyConnection, bulk: list[Family[Any]]) -> dict[str, Any]:
    """The idempotency keys the records of `bulk` families bring, as `Heads` notes them."""
    entities = ", ".join(f"'{family.entity}'" for family in bulk)
    out: dict[str, Any] = {}
    for key, (seq, kind, entity, id, rev, request) in con.execute(
        _KEYS.format(entities=entities)
    ).fetchall():
        out[key] = {
            "seq": int(seq),
            "kind": kind,
            "entity": entity,
            "id": id,
            "rev": int(rev),
            "request": None if request is None else orjson.loads(request),
        }
    return out
