"""The inference object the service wraps: fast top-k lists with fallbacks, exclusions and buy-again.

A :class:`Recommender` is plain numpy: ranked lists for known customers (computed in batch at training time
by the best model, so a request is a lookup and a filter, well under a millisecond), item neighbours for
:meth:`Recommender.similar_items`, each customer's purchases for buy-again lists, and popularity per country
and overall for fallbacks. It saves to and loads from a folder without MLflow.

Fallbacks, in order, whenever a list runs short (unknown customer, everything excluded):
``popular_country`` (best-sellers of the last weeks in the customer's country, or ``country=``), then
``popular_global``. Each :class:`Recommendation` names its ``source``. Unknown customers and items never
raise; a bad ``k`` does (:class:`RecommendRequestError`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shopml.errors import NotTrainedError, ShopmlError
from training.contract import Params, ServedModel
from training.names import RECOMMENDER

log = logging.getLogger(__name__)

MAX_K = 100
DEFAULT_K = 10
OUTPUT_COLUMNS = ("customer_id", "rank", "sku", "score", "source")
FORMAT_VERSION = 1
SOURCE_BUY_AGAIN = "buy_again"
SOURCE_SIMILAR = "item_knn"
SOURCE_COUNTRY = "popular_country"
SOURCE_GLOBAL = "popular_global"


class RecommendRequestError(ShopmlError, ValueError):
    """A request the recommender cannot answer as asked (e.g. ``k`` out of range)."""


@dataclass(frozen=True)
class Recommendation:
    """One recommended item, its score under the model that produced it, and that model (``source``)."""

    sku: str
    score: float
    source: str


@dataclass(frozen=True)
class Ragged:
    """Rows of variable length stored flat: row ``i`` is ``items[indptr[i]:indptr[i + 1]]``."""

    indptr: np.ndarray
    items: np.ndarray
    scores: np.ndarray

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.indptr[i], self.indptr[i + 1]
        return self.items[lo:hi], self.scores[lo:hi]

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[np.ndarray, np.ndarray]]) -> Ragged:
        lengths = np.array([len(items) for items, _ in rows], dtype="int64")
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype("int64")
        items = np.concatenate([r[0] for r in rows]).astype("int32") if rows else np.zeros(0, "int32")
        scores = np.concatenate([r[1] for r in rows]).astype("float32") if rows else np.zeros(0, "float32")
        return cls(indptr, items, scores)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_indptr": self.indptr, f"{prefix}_items": self.items, f"{prefix}_scores": self.scores}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> Ragged:
        return cls(arrays[f"{prefix}_indptr"], arrays[f"{prefix}_items"], arrays[f"{prefix}_scores"])


class Recommender(ServedModel):
    """Top-k recommendations and similar items from precomputed, numpy-only state.

    Registered as ``recommender``; as a served model, ``predict`` takes ``customer_id`` (and optionally ``k``
    per row, else ``params["k"]``, default 10) and returns one row per recommended item.

    Parameters
    ----------
    skus, customer_ids
        Item and customer vocabularies (row/column order of every other array).
    ranked
        Per customer: the model's ranked items (never already bought) and scores.
    history
        Per customer: items bought, ordered by buy-again score (recency-weighted purchase count).
    neighbours
        Per item: most similar items (co-purchase cosine) and similarities.
    popular
        Per country (row ``i`` for ``countries[i]``): best-selling items and scores; the global list is
        ``popular_global``.
    customer_country
        Index into ``countries`` for each customer (-1 when unknown).
    model_source
        The ``source`` name of ranked-list items (e.g. ``"ranker"``).
    """

    registry_names = (RECOMMENDER,)
    optional_inputs = ("k",)

    def __init__(
        self,
        *,
        skus: np.ndarray,
        customer_ids: np.ndarray,
        ranked: Ragged,
        history: Ragged,
        neighbours: Ragged,
        popular: Ragged,
        popular_global: tuple[np.ndarray, np.ndarray],
        countries: np.ndarray,
        customer_country: np.ndarray,
        model_source: str,
        active: np.ndarray | None = None,
        info: dict | None = None,
    ) -> None:
        self.skus = np.asarray(skus).astype(str)
        self.customer_ids = np.asarray(customer_ids).astype(str)
        self.ranked, self.history, self.neighbours, self.popular = ranked, history, neighbours, popular
        self.popular_global = (np.asarray(popular_global[0], "int32"), np.asarray(popular_global[1], "float32"))
        self.countries = np.asarray(countries).astype(str)
        self.customer_country = np.asarray(customer_country, dtype="int32")
        self.model_source = model_source
        self.active = np.ones(len(self.skus), dtype=bool) if active is None else np.asarray(active, dtype=bool)
        self.info = dict(info or {})
        self._sku_list = self.skus.tolist()
        self._item_index = {s: j for j, s in enumerate(self._sku_list)}
        self._customer_index = {c: i for i, c in enumerate(self.customer_ids.tolist())}
        self._country_index = {c: i for i, c in enumerate(self.countries.tolist())}

    # ------------------------------------------------------------------ questions
    def knows_customer(self, customer_id: str | None) -> bool:
        return customer_id is not None and str(customer_id) in self._customer_index

    def knows_item(self, sku: str) -> bool:
        return str(sku) in self._item_index

    @property
    def n_items(self) -> int:
        return len(self.skus)

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    # ------------------------------------------------------------------ catalogue
    def retire(self, skus: Iterable[str]) -> int:
        """Never recommend these items again (no longer sold); returns how many were known."""
        idx = [self._item_index[s] for s in map(str, skus) if s in self._item_index]
        self.active[idx] = False
        return len(idx)

    # ------------------------------------------------------------------ requests
    def recommend(
        self,
        customer_id: str | None,
        k: int = 10,
        exclude: Iterable[str] = (),
        country: str | None = None,
        include_purchased: bool = False,
    ) -> list[Recommendation]:
        """Top ``k`` items for a customer, best first.

        Known customers get the model's list without items they already bought; with
        ``include_purchased=True`` their own purchases come first (``buy_again``, most often and most
        recently bought first) and the model's list tops it up. Unknown customers (or ``None``) get the
        popularity fallbacks; ``country`` overrides the customer's country for them. ``exclude`` (SKUs) and
        retired items never appear. The list is shorter than ``k`` only if the catalogue runs out.
        """
        skus = self._sku_list
        return [Recommendation(skus[j], s, source)
                for j, s, source in self.candidates(customer_id, k, exclude, country, include_purchased)]

    def candidates(
        self,
        customer_id: str | None,
        k: int = 10,
        exclude: Iterable[str] = (),
        country: str | None = None,
        include_purchased: bool = False,
    ) -> list[tuple[int, float, str]]:
        """:meth:`recommend` as ``(item index, score, source)`` tuples (indices into :attr:`skus`)."""
        k = self._check_k(k)
        blocked = self._blocked(exclude)
        out: list[tuple[int, float, str]] = []
        taken: set[int] = set()
        row = self._customer_index.get(str(customer_id)) if customer_id is not None else None
        if row is not None:
            if include_purchased:
                self._extend(out, taken, *self.history.row(row), SOURCE_BUY_AGAIN, k, blocked)
            if len(out) < k:
                self._extend(out, taken, *self.ranked.row(row), self.model_source, k, blocked)
            if len(out) < k and not include_purchased:  # the ranked list never holds bought items; the rest may
                taken.update(self.history.row(row)[0].tolist())
            if country is None and self.customer_country[row] >= 0:
                country = self.countries[self.customer_country[row]]
        if len(out) < k:
            self._fallback(out, taken, country, k, blocked)
        return out

    def country_of(self, customer_id: str | None) -> str | None:
        """The country of a known customer's latest order (None for a guest or an unknown customer)."""
        row = self._customer_index.get(str(customer_id)) if customer_id is not None else None
        if row is None or self.customer_country[row] < 0:
            return None
        return str(self.countries[self.customer_country[row]])

    def customer_row(self, customer_id: str | None) -> int | None:
        """Row of a known customer in :attr:`customer_ids` (None when unknown)."""
        return self._customer_index.get(str(customer_id)) if customer_id is not None else None

    def item_index(self, sku: str) -> int | None:
        """Column of a known SKU in :attr:`skus` (None when unknown)."""
        return self._item_index.get(sku)

    def similar_items(self, sku: str, k: int = 10, exclude: Iterable[str] = ()) -> list[Recommendation]:
        """Items most often bought by the same customers as ``sku`` (never ``sku`` itself).

        An unknown SKU (or one whose neighbours are all excluded) falls back to global best-sellers.
        """
        k = self._check_k(k)
        blocked = self._blocked(exclude)
        out: list[tuple[int, float, str]] = []
        j = self._item_index.get(str(sku))
        taken: set[int] = set() if j is None else {j}
        if j is not None:
            self._extend(out, taken, *self.neighbours.row(j), SOURCE_SIMILAR, k, blocked)
        if len(out) < k:
            self._extend(out, taken, *self.popular_global, SOURCE_GLOBAL, k, blocked)
        skus = self._sku_list
        return [Recommendation(skus[i], s, source) for i, s, source in out]

    def recommend_batch(
        self,
        customer_ids: Iterable[str | None],
        k: int = 10,
        exclude: Iterable[str] = (),
        country: str | None = None,
        include_purchased: bool = False,
    ) -> dict[str | None, list[Recommendation]]:
        """:meth:`recommend` for many customers at once (same options for all), keyed by customer id."""
        k = self._check_k(k)
        exclude = tuple(exclude)
        return {
            c: self.recommend(c, k, exclude=exclude, country=country, include_purchased=include_purchased)
            for c in customer_ids
        }

    # ------------------------------------------------------------------ internals
    def _check_k(self, k: int) -> int:
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise RecommendRequestError(f"k must be a whole number between 1 and {MAX_K}, got {k!r}.")
        if not 1 <= k <= MAX_K:
            raise RecommendRequestError(f"k must be between 1 and {MAX_K}, got {k}; ask for fewer items.")
        return int(k)

    def _blocked(self, exclude: Iterable[str]) -> set[int]:
        if isinstance(exclude, str):
            exclude = (exclude,)
        return {self._item_index[s] for s in map(str, exclude) if s in self._item_index}

    def _extend(self, out, taken, items, scores, source, k, blocked) -> None:
        # walk the list in small slices: converting a whole catalogue-long list per request allocates
        # thousands of Python objects and triggers garbage collections that dominate the p99
        active = self.active
        start, n = 0, len(items)
        while start < n and len(out) < k:
            stop = start + 2 * (k - len(out)) + len(taken) + len(blocked) + 8
            part = items[start:stop]
            for j, s, live in zip(part.tolist(), scores[start:stop].tolist(), active[part].tolist(), strict=True):
                if not live or j in taken or j in blocked:
                    continue
                taken.add(j)
                out.append((j, s, source))
                if len(out) >= k:
                    return
            start = stop

    def _fallback(self, out, taken, country, k, blocked) -> None:
        c = self._country_index.get(country) if country is not None else None
        if c is not None:
            self._extend(out, taken, *self.popular.row(c), SOURCE_COUNTRY, k, blocked)
        if len(out) < k:
            self._extend(out, taken, *self.popular_global, SOURCE_GLOBAL, k, blocked)
        if len(out) < k:  # lists are truncated: walk the rest of the catalogue by global rank
            order = np.arange(self.n_items, dtype="int32")
            self._extend(out, taken, order, np.zeros(self.n_items, "float32"), SOURCE_GLOBAL, k, blocked)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``recommender.npz`` and ``recommender.json`` to ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {
            "skus": self.skus, "customer_ids": self.customer_ids, "countries": self.countries,
            "customer_country": self.customer_country, "active": self.active,
            "popular_global_items": self.popular_global[0], "popular_global_scores": self.popular_global[1],
            **self.ranked.arrays("ranked"), **self.history.arrays("history"),
            **self.neighbours.arrays("neighbours"), **self.popular.arrays("popular"),
        }
        np.savez(directory / "recommender.npz", **arrays)
        meta = {"format_version": FORMAT_VERSION, "model_source": self.model_source, "info": self.info}
        (directory / "recommender.json").write_text(json.dumps(meta, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Recommender:
        """Read a recommender written by :meth:`save`."""
        directory = Path(directory)
        meta_path = directory / "recommender.json"
        if not meta_path.is_file():
            raise NotTrainedError(f"no recommender in {directory}: run `shopml train recommender` first.")
        meta = json.loads(meta_path.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise NotTrainedError(
                f"recommender in {directory} has format {meta.get('format_version')}, expected {FORMAT_VERSION}; "
                "retrain with `shopml train recommender`."
            )
        with np.load(directory / "recommender.npz", allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
        return cls(
            skus=arrays["skus"], customer_ids=arrays["customer_ids"],
            ranked=Ragged.from_arrays(arrays, "ranked"), history=Ragged.from_arrays(arrays, "history"),
            neighbours=Ragged.from_arrays(arrays, "neighbours"), popular=Ragged.from_arrays(arrays, "popular"),
            popular_global=(arrays["popular_global_items"], arrays["popular_global_scores"]),
            countries=arrays["countries"], customer_country=arrays["customer_country"],
            model_source=meta["model_source"], active=arrays["active"], info=meta.get("info", {}),
        )

    # ------------------------------------------------------------------ served-model contract
    def predict(self, frame: pd.DataFrame, params: Params | None = None) -> pd.DataFrame:
        """``customer_id, rank, sku, score, source``: each customer's top ``k`` (rank 1 first), in input order."""
        default_k = int((params or {}).get("k", DEFAULT_K))
        ks = frame["k"].astype(int).tolist() if "k" in frame else [default_k] * len(frame)
        rows = []
        for customer, k in zip(frame["customer_id"].tolist(), ks, strict=True):
            customer = None if pd.isna(customer) else str(customer)
            for rank, rec in enumerate(self.recommend(customer, k=k), start=1):
                rows.append((customer, rank, rec.sku, rec.score, rec.source))
        out = pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))
        return out.astype({"rank": "int64", "score": "float64"})

    def default_params(self) -> dict[str, object]:
        return {"k": DEFAULT_K}

    @property
    def metadata(self) -> dict[str, object]:
        return self.summary()

    def summary(self) -> dict[str, object]:
        return {
            "customers": self.n_customers, "items": self.n_items, "active_items": int(self.active.sum()),
            "countries": len(self.countries), "model_source": self.model_source, **self.info,
        }
