"""Content similarity of products for cold start: category, price band and description tokens.

A SKU that has not sold has no co-purchase neighbours, so :class:`ContentIndex` describes every product by three
blocks, each scaled to unit length and weighted, so that the dot product of two rows is
``w_tokens * cos(tokens) + w_category * [same category] + w_price * [same price band]`` (at most 1):

* description tokens: lower-cased words of three letters or more (a few stop words removed), TF-IDF weighted;
* the category, one-hot;
* the price band: quantile band of ``log(price)`` over the catalogue (``price_bands`` bands), one-hot.

:class:`training.recommend.live.LiveRecommender` uses it to give a new SKU neighbours (its similar-items list and
session blending) and to place it in the similar-item lists of the known items it resembles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

TOKEN = re.compile(r"[a-z]{3,}")
STOP_WORDS = frozenset({"and", "the", "with", "for", "set", "of", "in", "pack", "assorted", "colour", "design"})


def description_tokens(description: object) -> list[str]:
    """Distinct lower-case words of three letters or more, stop words removed, in order of appearance."""
    if not isinstance(description, str):
        return []
    seen: dict[str, None] = {}
    for token in TOKEN.findall(description.lower()):
        if token not in STOP_WORDS:
            seen.setdefault(token)
    return list(seen)


def _normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


def _one_hot(codes: np.ndarray, width: int) -> sp.csr_matrix:
    rows = np.flatnonzero(codes >= 0)
    data = np.ones(len(rows), dtype="float64")
    return sp.csr_matrix((data, (rows, codes[rows])), shape=(len(codes), max(width, 1)))


@dataclass
class ContentIndex:
    """Content vectors of every product in a ``products`` table (``sku, description, category, price``).

    Parameters
    ----------
    weight_tokens, weight_category, weight_price
        Weights of the three blocks (they sum to the largest similarity, 1 by default).
    price_bands
        Quantile bands of log price.
    """

    weight_tokens: float = 0.5
    weight_category: float = 0.3
    weight_price: float = 0.2
    price_bands: int = 5
    skus_: np.ndarray = field(init=False, repr=False)
    categories_: np.ndarray = field(init=False, repr=False)
    category_: np.ndarray = field(init=False, repr=False)
    price_: np.ndarray = field(init=False, repr=False)
    band_: np.ndarray = field(init=False, repr=False)
    matrix_: sp.csr_matrix = field(init=False, repr=False)

    def fit(self, products: pd.DataFrame) -> ContentIndex:
        """Build the vectors; ``products`` needs ``sku`` and any of ``description``, ``category``, ``price``."""
        frame = products.drop_duplicates("sku", keep="last").reset_index(drop=True)
        n = len(frame)
        self.skus_ = frame["sku"].astype(str).to_numpy()
        category = frame["category"] if "category" in frame else pd.Series([None] * n)
        codes, categories = pd.factorize(category.astype("object").where(category.notna(), None), sort=True)
        self.category_ = codes.astype("int32")
        self.categories_ = np.asarray(categories, dtype=object).astype(str)
        price = pd.to_numeric(frame["price"], errors="coerce") if "price" in frame else pd.Series(np.nan, index=frame.index)
        self.price_ = price.to_numpy(dtype="float64")
        self.band_ = self._bands(self.price_)
        described = frame["description"] if "description" in frame else pd.Series([None] * n)
        docs = [description_tokens(d) for d in described.tolist()]
        vocabulary: dict[str, int] = {}
        rows, cols = [], []
        for i, tokens in enumerate(docs):
            for token in tokens:
                rows.append(i)
                cols.append(vocabulary.setdefault(token, len(vocabulary)))
        counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, max(len(vocabulary), 1)))
        df = np.asarray((counts > 0).sum(axis=0)).ravel()
        idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        tokens = _normalize_rows(sp.csr_matrix(counts @ sp.diags(idf)))
        blocks = [tokens * np.sqrt(self.weight_tokens),
                  _one_hot(self.category_, len(self.categories_)) * np.sqrt(self.weight_category),
                  _one_hot(self.band_, self.price_bands) * np.sqrt(self.weight_price)]
        self.matrix_ = sp.hstack(blocks, format="csr").astype("float32")
        return self

    def _bands(self, price: np.ndarray) -> np.ndarray:
        band = np.full(len(price), -1, dtype="int32")
        ok = np.isfinite(price) & (price > 0)
        if ok.sum() == 0:
            return band
        logp = np.log(price[ok])
        edges = np.quantile(logp, np.linspace(0, 1, self.price_bands + 1)[1:-1])
        band[ok] = np.searchsorted(edges, logp, side="right").astype("int32")
        return band

    @property
    def n_items(self) -> int:
        return len(self.skus_)

    def similarity(self, rows: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Dense similarities of the products at ``rows`` to those at ``columns`` (default: every product)."""
        right = self.matrix_ if columns is None else self.matrix_[columns]
        return np.asarray((self.matrix_[rows] @ right.T).toarray(), dtype="float32")

    def neighbours(self, rows: np.ndarray, candidates: np.ndarray, keep: int,
                   min_similarity: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each product at ``rows``: the ``keep`` most similar ``candidates`` (never itself), best first."""
        if len(rows) == 0 or len(candidates) == 0:
            return [(np.zeros(0, "int64"), np.zeros(0, "float32")) for _ in rows]
        sim = self.similarity(rows, candidates)
        same = candidates[None, :] == np.asarray(rows)[:, None]
        sim[same] = -1.0
        out = []
        for i in range(len(rows)):
            order = np.lexsort((candidates, -sim[i]))[:keep]
            order = order[sim[i, order] > min_similarity]
            out.append((candidates[order].astype("int64"), sim[i, order]))
        return out
