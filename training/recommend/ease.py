"""EASE: the closed-form linear item-item model of Steck (2019).

``B = argmin ||X - X B||^2 + lambda ||B||^2`` subject to ``diag(B) = 0`` has the closed form
``P = (X^T X + lambda I)^-1``, ``B_ij = -P_ij / P_jj`` (``B_jj = 0``). The item x item matrix is dense and kept
in float32 (about 54 MB for Online Retail's 3,659 items). For catalogues too large for a dense inverse
(100k items would need 40 GB), :attr:`EASE.max_items` restricts the model to the most active items (the
rest score 0 and reach customers through the other candidate sources) and :attr:`EASE.neighbours` prunes
each row of ``B`` to its largest weights so that scoring is a sparse product; see docs/recommend.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from training.recommend.data import TrainingData
from training.recommend.itemknn import prune_rows

log = logging.getLogger(__name__)


@dataclass
class EASE:
    """Embarrassingly shallow autoencoder over the binary purchase matrix.

    Parameters
    ----------
    lam
        L2 penalty ``lambda`` (larger shrinks towards popularity-free co-occurrence).
    use_recency
        Weight the customer's purchases by recency (the interaction matrix's half-life) when scoring.
    max_items
        Fit on at most this many items (the most bought); ``None`` keeps all.
    neighbours
        When set, keep only this many largest weights per row of ``B`` (sparse scoring).
    """

    lam: float = 250.0
    use_recency: bool = False
    max_items: int | None = None
    neighbours: int | None = None
    weights_: np.ndarray | sp.csr_matrix = field(init=False, repr=False)
    items_: np.ndarray = field(init=False, repr=False)

    def fit(self, data: TrainingData) -> EASE:
        x = data.binary()
        n_items = x.shape[1]
        buyers = np.asarray(x.sum(axis=0)).ravel()
        if self.max_items is not None and self.max_items < n_items:
            items = np.sort(np.argsort(-buyers, kind="stable")[: self.max_items])
        else:
            items = np.arange(n_items)
        xs = x[:, items].tocsc()
        gram = (xs.T @ xs).toarray().astype("float64")
        gram[np.diag_indices_from(gram)] += self.lam
        with threadpool_limits(limits=1, user_api="blas"):  # multi-threaded BLAS thrashes on a shared box
            p = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        b = b.astype("float32")
        if len(items) < n_items:
            full = np.zeros((n_items, n_items), dtype="float32") if self.neighbours is None else None
            if full is not None:
                full[np.ix_(items, items)] = b
                b = full
        if self.neighbours is not None:
            pruned = prune_rows(b, self.neighbours)
            if len(items) < n_items:
                pruned = pruned.tocoo()
                pruned = sp.csr_matrix((pruned.data, (items[pruned.row], items[pruned.col])),
                                       shape=(n_items, n_items))
            self.weights_ = pruned
        else:
            self.weights_ = b
        self.items_ = items
        log.info("EASE fitted on %d of %d items (lambda %.0f)", len(items), n_items, self.lam)
        return self

    def user_matrix(self, data: TrainingData, rows: np.ndarray) -> sp.csr_matrix:
        return (data.interactions.recency if self.use_recency else data.binary())[rows]

    def score(self, data: TrainingData, rows: np.ndarray) -> np.ndarray:
        scores = self.user_matrix(data, rows) @ self.weights_
        return np.asarray(scores.toarray() if sp.issparse(scores) else scores, dtype="float32")

