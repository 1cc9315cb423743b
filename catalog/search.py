"""Catalog text search: TF-IDF over word and character n-grams.

Word n-grams reward exact vocabulary ("almond milk"); character n-grams forgive speech-recognition
slips and spelling ("tide pots" -> "Tide Pods"). Both cosines live in [0, 1] and are averaged.
The document matrices are stored term-major so a query touches only the postings of its own terms,
which keeps a query on a 50k-product catalog well under a millisecond or two.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from catalog.model import Product
from catalog.synonyms import expand_query, normalize

try:  # scipy's compiled y += A @ x for a CSC matrix; the public ``m[terms].T @ w`` copies the postings first
    from scipy.sparse._sparsetools import csc_matvec as _csc_matvec
except ImportError:  # pragma: no cover - private module moved: fall back to the public operators
    _csc_matvec = None

WORD_WEIGHT = 0.55  # words are the stronger signal when they match; chars rescue slips
MIN_SCORE = 0.05
SCIPY_POSTINGS = 20_000  # above this many postings a query's scores are summed by scipy (see score_all)


@dataclass(frozen=True)
class Match:
    sku: str
    score: float


def document_text(p: Product) -> str:
    # Title twice: it is what people say; brand/category/synonyms widen recall.
    parts = [p.title, p.title, p.brand, p.category.replace("/", " "), " ".join(p.synonyms)]
    return normalize(" ".join(parts))


class CatalogIndex:
    """Immutable, picklable search index over a product list (row i == products[i])."""

    def __init__(self, skus: list[str], word: TfidfVectorizer, char: TfidfVectorizer,
                 word_docs: sparse.csr_matrix, char_docs: sparse.csr_matrix):
        self.skus = skus
        self.row_of = {s: i for i, s in enumerate(skus)}
        self._word, self._char = word, char
        self._word_docs, self._char_docs = word_docs, char_docs  # rows = products
        self._word_terms = word_docs.T.tocsr()  # rows = terms: fast per-query postings
        self._char_terms = char_docs.T.tocsr()

    @classmethod
    def build(cls, products: Iterable[Product]) -> CatalogIndex:
        products = list(products)
        texts = [document_text(p) for p in products]
        word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32,
                               token_pattern=r"(?u)\b\w+\b")
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True,
                               dtype=np.float32, min_df=1)
        word_docs = word.fit_transform(texts).tocsr() if texts else sparse.csr_matrix((0, 0))
        char_docs = char.fit_transform(texts).tocsr() if texts else sparse.csr_matrix((0, 0))
        return cls([p.sku for p in products], word, char, word_docs, char_docs)

    def __len__(self) -> int:
        return len(self.skus)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_analyzers", None)  # built lazily: analyzers are closures and do not pickle
        return state

    def _query(self, phrase: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """(term ids, weights) per vectorizer, as TfidfVectorizer.transform would give them.

        Done by hand because transform() costs ~1.5 ms of input validation per call.
        """
        if "_analyzers" not in self.__dict__:
            self._analyzers = (self._word.build_analyzer(), self._char.build_analyzer())
        text = expand_query(phrase)
        out = []
        for vec, analyze in zip((self._word, self._char), self._analyzers, strict=False):
            ids = [i for t in analyze(text) if (i := vec.vocabulary_.get(t)) is not None]
            terms, counts = np.unique(np.array(ids, dtype=np.int64), return_counts=True)
            w = (1.0 + np.log(counts)) * vec.idf_[terms]
            norm = np.sqrt((w * w).sum())
            out.append((terms, w / norm if norm > 0 else w))
        return out

    def score_all(self, phrase: str) -> np.ndarray:
        """Text score of every product for ``phrase`` (dense, length = catalog size)."""
        n = len(self.skus)
        scores = np.zeros(n, dtype=np.float32)
        if not n:
            return scores
        for (terms, w), m, weight in zip(self._query(phrase), (self._word_terms, self._char_terms),
                                         (WORD_WEIGHT, 1.0 - WORD_WEIGHT), strict=False):
            if terms.size == 0:
                continue
            starts, ends = m.indptr[terms], m.indptr[terms + 1]
            lens = ends - starts
            total = int(lens.sum())
            if total > SCIPY_POSTINGS:
                # long postings ("milk", common character n-grams): summed in C, see _long_postings
                scores += self._long_postings(m, terms, (w * weight).astype(np.float32))
                continue
            # short postings: gather them in one go; cheaper than scipy's per-call set-up
            offsets = np.zeros(lens.size, lens.dtype)
            np.cumsum(lens[:-1], out=offsets[1:])
            idx = np.repeat(starts - offsets, lens) + np.arange(total)
            scores += np.bincount(m.indices[idx], weights=m.data[idx] * np.repeat(w * weight, lens),
                                  minlength=n).astype(np.float32)
        return scores

    @staticmethod
    def _long_postings(m: sparse.csr_matrix, terms: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``m[terms].T @ w`` (float32, same sums in the same order) without copying the postings:
        scipy's kernel runs on each term's postings where they lie, which saves the copy and the
        sparse-matrix set-up (~0.1 ms a query)."""
        if _csc_matvec is None:
            return m[terms].T @ w
        n = m.shape[1]
        out = np.zeros(n, np.float32)
        indptr, indices, data = m.indptr, m.indices, m.data
        one = np.zeros(2, indptr.dtype)  # column pointer of a one-column matrix
        for i, t in enumerate(terms.tolist()):
            s, e = int(indptr[t]), int(indptr[t + 1])
            one[1] = e - s
            _csc_matvec(n, 1, one, indices[s:e], data[s:e], w[i:i + 1], out)
        return out

    def score_rows(self, phrase: str, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Text score of selected product rows only (cheap for a household's few hundred products)."""
        rows = np.asarray(rows, dtype=np.int64)
        return self.score_all(phrase)[rows] if rows.size else np.zeros(0, np.float32)

    def search_rows(self, phrase: str, k: int = 20) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (rows, scores), best first, scores above MIN_SCORE."""
        return self.top(self.score_all(phrase), k)

    @staticmethod
    def top(scores: np.ndarray, k: int, prefer: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``k`` best scores above MIN_SCORE, best first.

        Equal scores are common (a brand's sizes and variants read alike): among them the larger
        ``prefer`` value (e.g. popularity, by row) goes first, then the lower row. Only the rows above
        MIN_SCORE are ranked: a selection over the whole catalog (argpartition over 50k scores,
        most of them tied at zero) cost more than the scoring itself.
        """
        k = min(k, scores.size)
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        rows = np.flatnonzero(scores > MIN_SCORE)
        if rows.size > k:
            s = scores[rows]
            kth = np.partition(s, s.size - k)[s.size - k]  # the k-th best score
            rows = rows[s >= kth]  # k rows, or more when several tie with the k-th
        if prefer is None:
            order = np.argsort(-scores[rows], kind="stable")  # rows ascend: ties keep row order
        else:
            order = np.lexsort((-prefer[rows], -scores[rows]))
        top = rows[order[:k]]
        return top, np.minimum(scores[top], 1.0)

    def search(self, phrase: str, k: int = 20) -> list[Match]:
        rows, scores = self.search_rows(phrase, k)
        return [Match(self.skus[r], float(s)) for r, s in zip(rows, scores, strict=False)]
