"""Nearest-neighbour search: an HNSW index of settled vectors, plus an exact search of a tail.

A vector projection keeps most of its vectors in a `VectorIndex` (hnswlib, cosine space),
saved at a checkpoint as two files: the hnswlib index and the JSON list of string ids
(label ``i`` is ``ids[i]``; ``null`` for a label marked deleted). The next checkpoint
updates it (`update`: changed and removed ids marked deleted, new vectors added) rather
than building it again, until deleted labels are the majority. Records applied since then
sit in a small tail searched exactly with numpy. `search_merged` asks both and merges them:
a tail entry shadows the index entry with the same id, because the tail holds the newer one.

Similarity is cosine similarity throughout, best first; equal similarities are ordered by id
so results are deterministic. hnswlib is imported only where an index is built or loaded.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable, Container, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from projections._errors import VectorIndexUnreadable

FloatArray = npt.NDArray[np.float32]
Hit = tuple[str, float]

_SPACE = "cosine"
_MIN_EF = 64
# hnswlib's file header starts with six size_t fields; the 5th and 6th (label offset and
# data offset) differ by the byte size of one vector, which gives the stored dimension.
_HEADER = struct.Struct("<6Q")
_REBUILD_HINT = "rebuild the projection: the index is derived data and the journal remakes it"


class _Excluded:
    """A container holding what any of several containers holds."""

    def __init__(self, *parts: Container[str]) -> None:
        self._parts = parts

    def __contains__(self, item: object) -> bool:
        return any(item in part for part in self._parts)


class VectorIndex:
    """An HNSW index of unit vectors, labelled by position in a list of string ids."""

    def __init__(self, index: Any, ids: list[str | None], dim: int) -> None:
        self._index = index
        self.ids = ids  # None: a label marked deleted
        self.dim = dim
        # set_ef then knn_query must not interleave with another thread's pair
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def deleted(self) -> int:
        """How many labels are marked deleted (their vectors still take room)."""
        return sum(1 for id in self.ids if id is None)

    def update(
        self, ids: Sequence[str], vectors: npt.ArrayLike, *, removed: Iterable[str] = ()
    ) -> None:
        """Give `ids` these vectors (new labels) and drop `removed`: old labels marked deleted."""
        data = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        labels = {id: label for label, id in enumerate(self.ids) if id is not None}
        for id in {*ids, *removed}:
            label = labels.get(id)
            if label is not None:
                self._index.mark_deleted(label)
                self.ids[label] = None
        if len(ids):
            start = len(self.ids)
            self._index.resize_index(start + len(ids))
            new = np.arange(start, start + len(ids), dtype=np.int64)
            # more threads add faster in an order that varies: a small update stays exact
            threads = 1 if len(ids) < 20_000 else os.cpu_count() or 1
            self._index.add_items(data, new, num_threads=threads)
            self.ids.extend(ids)

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        vectors: npt.ArrayLike,
        *,
        m: int = 16,
        ef_construction: int = 200,
        seed: int = 0,
        threads: int = 1,
    ) -> VectorIndex:
        """Build an index of ``vectors`` (shape (n, dim)).

        With one thread the same input gives the same bytes; more threads build faster in
        an order that varies (the search results stay as good).
        """
        import hnswlib

        data = np.ascontiguousarray(vectors, dtype=np.float32)
        if data.ndim != 2 or data.shape[0] != len(ids):
            raise ValueError(f"need one vector per id: {len(ids)} ids, vectors {data.shape}")
        if len(set(ids)) != len(ids):
            raise ValueError("ids must be unique")
        index = hnswlib.Index(space=_SPACE, dim=data.shape[1])
        index.init_index(
            max_elements=max(1, len(ids)), M=m, ef_construction=ef_construction, random_seed=seed
        )
        if len(ids):
            # insertion order decides the graph, so more than one thread breaks determinism
            index.add_items(data, np.arange(len(ids), dtype=np.int64), num_threads=threads)
        return cls(index, list(ids), data.shape[1])

    @classmethod
    def build_from(
        cls,
        count: int,
        dim: int,
        chunks: Iterable[tuple[Sequence[str], npt.ArrayLike]],
        *,
        m: int = 16,
        ef_construction: int = 200,
        seed: int = 0,
        threads: int = 1,
    ) -> VectorIndex:
        """Build an index of `count` vectors given a chunk of (ids, vectors) at a time, so
        the vectors are never all in memory beside the index (`build` in bounded memory:
        with one thread, the same chunks in the same order give the bytes `build` gives)."""
        import hnswlib

        index = hnswlib.Index(space=_SPACE, dim=dim)
        index.init_index(
            max_elements=max(1, count), M=m, ef_construction=ef_construction, random_seed=seed
        )
        ids: list[str | None] = []
        for chunk_ids, vectors in chunks:
            data = np.ascontiguousarray(vectors, dtype=np.float32)
            if data.ndim != 2 or data.shape != (len(chunk_ids), dim):
                raise ValueError(
                    f"need one {dim}-d vector per id: {len(chunk_ids)} ids, {data.shape}"
                )
            if len(ids) + len(chunk_ids) > count:
                raise ValueError(f"more than the {count} vectors announced")
            labels = np.arange(len(ids), len(ids) + len(chunk_ids), dtype=np.int64)
            index.add_items(data, labels, num_threads=threads)
            ids.extend(chunk_ids)
        if len(set(ids)) != len(ids):
            raise ValueError("ids must be unique")
        return cls(index, ids, dim)

    def write(self, index_path: Path, ids_path: Path) -> None:
        """Save the hnswlib index to ``index_path`` and the ids, as a JSON list, to ``ids_path``."""
        self.write_index(index_path)
        ids_path.write_bytes(orjson.dumps(self.ids))

    def write_index(self, index_path: Path) -> None:
        """Save the hnswlib index alone (its ids go beside it, see `write`)."""
        self._index.save_index(str(index_path))

    @staticmethod
    def stored_count(index_path: Path) -> int:
        """How many vectors (deleted ones too) an index file holds, from its header alone."""
        try:
            with index_path.open("rb") as f:
                header = f.read(_HEADER.size)
        except OSError as exc:
            raise _unreadable(index_path, str(exc)) from exc
        if len(header) < _HEADER.size:
            raise _unreadable(index_path, "the index file is truncated")
        count: int = _HEADER.unpack(header)[2]
        return count

    @classmethod
    def load(cls, index_path: Path, ids_path: Path, dim: int) -> VectorIndex:
        """Load an index saved by `write`, checking its dimension and its count of ids."""
        import hnswlib

        try:
            ids = orjson.loads(ids_path.read_bytes())
            with index_path.open("rb") as f:
                header = f.read(_HEADER.size)
            index = hnswlib.Index(space=_SPACE, dim=dim)
            index.load_index(str(index_path))
        except (OSError, RuntimeError, orjson.JSONDecodeError) as exc:
            raise _unreadable(index_path, str(exc)) from exc
        if len(header) < _HEADER.size:
            raise _unreadable(index_path, "the index file is truncated")
        _, _, count, _, label_offset, data_offset = _HEADER.unpack(header)
        stored_dim = (label_offset - data_offset) // 4
        if stored_dim != dim:
            raise _unreadable(index_path, f"the index holds {stored_dim}-d vectors, not {dim}-d")
        if not isinstance(ids, list) or not all(i is None or isinstance(i, str) for i in ids):
            raise _unreadable(index_path, f"{ids_path.name} is not a JSON list of strings")
        if count != len(ids):
            raise _unreadable(index_path, f"{count} vectors but {len(ids)} ids")
        return cls(index, ids, dim)

    def search(
        self,
        query: npt.ArrayLike,
        k: int,
        *,
        hidden: Container[str] = frozenset(),
        allow: Callable[[str], bool] | None = None,
    ) -> list[Hit]:
        """The ``k`` ids nearest to ``query`` with their similarity, never hidden nor disallowed."""
        if k <= 0 or not self.ids:
            return []
        q = _unit_query(query, self.dim).reshape(1, -1)
        keep = self._filter(hidden, allow)
        want = min(k, len(self.ids))
        try:
            with self._lock:
                self._index.set_ef(max(_MIN_EF, 2 * want))
                labels, distances = self._index.knn_query(q, k=want, num_threads=1, filter=keep)
        except RuntimeError:
            # hnswlib raises when it finds fewer than `want` items that pass the filter:
            # fewer are eligible than asked for, so an exact scan of those is cheap enough.
            return self._exact(q[0], k, keep)
        found = zip(labels[0], distances[0], strict=True)
        hits = [(id, 1.0 - float(d)) for i, d in found if (id := self.ids[int(i)]) is not None]
        return _best(hits, k)

    def _filter(
        self, hidden: Container[str], allow: Callable[[str], bool] | None
    ) -> Callable[[int], bool] | None:
        """The label filter for hnswlib, or None when nothing is filtered out."""
        ids = self.ids
        nothing_hidden = isinstance(hidden, set | frozenset) and not hidden
        if allow is None:
            return None if nothing_hidden else (lambda label: ids[label] not in hidden)

        def keep(label: int) -> bool:
            id = ids[label]
            return id is not None and id not in hidden and allow(id)

        return keep

    def _exact(self, q: FloatArray, k: int, keep: Callable[[int], bool] | None) -> list[Hit]:
        """Brute-force search over the labels that pass ``keep``."""
        ids = self.ids
        labels = [i for i in range(len(ids)) if ids[i] is not None and (keep is None or keep(i))]
        if not labels:
            return []
        stored = np.asarray(self._index.get_items(labels), dtype=np.float32)
        sims = stored @ q
        return _best([(str(ids[i]), float(s)) for i, s in zip(labels, sims, strict=True)], k)


class ExactIndex:
    """The vectors of rows no index covers yet, searched exactly: what a checkpoint whose
    index is still being built (or was never written) is searched with, so that a search
    never waits for an index and never answers less well than one would."""

    def __init__(self, ids: Sequence[str], vectors: npt.ArrayLike, dim: int) -> None:
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(ids), dim)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.vectors = matrix / np.where(norms > 0, norms, 1.0)
        self.ids = list(ids)
        self.dim = dim

    def __len__(self) -> int:
        return len(self.ids)

    def search(
        self,
        query: npt.ArrayLike,
        k: int,
        *,
        hidden: Container[str] = frozenset(),
        allow: Callable[[str], bool] | None = None,
    ) -> list[Hit]:
        """The ``k`` ids nearest to ``query`` with their similarity, never hidden nor disallowed."""
        if k <= 0 or not self.ids:
            return []
        sims = self.vectors @ _unit_query(query, self.dim)
        hits: list[Hit] = []
        for row in np.argsort(-sims, kind="stable"):
            id = self.ids[int(row)]
            if id in hidden or (allow is not None and not allow(id)):
                continue
            hits.append((id, float(sims[row])))
            if len(hits) == k:
                break
        return hits


def search_merged(
    query: npt.ArrayLike,
    k: int,
    *,
    index: VectorIndex | ExactIndex | None,
    tail_ids: Sequence[str],
    tail_vectors: npt.ArrayLike,
    hidden: Container[str] = frozenset(),
    allow: Callable[[str], bool] | None = None,
) -> list[Hit]:
    """The ``k`` best of the index (approximate) and the tail (exact); the tail shadows the index.

    An id both in the index and in ``tail_ids`` is taken from the tail only. If an id is in
    the tail more than once, its last row wins (later rows are newer).
    """
    if k <= 0:
        return []
    tail = np.asarray(tail_vectors, dtype=np.float32)
    dim = index.dim if index is not None else (tail.shape[1] if tail.ndim == 2 else -1)
    if dim < 0:
        return []  # no index and no tail vectors: nothing to search
    q = _unit_query(query, dim)
    hits: list[Hit] = []
    if index is not None:
        excluded = _Excluded(hidden, frozenset(tail_ids)) if len(tail_ids) else hidden
        hits.extend(index.search(q, k, hidden=excluded, allow=allow))
    hits.extend(_search_tail(q, k, tail_ids=tail_ids, tail=tail, hidden=hidden, allow=allow))
    return _best(hits, k)


def _search_tail(
    q: FloatArray,
    k: int,
    *,
    tail_ids: Sequence[str],
    tail: FloatArray,
    hidden: Container[str],
    allow: Callable[[str], bool] | None,
) -> list[Hit]:
    """Exact search of the tail: the last row of each eligible id, by cosine similarity."""
    if len(tail_ids) != (tail.shape[0] if tail.ndim == 2 else 0):
        raise ValueError(f"need one tail vector per tail id: {len(tail_ids)} ids, {tail.shape}")
    rows = {tid: row for row, tid in enumerate(tail_ids)}  # the last row of an id wins
    eligible = [(tid, row) for tid, row in rows.items() if tid not in hidden]
    if allow is not None:
        eligible = [(tid, row) for tid, row in eligible if allow(tid)]
    if not eligible:
        return []
    picked = tail[[row for _, row in eligible]].astype(np.float64)
    norms = np.linalg.norm(picked, axis=1)
    sims = (picked @ q) / np.where(norms > 0, norms, 1.0)
    return _best([(tid, float(s)) for (tid, _), s in zip(eligible, sims, strict=True)], k)


def _unit_query(query: npt.ArrayLike, dim: int) -> FloatArray:
    """The query as a flat float32 unit vector (a zero vector stays zero)."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    if q.shape[0] != dim:
        raise ValueError(f"query has {q.shape[0]} dimensions, the vectors have {dim}")
    norm = float(np.linalg.norm(q))
    return q / norm if norm > 0 else q


def _best(hits: list[Hit], k: int) -> list[Hit]:
    """The ``k`` best hits: highest similarity first, ties broken by id."""
    return sorted(hits, key=lambda hit: (-hit[1], hit[0]))[:k]


def _unreadable(index_path: Path, reason: str) -> VectorIndexUnreadable:
    """The error for a vector index that cannot be loaded as it stands on disk."""
    return VectorIndexUnreadable(
        f"cannot load the vector index {index_path}: {reason}",
        hint=_REBUILD_HINT,
        path=str(index_path),
    )
