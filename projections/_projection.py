"""A projection: a named, versioned function from records to read-model tables.

A projection declares the record kinds it reads, its tables, its version and what to do
with a record it cannot apply (its *policy*: ``stop``, or ``skip`` it into a dead-letter
list, never silently). A stop stops that projection alone: it takes no record after the
one it could not apply, its tables answer every query with the error, and every other
projection goes on. Its fingerprint hashes all of that, so a change of code or schema
is seen as a stale projection and rebuilt. A projection never reads the journal itself:
it is fed `Event`s, each a record with its upcast payload and the entity's head after
it, by whoever folds the journal (the lakehouse layer), and it writes `TableChanges`.

Read models (`ReadModels`) live here too, since a projection's hooks take them and they
hold projections: an in-memory DuckDB whose views merge checkpoint Parquet with the tail.

Each projection contributes a `Part`: the Parquet files of its tables in the checkpoint
it starts from (immutable, never written by a reader; each table one or more layers,
projections/_layers.py) and the `Changes` the records after that checkpoint made, one
layer more: a keyed table's view is the checkpoint's rows minus the keys the tail
touched, plus the tail's rows; a log table's view is the checkpoint's rows plus the
tail's. Nothing derived is modified in place, so any number of processes read beside
one writer, and opening costs what the tail costs, not what the history costs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

import orjson

from journal import Record
from projections._errors import ProjectionStopped
from projections._layers import Layer, layered
from projections._table import Table, TableChanges, literal, quote

if TYPE_CHECKING:
    import duckdb

Policy = Literal["stop", "skip"]
H = TypeVar("H", bound=Mapping[str, Any])  # the head type of the family a projection reads


class Event(NamedTuple, Generic[H]):
    """A record as a projection sees it: the payload upcast, the entity's head after it.

    Generic in the head's type, which this package does not know: a family's projection
    takes ``Event[TraceHead]`` (say) in its `apply`, so mypy checks the keys it reads
    from the head (``head["uid"]``; not those of ``head.get``) against the family's
    TypedDict, at no cost when it runs.
    """

    record: Record
    payload: dict[str, Any]
    head: H | None


class Projection:
    """Base of every projection: subclasses set the class attributes and define `apply`."""

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    kinds: ClassVar[frozenset[str]] = frozenset()  # empty: every record
    policy: ClassVar[Policy] = "stop"
    tables: ClassVar[tuple[Table, ...]] = ()
    # False: `apply` reads only the record, never the head, so it is fed even a record its
    # family cannot fold (the raw journal); True: such a record goes to `policy`
    uses_heads: ClassVar[bool] = True
    # the projection's tables as SQL over the raw records, for a fold from genesis in bulk
    # (lakehouse/_bulk.py): table -> a SELECT of its columns in order, over the relations
    # its family's bulk fold prepares. Empty: the projection is folded record by record.
    # Not part of the fingerprint: it must give exactly what `apply` gives (a test checks
    # both on random histories, tests/lakehouse/test_bulk.py), so it changes no output
    columnar: ClassVar[Mapping[str, str]] = {}

    def identity(self) -> dict[str, Any]:
        """Everything the projection's output depends on besides the journal."""
        return {
            "name": self.name,
            "version": self.version,
            "kinds": sorted(self.kinds),
            "policy": self.policy,
            "tables": {table.name: table.describe() for table in self.tables},
        }

    @property
    def fingerprint(self) -> str:
        """A short hash of `identity()`: when it changes, the projection is rebuilt."""
        blob = orjson.dumps(self.identity(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(blob).hexdigest()[:16]

    def reads(self, record: Record) -> bool:
        """True if this projection reads records of this kind."""
        return not self.kinds or record.kind in self.kinds

    def apply(self, event: Event[Any], changes: Changes) -> None:
        """Apply one record to the projection's tables."""
        raise NotImplementedError

    def views(self, models: ReadModels) -> dict[str, str]:
        """Extra views (name -> SELECT) over the materialised tables, e.g. one per dataset."""
        return {}

    def files(self, models: ReadModels) -> dict[str, Any]:
        """Extra checkpoint files: relative path -> bytes, or a callback writing the file."""
        return {}


@dataclass
class DeadLetter:
    """A record a projection with the skip policy could not apply, and why."""

    projection: str
    seq: int
    kind: str
    entity: str
    id: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        """The dead letter as JSON."""
        return dict(self.__dict__)


@dataclass
class Changes:
    """What a run of records did to one projection's tables, and what it could not apply."""

    projection: Projection
    tables: dict[str, TableChanges] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    watermark: int = 0
    stopped: ProjectionStopped | None = None  # set once a stop projection meets its record

    def __post_init__(self) -> None:
        for table in self.projection.tables:
            self.tables.setdefault(table.name, TableChanges(table))

    def __getitem__(self, table: str) -> TableChanges:
        return self.tables[table]

    def feed(self, event: Event[Any]) -> None:
        """Apply `event` under the projection's policy; the watermark moves unless it stops."""
        if self.stopped is not None:
            return  # a stopped projection takes nothing after the record it stopped at
        try:
            self.projection.apply(event, self)
        except Exception as error:  # a projection bug or a record it cannot take
            self.refuse(event.record, error)
            return
        self.watermark = event.record.seq

    def refuse(self, record: Record, error: Exception) -> None:
        """Follow the policy for a record that cannot be applied: a dead letter, or stop."""
        if self.stopped is not None:
            return
        what = f"{type(error).__name__}: {error}"
        name = self.projection.name
        if self.projection.policy == "stop":
            self.stopped = ProjectionStopped(
                f"projection {name} cannot apply record seq {record.seq} ({record.kind}): {what}",
                hint=f"its tables answer no query until it can: fix the projection, then run "
                f"'lakehouse projections rebuild {name}' (a record at fault is shown by "
                f"'lakehouse journal tail --after {record.seq - 1} --limit 1')",
                projection=name,
                seq=record.seq,
                kind=record.kind,
            )
            self.stopped.__cause__ = error
            self.watermark = record.seq - 1  # it holds every record before that one
            return
        self.dead_letters.append(
            DeadLetter(name, record.seq, record.kind, record.entity, record.id, what)
        )
        self.watermark = record.seq

    def stop_as(self, recorded: dict[str, Any]) -> None:
        """Take over a stop a checkpoint recorded (see `stop_record`)."""
        fields = dict(recorded.get("fields") or {})
        self.stopped = ProjectionStopped(
            str(recorded.get("message")), hint=recorded.get("hint"), **fields
        )
        self.watermark = int(fields.get("seq") or 1) - 1

    def stop_record(self) -> dict[str, Any] | None:
        """The stop as JSON, for a checkpoint's meta (None: the projection did not stop)."""
        stop = self.stopped
        if stop is None:
            return None
        return {"message": stop.message, "hint": stop.hint, "fields": stop.fields}


INTERNAL = "_lakehouse"  # the schema of the tables behind the views (tails, touched keys)
_ROW_GROUP = 8192  # rows per Parquet row group: a point query reads (and decompresses) one


@dataclass
class Part:
    """One projection's share of the read models: its checkpoint files and its tail."""

    projection: Projection
    changes: Changes
    base_files: Mapping[str, Path] = field(default_factory=dict)  # table -> Parquet
    # table -> a DuckDB table holding its rows (a fold in bulk), read in place of a file
    base_relations: Mapping[str, str] = field(default_factory=dict)
    # table -> the checkpoint's later layers of it, over its base file (projections/_layers.py)
    base_layers: Mapping[str, Sequence[Layer]] = field(default_factory=dict)
    base_seq: int = 0
    base_dir: Path | None = None  # the checkpoint the part starts from
    base_meta: Mapping[str, Any] = field(default_factory=dict)  # that checkpoint's meta entry
    extra_files: Mapping[str, Path] = field(default_factory=dict)  # its other files, pinned
    table_files: Mapping[str, Path] = field(default_factory=dict)  # relpath -> its layer, pinned
    cache: dict[str, Any] = field(default_factory=dict)  # derived from the base, once per part
    fds: list[int] = field(default_factory=list)  # descriptors pinning the base files

    def close(self) -> None:
        """Close the descriptors that pin the part's checkpoint files."""
        fds, self.fds = self.fds, []
        for fd in fds:
            os.close(fd)

    def __del__(self) -> None:
        self.close()  # a part shared by generations of read models closes when none is left

    @property
    def watermark(self) -> int:
        """The seq the part reflects: its checkpoint's, or its last record's."""
        return max(self.base_seq, self.changes.watermark)

    def layers(self, table: Table) -> list[Layer]:
        """A table's rows at the part's checkpoint, as layers (none: it starts empty)."""
        relation = self.base_relations.get(table.name)
        if relation is not None:
            return [Layer(relation, None, 0)]
        base_file = self.base_files.get(table.name)
        if base_file is None:
            return []
        first = Layer(f"read_parquet({literal(str(base_file))})", None, 0)
        return [first, *self.base_layers.get(table.name, ())]


class ReadModels:
    """The read models at one watermark, as views in an in-memory DuckDB connection."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        parts: Iterable[Part],
        seq: int,
        *,
        owns_parts: bool = True,
    ) -> None:
        self.con = con
        self.parts = {part.projection.name: part for part in parts}
        self.seq = seq
        self.owns_parts = owns_parts  # False: the parts outlive these models (a follower)
        self.cache: dict[str, dict[str, Any]] = {}  # what readers derive once per models
        # the DuckDB tables holding each table's tail rows, and (keyed tables) the keys the
        # tail set or removed: copies, so they match these models even if a fold goes on
        self.tail: dict[str, str] = {}
        self.touched: dict[str, str] = {}
        self.tables: dict[str, Table] = {}
        self.views: dict[str, str] = {}
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {INTERNAL}")  # see _load
        for part in self.parts.values():
            for table in part.projection.tables:
                if part.changes.stopped is None:
                    self._table_view(part, table)
                else:
                    stop = part.changes.stopped
                    self._stopped_view(table, f"{stop.message} (hint: {stop.hint})")
        for part in self.parts.values():
            if part.changes.stopped is not None:
                continue  # its views would read tables that answer no query
            for name, select in part.projection.views(self).items():
                self.con.execute(f"CREATE OR REPLACE VIEW {quote(name)} AS {select}")
                self.views[name] = select

    def _table_view(self, part: Part, table: Table) -> None:
        """The table's view: its checkpoint's layers, and the tail as one more on top."""
        changes = part.changes[table.name]
        name = table.name
        layers = part.layers(table)
        if not layers:
            layers = [Layer(self._load("_empty_" + name, table.to_arrow([])), None, 0)]
        keys = None
        if table.key is not None and changes.upserts:
            import pyarrow as pa

            touched = pa.table({"key": pa.array(changes.touched(), type=_key_type(table))})
            keys = self.touched[name] = self._load("_touched_" + name, touched)
        if len(changes):
            self.tail[name] = self._load("_tail_" + name, table.to_arrow(changes.rows()))
        if name in self.tail or keys is not None:
            rows = self.tail.get(name) or self._load("_empty_" + name, table.to_arrow([]))
            layers.append(Layer(rows, keys, len(changes.rows())))
        self.con.execute(f"CREATE OR REPLACE VIEW {quote(name)} AS {layered(layers, table.key)}")
        self.tables[name] = table

    def _stopped_view(self, table: Table, message: str) -> None:
        """A view with the table's columns that fails every query reading it, saying why.

        Every column, and the one row, goes through error(): a view whose values were
        constant NULLs would let a filter on them be folded away into an empty answer.
        """
        fail = f"error({literal(message)})"
        columns = ", ".join(
            f"CAST({fail} AS {column.type}) AS {quote(column.name)}" for column in table.columns
        )
        select = f"SELECT {columns} FROM range(1) WHERE {fail} IS NULL"
        self.con.execute(f"CREATE OR REPLACE VIEW {quote(table.name)} AS {select}")
        self.tables[table.name] = table

    @property
    def stopped(self) -> dict[str, str]:
        """The projections that stopped at a record they cannot apply: name -> why."""
        return {
            name: part.changes.stopped.message
            for name, part in self.parts.items()
            if part.changes.stopped is not None
        }

    def _load(self, name: str, data: Any) -> str:
        """Copy an Arrow table into a DuckDB table (seen by every cursor); its quoted name.

        The table goes in a schema of its own, INTERNAL: `SHOW TABLES` lists the main
        schema's only, so the tails behind the views stay out of sight, and the SQL guard
        refuses a name qualified by any schema but information_schema, so no query reads
        them but through the views.
        """
        qualified = f"{INTERNAL}.{quote(name)}"
        self.con.register("_arrow", data)
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {qualified} AS SELECT * FROM _arrow")
        finally:
            self.con.unregister("_arrow")
        return qualified

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own to these read models, for one thread's queries."""
        return self.con.cursor()

    # -- reading -------------------------------------------------------------------------

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query over the read models (our own SQL: user SQL goes through `run`)."""
        return self.con.execute(sql, list(params)).fetchall()

    def digest(self, table: str) -> str:
        """A content hash of a table, independent of row order: equal states, equal digests."""
        count, total = self.query(
            f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {quote(table)} t"
        )[0]
        return f"{count}:{total}"

    def row_digests(self, table: str) -> dict[Any, int]:
        """Each row's hash by its key (a log table's rows by their sort columns)."""
        spec = self.tables[table]
        key = ", ".join(quote(column) for column in spec.sort) or "rowid"
        rows = self.query(f"SELECT ({key}), hash(t) FROM {quote(table)} t")
        return dict(rows)

    def state_digest(self) -> dict[str, str]:
        """Every table's digest, by table name."""
        return {name: self.digest(name) for name in sorted(self.tables)}

    # -- writing -------------------------------------------------------------------------

    def write_table(self, table: str, path: Path, select: str | None = None) -> int:
        """Write a table (or `select`, rows of its columns) to a Parquet file, rows in the
        table's sort order (equal states, equal files); how many rows it wrote.

        Written by pyarrow in the table's own schema: DuckDB's writer marks a column
        required or optional by what it knows of its NULLs, which depends on the path the
        rows took (tests/projections/test_contract.py).
        """
        spec = self.tables[table]
        order = ", ".join(quote(column) for column in spec.sort)
        select = f"SELECT * FROM ({select or f'SELECT * FROM {quote(table)}'})" + (
            f" ORDER BY {order}" if order else ""
        )
        return self.write_parquet(select, spec.arrow_schema(), path)

    def write_parquet(self, select: str, schema: Any, path: Path) -> int:
        """Write the rows of `select` to a Parquet file in the Arrow `schema`; how many."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        written = 0
        with self.cursor() as cursor:
            reader = cursor.sql(select).to_arrow_reader(_ROW_GROUP)
            try:
                with pq.ParquetWriter(path, schema, compression="zstd") as writer:
                    for batch in reader:
                        rows = pa.Table.from_batches([batch]).cast(schema)
                        writer.write_table(rows, row_group_size=_ROW_GROUP)
                        written += rows.num_rows
            finally:
                reader.close()
        return written

    def close(self) -> None:
        """Close the DuckDB connection and the files pinned for it."""
        self.con.close()
        if self.owns_parts:
            for part in self.parts.values():
                part.close()


def _key_type(table: Table) -> Any:
    return table.arrow_schema().field(table.key_index).type
