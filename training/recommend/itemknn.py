"""Item-item collaborative filtering: cosine similarity of co-purchase vectors, pruned to top neighbours.

``sim(i, j) = |buyers(i) & buyers(j)| / sqrt(|buyers(i)| |buyers(j)|)``, computed as a sparse product of the
binary customer x item matrix, the diagonal removed and each item's row pruned to its ``neighbours`` most
similar items (this bounds memory at ``n_items * neighbours`` and keeps scoring a sparse product). A
customer's score for an item sums the similarities to the items they bought, optionally weighted by how
recently they bought them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from training.recommend.data import TrainingData


def prune_rows(matrix: np.ndarray | sp.spmatrix, keep: int) -> sp.csr_matrix:
    """Keep the ``keep`` largest entries of each row (a sparse float32 matrix)."""
    dense = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
    n = dense.shape[0]
    keep = min(keep, dense.shape[1])
    cols = np.argpartition(-dense, keep - 1, axis=1)[:, :keep]
    vals = np.take_along_axis(dense, cols, axis=1)
    rows = np.repeat(np.arange(n), keep)
    pruned = sp.csr_matrix((vals.ravel().astype("float32"), (rows, cols.ravel())), shape=dense.shape)
    pruned.eliminate_zeros()
    return pruned


@dataclass
class ItemKNN:
    """Co-purchase cosine item-item model.

    Parameters
    ----------
    neighbours
        Similar items kept per item.
    use_recency
        Weight the customer's purchases by recency (the interaction matrix's half-life) when scoring.
    """

    neighbours: int = 100
    use_recency: bool = False
    similarity_: sp.csr_matrix = field(init=False, repr=False)

    def fit(self, data: TrainingData) -> ItemKNN:
        x = data.binary().tocsc()
        co = (x.T @ x).tocsr().astype("float32")
        norms = np.sqrt(co.diagonal())
        norms[norms == 0] = 1.0
        co = sp.diags(1.0 / norms) @ co @ sp.diags(1.0 / norms)
        co.setdiag(0.0)
        self.similarity_ = prune_rows(co, self.neighbours)
        return self

    def user_matrix(self, data: TrainingData, rows: np.ndarray) -> sp.csr_matrix:
        return (data.interactions.recency if self.use_recency else data.binary())[rows]

    def score(self, data: TrainingData, rows: np.ndarray) -> np.ndarray:
        # a customer's items i reach j through sim(i, j): scores = X_u @ S, with S pruned by row i
        return np.asarray((self.user_matrix(data, rows) @ self.similarity_).toarray(), dtype="float32")
