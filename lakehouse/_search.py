"""Similarity search over a family's texts: an HNSW index per checkpoint, the tail exact.

A search projection keeps one row per searchable entity (its text, tags and whether it
is retired). A checkpoint holds the HNSW index built from those rows with the embedder
named in the projection's identity; a search asks that index, hiding every entity the
records after the checkpoint touched, and searches those records' rows exactly, so an
entity added one command ago is found and an updated or retired one never shows stale.

An index is not rewritten for every checkpoint: one made from the one before shares its
index files (hard links) and keeps beside them the delta, the vectors of every row
changed since the index was built and the ids removed since (``index/<name>.delta.*``),
searched exactly as the tail is. Once the delta would pass DELTA_MAX vectors or a tenth
of the index, the checkpoint updates the index with it instead (load, add, mark deleted,
save), so a checkpoint's cost follows the change and the exact part of a search stays
small.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from lakehouse._columns import columns
from projections import Part, Projection, ReadModels, Table, VectorIndexUnreadable

if TYPE_CHECKING:
    from projections import Embedder, ExactIndex, VectorIndex

EMBEDDER_ENV = "LAKEHOUSE_EMBEDDER"
PARALLEL_FROM = 20_000  # vectors from which an index is built on every core
EMBED_ROWS = 20_000  # texts embedded at a time
# changed vectors a checkpoint keeps beside its index, searched exactly: at most DELTA_MAX,
# and at most a tenth of the index (or DELTA_MIN), so the delta a checkpoint writes again
# stays small beside the index it spares rewriting
DELTA_MAX = 20_000
DELTA_MIN = 1_000


def search_table(name: str, key: str) -> Table:
    """The table a search projection keeps: key, text, tags, retired."""
    return Table(
        name,
        columns(f"{key} VARCHAR", "text VARCHAR", "tags VARCHAR[]", "retired BOOLEAN"),
        key=key,
    )


class SearchProjection(Projection):
    """Base of the trace and playbook search projections; the embedder is part of identity."""

    policy: ClassVar[Any] = "skip"

    def __init__(self, embedder_name: str | None = None) -> None:
        self.embedder_name = embedder_name or os.environ.get(EMBEDDER_ENV) or "hashing"

    @functools.cached_property
    def embedder(self) -> Embedder:
        """The embedder this projection's index is built with."""
        from projections import embedder

        return embedder(self.embedder_name)

    def identity(self) -> dict[str, Any]:
        """The projection's identity, the embedder's name and version included."""
        return {**super().identity(), "embedder": self.embedder.name}

    @property
    def table(self) -> Table:
        """The projection's one table."""
        return self.tables[0]

    def files(self, models: ReadModels) -> dict[str, Any]:
        """The index files: the checkpoint's shared with the delta beside them while the
        delta is small, else the index updated (or built) over every row."""
        from projections import VectorIndex

        part = models.parts[self.name]
        paths = self._index_paths(part)
        if part.base_dir is not None and paths is not None:
            ids, vectors, removed = self._fresh(models)
            room = min(DELTA_MAX, max(DELTA_MIN, VectorIndex.stored_count(paths[0]) // 10))
            if len(ids) + len(removed) <= room:
                return self._shared(part, ids, vectors, removed)
        built: list[VectorIndex] = []

        def index() -> VectorIndex:
            if not built:
                built.append(self._build(models))
            return built[0]

        return {
            f"index/{self.name}.hnsw": lambda path: index().write_index(path),
            f"index/{self.name}.ids.json": lambda path: path.write_bytes(orjson.dumps(index().ids)),
        }

    def _shared(
        self, part: Part, ids: list[str], vectors: Any, removed: set[str]
    ) -> dict[str, Any]:
        """The part's index files shared as they are, and the delta written beside them."""
        import numpy as np

        from checkpoints import Checkpoint

        assert part.base_dir is not None
        base = Checkpoint.load(part.base_dir, part.base_seq)
        files: dict[str, Any] = {}
        for relpath in (f"index/{self.name}.hnsw", f"index/{self.name}.ids.json"):
            pinned = part.extra_files[relpath]  # the very file this read has open
            inode = os.stat(pinned).st_ino
            if relpath in base.files and _inode(base.path / relpath) == inode:
                files[relpath] = base.shared(relpath, inode=inode)
            else:  # its checkpoint was replaced since (a rebuild): copied from the open file
                files[relpath] = pinned

        def write_vectors(path: Path) -> None:
            with open(path, "wb") as out:
                np.save(out, np.asarray(vectors, dtype=np.float32), allow_pickle=False)

        npy, listing = self._delta_names()
        files[npy] = write_vectors
        files[listing] = orjson.dumps({"ids": ids, "removed": sorted(removed)})
        return files

    def _delta_names(self) -> tuple[str, str]:
        return f"index/{self.name}.delta.npy", f"index/{self.name}.delta.json"

    def _index_paths(self, part: Part) -> tuple[Path, Path] | None:
        index_path = part.extra_files.get(f"index/{self.name}.hnsw")
        ids_path = part.extra_files.get(f"index/{self.name}.ids.json")
        return None if index_path is None or ids_path is None else (index_path, ids_path)

    def _build(self, models: ReadModels) -> VectorIndex:
        """The checkpoint's index: the base's updated with what changed since it was built
        (its delta and the tail), or a new one.

        Updating costs what changed; a new index is built when there is no base index or
        when labels marked deleted would outnumber the live ones.
        """
        index = self._load_base(models.parts[self.name])  # a copy of its own, to change
        if index is not None:
            ids, vectors, removed = self._fresh(models)
            if 2 * (index.deleted + len(ids) + len(removed)) < len(index) + len(ids):
                index.update(ids, vectors, removed=removed)
                return index
        key = self.table.key or ""
        with models.cursor() as cursor:
            select = f'SELECT "{key}", text FROM "{self.table.name}" ORDER BY 1'
            return self._new_index(cursor, select)

    def _load_base(self, part: Part) -> VectorIndex | None:
        """The index saved in the part's checkpoint, or None if it has none."""
        from projections import VectorIndex

        paths = self._index_paths(part)
        return None if paths is None else VectorIndex.load(*paths, self.embedder.dim)

    def _base_delta(self, part: Part) -> tuple[list[str], Any, set[str]]:
        """The delta the part's checkpoint keeps beside its index (none: empty)."""
        import numpy as np

        if "delta" not in part.cache:
            npy, listing = (part.extra_files.get(name) for name in self._delta_names())
            if npy is None or listing is None:
                empty = np.zeros((0, self.embedder.dim), dtype=np.float32)
                part.cache["delta"] = ([], empty, set())
            else:
                try:
                    listed = orjson.loads(listing.read_bytes())
                    with open(npy, "rb") as data:
                        vectors = np.load(data, allow_pickle=False)
                    if vectors.shape != (len(listed["ids"]), self.embedder.dim):
                        raise ValueError(f"{vectors.shape} vectors for {len(listed['ids'])} ids")
                except (ValueError, KeyError, TypeError) as error:
                    raise VectorIndexUnreadable(
                        f"cannot load the index delta of {self.name}: {error}",
                        hint="'lakehouse doctor --repair' sets the checkpoint aside and "
                        "rebuilds it from the journal",
                        path=str(Path(part.base_dir or "") / self._delta_names()[0]),
                    ) from error
                part.cache["delta"] = (list(listed["ids"]), vectors, set(listed["removed"]))
        delta: tuple[list[str], Any, set[str]] = part.cache["delta"]
        return delta

    def _fresh(self, models: ReadModels) -> tuple[list[str], Any, set[str]]:
        """Every row changed since the index was built, embedded, and the ids removed since:
        the checkpoint's delta with the tail applied (the tail's rows win)."""
        import numpy as np

        cache = models.cache.setdefault(self.name, {})
        if "fresh" not in cache:
            tail_ids, tail_vectors, tail_removed = self._tail(models)
            ids, vectors, removed = self._base_delta(models.parts[self.name])
            touched = set(tail_ids) | tail_removed
            keep = [at for at, id in enumerate(ids) if id not in touched]
            tail = np.asarray(tail_vectors, dtype=np.float32).reshape(-1, self.embedder.dim)
            cache["fresh"] = (
                [ids[at] for at in keep] + list(tail_ids),
                np.concatenate([vectors[keep], tail]),
                (removed - set(tail_ids)) | tail_removed,
            )
        fresh: tuple[list[str], Any, set[str]] = cache["fresh"]
        return fresh

    def _embedded(self, cursor: Any, select: str) -> tuple[list[str], Any]:
        """The ids and vectors of the (id, text) rows `select` gives, embedded EMBED_ROWS at a
        time into one array: embedding a million texts at once held ten times their
        vectors' size in intermediate arrays (a 3M-record rebuild ran out of memory)."""
        import numpy as np

        (count,) = cursor.execute(f"SELECT count(*) FROM ({select})").fetchone()
        vectors = np.empty((count, self.embedder.dim), dtype=np.float32)
        ids: list[str] = []
        cursor.execute(select)
        while rows := cursor.fetchmany(EMBED_ROWS):
            at = len(ids)
            vectors[at : at + len(rows)] = self.embedder.embed([row[1] for row in rows])
            ids.extend(row[0] for row in rows)
        return ids, vectors[: len(ids)]

    def _new_index(self, cursor: Any, select: str) -> VectorIndex:
        """An index of the (id, text) rows `select` gives, embedded and added EMBED_ROWS at
        a time: the vectors are never all in memory beside the index they go into."""
        from projections import VectorIndex

        (count,) = cursor.execute(f"SELECT count(*) FROM ({select})").fetchone()
        # more threads build faster but in an order that varies: small indexes stay exact
        threads = 1 if count < PARALLEL_FROM else os.cpu_count() or 1

        def chunks() -> Iterator[tuple[list[str], Any]]:
            cursor.execute(select)
            while rows := cursor.fetchmany(EMBED_ROWS):
                yield [row[0] for row in rows], self.embedder.embed([row[1] for row in rows])

        return VectorIndex.build_from(
            count, self.embedder.dim, chunks(), ef_construction=64, threads=threads
        )

    def search(
        self,
        models: ReadModels,
        query: str,
        k: int,
        *,
        tag: str | None = None,
        include_retired: bool = False,
    ) -> list[tuple[str, float]]:
        """The `k` entities whose text is most like `query`, best first, with similarity."""
        from projections import search_merged

        part = models.parts[self.name]
        index = self._index(models, part)
        tail_ids, tail_vectors, removed = self._fresh(models)
        # the index's rows that the tail changed are left out by search_merged itself; the
        # ones it removed (a superseded trace, a retired playbook) are hidden here
        hidden = removed if include_retired else removed | self._retired(models)
        allow: Callable[[str], bool] | None = None
        if tag is not None:
            allow = self._tagged(models, tag).__contains__
        vector = self.embedder.embed([query])[0]
        return search_merged(
            vector,
            k,
            index=index,
            tail_ids=tail_ids,
            tail_vectors=tail_vectors,
            hidden=hidden,
            allow=allow,
        )

    def _index(self, models: ReadModels, part: Part) -> VectorIndex | ExactIndex | None:
        """The checkpoint's index (loaded once per part); None when the part has no base.

        A checkpoint without its index (a rebuild publishes its tables before it builds
        the indexes; a resume point has none) is searched exactly: its rows are embedded
        once and compared with every query, which is what an index approximates.
        """
        if "index" not in part.cache:
            found: VectorIndex | ExactIndex | None = None
            if part.base_dir is not None:
                found = self._load_base(part)
                if found is None:
                    found = self._exact(part)
            part.cache["index"] = found
        index: VectorIndex | ExactIndex | None = part.cache["index"]
        return index

    def _exact(self, part: Part) -> ExactIndex:
        """The part's checkpoint rows embedded, for an exact search."""
        import duckdb

        from projections import ExactIndex

        base = part.base_files[self.table.name]
        with duckdb.connect(":memory:") as con:
            select = f"SELECT * FROM read_parquet('{_escape(base)}') ORDER BY 1"
            ids, vectors = self._embedded(con, f"SELECT * EXCLUDE (tags, retired) FROM ({select})")
        return ExactIndex(ids, vectors, self.embedder.dim)

    def _tail(self, models: ReadModels) -> tuple[list[str], Any, set[str]]:
        """The tail's ids and vectors (embedded once per read models), and the ids it removed.

        Both come from the models' own copies of the tail, so a search matches the tables
        of the same models even while a follower folds newer records.
        """
        cache = models.cache.setdefault(self.name, {})
        if "tail" not in cache:
            name = self.table.name
            rows = (
                _query(models, f"SELECT * FROM {models.tail[name]}") if name in models.tail else []
            )
            touched = (
                _query(models, f"SELECT key FROM {models.touched[name]}")
                if (name in models.touched)
                else []
            )
            ids = [row[0] for row in rows]
            removed = {row[0] for row in touched} - set(ids)
            cache["tail"] = (ids, self.embedder.embed([row[1] for row in rows]), removed)
        tail: tuple[list[str], Any, set[str]] = cache["tail"]
        return tail

    def _retired(self, models: ReadModels) -> set[str]:
        cache = models.cache.setdefault(self.name, {})
        if "retired" not in cache:
            key = self.table.key or ""
            rows = _query(models, f'SELECT "{key}" FROM "{self.table.name}" WHERE retired')
            cache["retired"] = {row[0] for row in rows}
        retired: set[str] = cache["retired"]
        return retired

    def _tagged(self, models: ReadModels, tag: str) -> set[str]:
        key = self.table.key or ""
        rows = _query(
            models, f'SELECT "{key}" FROM "{self.table.name}" WHERE list_contains(tags, ?)', [tag]
        )
        return {row[0] for row in rows}


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path, follow_symlinks=False).st_ino
    except OSError:
        return None


def _query(models: ReadModels, sql: str, params: list[Any] | None = None) -> list[Any]:
    """Run our own query on a cursor of its own (searches may run in several threads)."""
    with models.cursor() as cursor:
        return cursor.execute(sql, params or []).fetchall()


def _escape(path: Path) -> str:
    return str(path).replace("'", "''")


def search_rows(
    models: ReadModels,
    projection: str,
    table: str,
    query: str,
    k: int,
    **options: Any,
) -> list[dict[str, Any]]:
    """Search `projection` and return the hits as rows of `table` with their similarity."""
    from lakehouse._errors import InvalidInput

    if not query.strip():
        raise InvalidInput(
            "the search query is empty", hint="pass some words to search for", field="query"
        )
    if not 1 <= k <= 1000:
        raise InvalidInput(f"-k {k} is out of range", hint="pass -k from 1 to 1000", field="k")
    searcher = models.parts[projection].projection
    if not isinstance(searcher, SearchProjection):
        raise TypeError(f"projection {projection!r} is not a search projection")
    hits = searcher.search(models, query, k, **options)
    if not hits:
        return []
    key = searcher.table.key or ""
    with models.cursor() as cursor:
        cursor.execute(
            f'SELECT * FROM "{table}" WHERE "{key}" IN (SELECT unnest(?))', [[id for id, _ in hits]]
        )
        names = [column[0] for column in cursor.description or ()]
        found = cursor.fetchall()
    rows = {row[names.index(key)]: dict(zip(names, row, strict=True)) for row in found}
    return [{"score": round(score, 6), **rows[id]} for id, score in hits if id in rows]
