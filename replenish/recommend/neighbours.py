"""Neighbour signal: item-item co-purchase, in the spirit of TIFU-KNN, with scipy sparse matrices.

Built once at training from the household x product matrix ``B`` (1 when the household bought the
product; households sampled beyond ``MAX_HOUSEHOLDS``): the cosine similarity of product columns,
``S = D^-1/2 (B^T B) D^-1/2`` with the diagonal removed, cut to each product's ``TOP_K`` strongest
neighbours (computed ``CHUNK`` products at a time so memory stays bounded at Instacart scale).

Served per household: a recency-weighted vector ``w`` over its products (each order containing a
product counts ``DECAY ** orders_ago``, as TIFU-KNN decays baskets), and ``w @ S`` scores every
catalog product by how strongly it goes with what the household buys (kept sparse: ``Scores``).
The diagonal is zero, so a product's own purchases never vote for it: for buy-again the signal says
"goes with your current basket", for cold start "households who buy what you buy chose this one".
Everything is sparse matrix products and index arithmetic; no per-household Python loops.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from replenish.recommend.profile import Profile

TOP_K = 50
CHUNK = 2048
MAX_HOUSEHOLDS = 60_000
DECAY = 0.9
SEED = 0


def build(hh: np.ndarray, rows: np.ndarray, n_products: int, top_k: int = TOP_K,
          max_households: int = MAX_HOUSEHOLDS) -> sparse.csr_matrix:
    """Products x products similarity (float32 CSR), each row its ``top_k`` neighbours."""
    if rows.size == 0:
        return sparse.csr_matrix((n_products, n_products), dtype=np.float32)
    codes, hh = np.unique(hh, return_inverse=True)
    if codes.size > max_households:
        keep = np.random.default_rng(SEED).permutation(codes.size)[:max_households]
        mask = np.zeros(codes.size, bool)
        mask[keep] = True
        sel = mask[hh]
        hh, rows = np.searchsorted(np.sort(keep), hh[sel]), rows[sel]
        n_hh = max_households
    else:
        n_hh = codes.size
    B = sparse.csr_matrix((np.ones(rows.size, np.float32), (hh, rows)), shape=(n_hh, n_products))
    B.data[:] = 1.0  # duplicates summed: back to bought / not bought
    count = np.asarray(B.sum(axis=0)).ravel()
    inv = np.where(count > 0, 1.0 / np.sqrt(np.maximum(count, 1)), 0.0).astype(np.float32)
    Bn = (B @ sparse.diags(inv)).tocsc()
    BnT = Bn.T.tocsr()
    parts = []
    for start in range(0, n_products, CHUNK):
        block = (BnT[start:start + CHUNK] @ Bn).tocsr()  # chunk x products
        parts.append(_top_k(block, start, top_k))
    return sparse.vstack(parts, format="csr").astype(np.float32)


def _top_k(block: sparse.csr_matrix, start: int, k: int) -> sparse.csr_matrix:
    """Each row's k largest entries, its own column (row ``start + i``) removed."""
    block.sum_duplicates()
    n = block.shape[0]
    lengths = np.diff(block.indptr)
    row = np.repeat(np.arange(n), lengths)
    data, cols = block.data.copy(), block.indices
    data[cols == row + start] = 0.0
    order = np.lexsort((-data, row))  # by row, strongest first
    rank = np.arange(order.size) - np.repeat(block.indptr[:-1], lengths)
    keep = order[(rank < k) & (data[order] > 0)]
    return sparse.csr_matrix((data[keep], (row[keep], cols[keep])), shape=block.shape)


def weights(prof: Profile) -> np.ndarray:
    """Per profile product: sum over orders containing it of DECAY ** (orders since), normalised."""
    if prof.rows.size == 0:
        return np.zeros(0)
    ago = prof.order_days.size - 1 - np.searchsorted(prof.order_days, prof.line_days)
    pos = np.searchsorted(prof.rows, prof.line_rows)
    w = np.bincount(pos, weights=DECAY ** ago, minlength=prof.rows.size)
    total = w.sum()
    return w / total if total > 0 else w


class Scores:
    """A score per catalog row, kept sparse: the rows some neighbour points to, sorted, and their summed
    scores; every other row scores 0. ``scores[rows]`` reads any rows. A household's neighbours touch a
    few thousand products, so this never builds (or zeroes) a vector the size of the catalog."""

    __slots__ = ("rows", "values")

    def __init__(self, cols: np.ndarray, vals: np.ndarray):
        self.rows, at = np.unique(cols, return_inverse=True)
        self.values = np.bincount(at, weights=vals, minlength=self.rows.size)

    def __getitem__(self, rows: np.ndarray | int) -> np.ndarray:
        rows = np.asarray(rows)
        if self.rows.size == 0:
            return np.zeros(rows.shape)
        at = np.minimum(np.searchsorted(self.rows, rows), self.rows.size - 1)
        return np.where(self.rows[at] == rows, self.values[at], 0.0)


def _gather(m: sparse.csr_matrix, rows: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns, entry x its row's weight) of the given rows of ``m``: ``weight @ m[rows]`` before summing
    by column, gathered with index arithmetic (no intermediate sparse matrix)."""
    begin, end = m.indptr[rows], m.indptr[rows + 1]
    lengths = end - begin
    pos = np.arange(int(lengths.sum())) + np.repeat(begin - np.cumsum(lengths) + lengths, lengths)
    return m.indices[pos], m.data[pos] * np.repeat(weight, lengths)


def scores(sim: sparse.csr_matrix | None, prof: Profile) -> Scores | None:
    """``w @ S`` for a household (None without a neighbour model)."""
    if sim is None or prof.rows.size == 0:
        return None
    return prof.memoized("neighbours", sim, lambda: Scores(*_gather(sim, prof.rows, weights(prof))))


# -- households like this one (user-kNN, as TIFU-KNN's neighbour part) --------------------------------

PEER_K = 50                # nearest households averaged
MAX_PEERS = 20_000         # reference households kept (sampled beyond this)
SAME = 0.9999              # a reference this close is the household itself (evaluation, serving): skipped


class Peers:
    """Reference households' recency-weighted basket vectors (each order containing a product counts
    ``DECAY ** orders_ago``), rows L2-normalised: ``U`` (households x products) and its transpose.

    A household's peer vector is the similarity-weighted mean of its ``PEER_K`` nearest references by
    cosine: how much households that shop like it buy each product (TIFU-KNN's neighbour term)."""

    def __init__(self, U: sparse.csr_matrix, households: np.ndarray):
        self.U = U.astype(np.float32)
        self.households = households  # history number of each reference (training skips a household's own)
        self._UT: sparse.csr_matrix | None = None

    @property
    def UT(self) -> sparse.csr_matrix:
        """Products x references: a household's products pick their rows. Built on first use, not stored."""
        if self._UT is None:
            self._UT = self.U.T.tocsr()
        return self._UT

    def __getstate__(self):
        return {**self.__dict__, "_UT": None}

    @classmethod
    def build(cls, hh: np.ndarray, rows: np.ndarray, days: np.ndarray, n_products: int,
              max_households: int = MAX_PEERS) -> Peers:
        """From lines sorted by (household, day), households numbered 0.. (``training.History``)."""
        if rows.size == 0:
            return cls(sparse.csr_matrix((0, n_products), dtype=np.float32), np.zeros(0, np.int64))
        n_hh = int(hh[-1]) + 1
        keep_hh = np.arange(n_hh)
        if n_hh > max_households:
            keep_hh = np.sort(np.random.default_rng(SEED).permutation(n_hh)[:max_households])
        sel = np.isin(hh, keep_hh)
        h, r, d = hh[sel], rows[sel], days[sel]
        new_order = np.ones(h.size, bool)
        new_order[1:] = (h[1:] != h[:-1]) | (d[1:] != d[:-1])
        order_no = np.cumsum(new_order) - 1
        ref = np.searchsorted(keep_hh, h)
        last = np.zeros(keep_hh.size, np.int64)
        np.maximum.at(last, ref, order_no)
        w = (DECAY ** (last[ref] - order_no)).astype(np.float32)
        U = sparse.csr_matrix((w, (ref, r)), shape=(keep_hh.size, n_products))
        U.sum_duplicates()
        norm = np.sqrt(np.asarray(U.multiply(U).sum(axis=1)).ravel())
        U = sparse.diags(np.where(norm > 0, 1.0 / np.maximum(norm, 1e-12), 0.0).astype(np.float32)) @ U
        return cls(U.tocsr(), keep_hh.astype(np.int64))

    def scores(self, prof: Profile, exclude: int = -1) -> Scores | None:
        """The household's peer vector (None without references or history); ``exclude``: the
        household's own number in the training history, never its own peer."""
        if self.U.shape[0] == 0 or prof.rows.size == 0:
            return None
        v = weights(prof)
        v = v / max(float(np.linalg.norm(v)), 1e-12)
        refs, contrib = _gather(self.UT, prof.rows, v)
        sim = np.bincount(refs, weights=contrib, minlength=self.U.shape[0])
        sim[sim >= SAME] = 0.0
        if exclude >= 0:
            at = np.searchsorted(self.households, exclude)
            if at < self.households.size and self.households[at] == exclude:
                sim[at] = 0.0
        k = min(PEER_K, sim.size)
        top = np.argpartition(-sim, k - 1)[:k]
        w = sim[top]
        total = float(w.sum())
        if total <= 0:
            return Scores(np.zeros(0, np.int64), np.zeros(0))
        return Scores(*_gather(self.U, top, w / total))


def peer_scores(peers: Peers | None, prof: Profile, exclude: int = -1) -> Scores | None:
    """``Peers.scores`` memoized on the profile, for each ``exclude`` apart."""
    if peers is None or prof.rows.size == 0:
        return None
    return prof.memoized(f"peers-{exclude}", peers, lambda: peers.scores(prof, exclude))
