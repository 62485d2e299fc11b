"""Live recommendations: the precomputed lists blended with the shopper's session, cold-start items and rules.

:class:`LiveRecommender` wraps a trained :class:`~training.recommend.predict.Recommender` and, at construction,
precomputes per-item neighbour arrays over the *live catalogue* (the recommender's items followed by products
that have not sold yet), so that a request is a few numpy gathers and a short Python walk:

* **session blending** (:class:`BlendConfig`): the session's recent events ``e_1 .. e_m`` (oldest first) weigh
  ``kind_weight * 0.5 ** ((m - i) / half_life_events)``; each event item spreads its weight over its neighbours
  (item-kNN similarity, or content similarity for a new item), the sums are scaled to a maximum of 1 and blended
  with the rank score ``1 / log2(rank + 2)`` of the precomputed list:
  ``(1 - weight + 0.01) * static + weight * session`` (the 0.01 keeps the list as tie-breaker and filler).
  Items added to the cart or bought in the session are not recommended again (views may be);
* **cold start**: a product in ``products`` that the model has never seen gets content neighbours
  (:class:`~training.recommend.content.ContentIndex`: category, price band, description tokens), appears in the
  similar-item lists of the known items it resembles (similarity at least ``cold_min_similarity``) and, for a
  known customer whose purchases are at least ``cold_min_share`` in its category, up to ``cold_per_list`` such
  items enter the list with score ``cold_weight * share``;
* **rules** (:class:`ListRules`, compiled by the service from its rules file and the request): filters (stock,
  category, price), boosts (score multipliers), pins (fixed positions) and at most N items per category. Each
  answer names the rules that changed it (removed, moved or added an item).

Without a session, rules or a cold item for the customer, the answer is the wrapped recommender's, unchanged.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from training.recommend.content import ContentIndex
from training.recommend.predict import MAX_K, SOURCE_GLOBAL, SOURCE_SIMILAR, Recommendation, Recommender

EVENT_KINDS = ("view", "add_to_cart", "purchase")
SOURCE_SESSION = "session"
SOURCE_COLD = "cold_start"
SOURCE_CONTENT = "content"
SOURCE_PINNED = "pinned"
IN_CART = frozenset({"add_to_cart", "purchase"})
STATIC_FLOOR = 0.01
"""The precomputed list keeps this much weight whatever the blend weight, so that it breaks ties and fills the
list after the session's items (at ``weight = 1`` it only fills)."""
SESSION_MEMO_SIZE = 8192
"""Session blend terms kept per :class:`LiveRecommender` (oldest dropped first). A session's term depends only on
its recent events, which change when ``POST /v1/events`` adds one, so the requests between two events reuse it;
each entry holds only the session's nonzero items (at most events x neighbours)."""


@dataclass(frozen=True)
class BlendConfig:
    """How the session, cold-start items and the precomputed list are blended.

    ``half_life_events`` and ``weight`` were chosen on the validation replay (train before 2011-10-01, October
    invoices; ``bench/recommend.py``), never on the test replay: half-life 0.5 events (the event before the last
    weighs a quarter) and weight 1 (the precomputed list keeps ``STATIC_FLOOR``: it breaks ties and fills) had the
    best NDCG@10 of the 8 x 6 grid (0.227; half-life 1: 0.224, no decay: 0.125, weight 0.9: 0.225, 0.5: 0.153). The kind weights and the cold-start settings
    cannot be measured on Online Retail (no views, no new products) and are stated choices.
    """

    half_life_events: float = 0.5
    weight: float = 1.0
    static_candidates: int = 30
    session_candidates: int = 50
    view_weight: float = 0.5
    cart_weight: float = 1.0
    purchase_weight: float = 1.0
    cold_rank: int = 4
    cold_min_share: float = 0.25
    cold_per_list: int = 2
    cold_min_similarity: float = 0.5
    cold_neighbours: int = 5

    def __post_init__(self) -> None:
        if not self.half_life_events > 0:
            raise ValueError(f"half_life_events must be > 0, got {self.half_life_events}")
        if not 0 <= self.weight <= 1:
            raise ValueError(f"weight must be in [0, 1], got {self.weight}")
        for name in ("static_candidates", "session_candidates"):
            if not 1 <= getattr(self, name) <= MAX_K:
                raise ValueError(f"{name} must be in 1..{MAX_K}, got {getattr(self, name)}")
        if not 1 <= self.cold_rank <= MAX_K:
            raise ValueError(f"cold_rank must be in 1..{MAX_K}, got {self.cold_rank}")
        for name in ("view_weight", "cart_weight", "purchase_weight"):
            if not 0 <= getattr(self, name) <= 10:
                raise ValueError(f"{name} must be in [0, 10], got {getattr(self, name)}")

    def kind_weight(self, kind: str) -> float:
        return {"view": self.view_weight, "add_to_cart": self.cart_weight, "purchase": self.purchase_weight}[kind]


@dataclass(frozen=True)
class SessionEvent:
    """One storefront event of a session: the SKU and what the shopper did (view, add_to_cart, purchase)."""

    sku: str
    kind: str = "view"


@dataclass(frozen=True)
class ListRules:
    """Constraints on one answer, over the live catalogue's item indices.

    Attributes
    ----------
    filters
        ``(name, allowed)`` boolean masks: an item whose mask is False never appears (stock, category, price).
    boosts
        ``(name, items, factor)``: the blended score of these items is multiplied by ``factor``.
    pins
        ``(name, item, position)``: the item is placed at ``position`` (1 = first) if the filters allow it.
    max_per_category
        At most this many items of one category (None: no cap).
    """

    filters: tuple[tuple[str, np.ndarray], ...] = ()
    boosts: tuple[tuple[str, np.ndarray, float], ...] = ()
    pins: tuple[tuple[str, int, int], ...] = ()
    max_per_category: int | None = None
    allowed: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    boost_sets: tuple[frozenset[int], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "boost_sets", tuple(frozenset(np.asarray(m).tolist()) for _, m, _ in self.boosts))
        if self.filters:
            allowed = self.filters[0][1].copy()
            for _, mask in self.filters[1:]:
                allowed &= mask
            object.__setattr__(self, "allowed", allowed)

    @property
    def empty(self) -> bool:
        return not (self.filters or self.boosts or self.pins or self.max_per_category)


NO_RULES = ListRules()


@dataclass
class LiveAnswer:
    """Items, best first, with the rules that changed the list and how many session events were used."""

    items: list[Recommendation]
    rules_applied: list[str]
    session_events: int = 0


class LiveRecommender:
    """Session blending, cold start and rules over a trained :class:`Recommender` (numpy state, no pandas per call).

    Parameters
    ----------
    base
        The trained recommender (its lists, neighbours and fallbacks).
    products
        The ``products`` table (``sku, description, category, price``); SKUs in it that ``base`` does not know are
        the cold-start items. None: no categories, prices or cold start.
    config
        Blend settings.
    """

    def __init__(self, base: Recommender, products: pd.DataFrame | None = None,
                 config: BlendConfig | None = None) -> None:
        self.base = base
        self.config = config or BlendConfig()
        n_base = base.n_items
        cold: list[str] = []
        content: ContentIndex | None = None
        if products is not None and len(products):
            content = ContentIndex().fit(products)
            cold = [s for s in content.skus_.tolist() if not base.knows_item(s)]
        # object first: the base's fixed-width string dtype would truncate a longer new SKU
        self.skus = np.asarray([*base.skus.tolist(), *cold]).astype(str) if cold else base.skus
        self.n_items = len(self.skus)
        self.n_cold = len(cold)
        self._sku_list: list[str] = self.skus.tolist()
        self._index = {s: j for j, s in enumerate(self._sku_list)}
        self.category = np.full(self.n_items, -1, dtype="int32")
        self.price = np.full(self.n_items, np.nan, dtype="float64")
        self.categories = np.zeros(0, dtype=str)
        content_pos = np.full(self.n_items, -1, dtype="int64")
        if content is not None:
            pos = pd.Index(content.skus_).get_indexer(self.skus)
            content_pos = pos.astype("int64")
            has = pos >= 0
            self.category[has] = content.category_[pos[has]]
            self.price[has] = content.price_[pos[has]]
            self.categories = content.categories_
        self._category_index = {c: i for i, c in enumerate(self.categories.tolist())}
        self._category_list: list[int] = self.category.tolist()
        self.nbr_items, self.nbr_scores = self._neighbour_arrays(content, content_pos, n_base)
        self._customer_categories(n_base)
        self.cold_by_category: dict[int, np.ndarray] = {}
        if self.n_cold:
            cold_idx = np.arange(n_base, self.n_items)
            for c in np.unique(self.category[cold_idx]):
                if c >= 0:
                    self.cold_by_category[int(c)] = cold_idx[self.category[cold_idx] == c]
        self._pop_order = np.concatenate([base.popular_global[0].astype("int64"), np.arange(n_base, self.n_items)])
        self._rank_log2 = np.log2(np.arange(MAX_K) + 2.0)  # log2(rank + 2) of the precomputed list's ranks
        self._session_memo: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._session_memo_lock = threading.Lock()

    # ------------------------------------------------------------------ construction
    def _neighbour_arrays(self, content: ContentIndex | None, content_pos: np.ndarray,
                          n_base: int) -> tuple[np.ndarray, np.ndarray]:
        """Dense ``(n_items, width)`` neighbour indices (-1 padding) and scores, best first per row."""
        cfg = self.config
        ragged = self.base.neighbours
        lengths = np.diff(ragged.indptr).astype("int64")
        width = int(max(lengths.max(initial=0), 1)) + (cfg.cold_neighbours if self.n_cold else 0)
        items = np.full((self.n_items, width), -1, dtype="int32")
        scores = np.zeros((self.n_items, width), dtype="float32")
        rows = np.repeat(np.arange(n_base), lengths)
        cols = np.arange(len(ragged.items)) - np.repeat(ragged.indptr[:-1], lengths)
        items[rows, cols] = ragged.items
        scores[rows, cols] = ragged.scores
        if not self.n_cold or content is None:
            return items, scores
        everything = content_pos[content_pos >= 0]
        cold_pos = content_pos[n_base:]
        live_of = np.full(content.n_items, -1, dtype="int64")
        live_of[content_pos[content_pos >= 0]] = np.flatnonzero(content_pos >= 0)
        row_max = np.where(scores[:, 0] > 0, scores[:, 0], 1.0)
        extra: dict[int, list[tuple[int, float]]] = {}
        for c_live, (nbrs, sims) in zip(range(n_base, self.n_items),
                                        content.neighbours(cold_pos, everything, width), strict=True):
            live = live_of[nbrs]
            items[c_live, : len(live)] = live
            scores[c_live, : len(live)] = sims
            for j, s in zip(live.tolist(), sims.tolist(), strict=True):
                if j < n_base and s >= cfg.cold_min_similarity:
                    extra.setdefault(j, []).append((c_live, s))
        for j, added in extra.items():
            added = sorted(added, key=lambda t: (-t[1], t[0]))[: cfg.cold_neighbours]
            n = int(lengths[j])
            merged = [(int(i), float(s)) for i, s in zip(items[j, :n], scores[j, :n], strict=True)]
            merged += [(c, s * float(row_max[j])) for c, s in added]
            merged.sort(key=lambda t: -t[1])
            items[j, : len(merged)] = [m[0] for m in merged]
            scores[j, : len(merged)] = [m[1] for m in merged]
        return items, scores

    def _customer_categories(self, n_base: int) -> None:
        """Each known customer's most bought category and its share of their items."""
        history = self.base.history
        n_customers = self.base.n_customers
        self.customer_category = np.full(n_customers, -1, dtype="int32")
        self.customer_share = np.zeros(n_customers, dtype="float32")
        if not len(self.categories) or not len(history.items):
            return
        lengths = np.diff(history.indptr)
        rows = np.repeat(np.arange(n_customers), lengths)
        cats = self.category[history.items]
        keep = cats >= 0
        counts = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cats[keep])),
                               shape=(n_customers, len(self.categories))).tocoo()
        totals = np.bincount(counts.row, weights=counts.data, minlength=n_customers)
        # per customer, the category bought most (the lowest code on ties), vectorised: scipy's row-wise argmax
        # loops in Python over the rows (a test checks this equals it)
        order = np.lexsort((counts.col, -counts.data, counts.row))
        row = counts.row[order]
        first = order[np.flatnonzero(np.r_[True, row[1:] != row[:-1]])] if len(row) else order
        self.customer_category[counts.row[first]] = counts.col[first]
        self.customer_share[counts.row[first]] = counts.data[first] / totals[counts.row[first]]

    # ------------------------------------------------------------------ lookups
    def item_index(self, sku: str) -> int | None:
        return self._index.get(sku)

    def knows_item(self, sku: str) -> bool:
        return sku in self._index

    def category_codes(self, names: Iterable[str]) -> np.ndarray:
        """Codes of the named categories (unknown names are ignored)."""
        return np.asarray([self._category_index[n] for n in names if n in self._category_index], dtype="int32")

    def category_name(self, j: int) -> str | None:
        c = int(self.category[j])
        return str(self.categories[c]) if c >= 0 else None

    # ------------------------------------------------------------------ requests
    def recommend(
        self,
        customer_id: str | None,
        k: int = 10,
        exclude: Iterable[str] = (),
        country: str | None = None,
        include_purchased: bool = False,
        session: Sequence[SessionEvent] = (),
        rules: ListRules = NO_RULES,
    ) -> LiveAnswer:
        """Top ``k`` items: the precomputed list blended with ``session`` (oldest event first) under ``rules``."""
        base = self.base
        cfg = self.config
        row = base.customer_row(customer_id)
        cold_cat = -1
        if row is not None and self.cold_by_category:
            c = int(self.customer_category[row])
            if c in self.cold_by_category and self.customer_share[row] >= cfg.cold_min_share:
                cold_cat = c
        events = [(self._index[e.sku], e.kind) for e in session if e.sku in self._index]
        exclude = [exclude] if isinstance(exclude, str) else list(exclude)
        if not events and rules.empty and cold_cat < 0 and not exclude:
            skus = base._sku_list
            return LiveAnswer([Recommendation(skus[j], s, src)
                               for j, s, src in base.candidates(customer_id, k, exclude, country, include_purchased)],
                              [])
        excluded = {self._index[s] for s in exclude if s in self._index}
        in_cart = {j for j, kind in events if kind in IN_CART}
        blocked = excluded | in_cart
        n_static = min(MAX_K, max(cfg.static_candidates, 2 * k + 10))
        cart_skus = [self._sku_list[j] for j in in_cart if j < base.n_items]
        static = base.candidates(customer_id, n_static, cart_skus, country, include_purchased)
        w = cfg.weight if events else 0.0
        static_idx = np.array([t[0] for t in static], dtype="int64")
        static_part = np.zeros(self.n_items)
        static_part[static_idx] = (1.0 - w + STATIC_FLOOR) / self._rank_log2[: len(static)]
        total = static_part.copy()
        session_part = None
        if events:
            session_part = np.zeros(self.n_items)
            at, values = self.session_part(events, w)
            session_part[at] = values
            total += session_part
        cold_idx = np.zeros(0, dtype="int64")
        if cold_cat >= 0:
            cold_idx = self.cold_by_category[cold_cat][: cfg.cold_per_list]
            slots = cfg.cold_rank + 0.5 + np.arange(len(cold_idx))
            total[cold_idx] = np.maximum(total[cold_idx], (1.0 - w + STATIC_FLOOR) / np.log2(slots + 1.0))
        applied: dict[str, None] = {}
        for _, members, factor in rules.boosts:
            total[members] *= factor
        allowed = rules.allowed
        pool = total.copy() if allowed is None else np.where(allowed, total, 0.0)
        if blocked:
            pool[list(blocked)] = 0.0
        nz = np.flatnonzero(pool)
        cap = rules.max_per_category
        want = k + 20 if not cap else max(200, 20 * k)  # a category cap may need to look deeper
        if len(nz) > 2 * want:
            nz = np.sort(nz[np.argpartition(-total[nz], want - 1)[:want]])
        order = nz[np.argsort(-total[nz], kind="stable")]  # ties: lower index first (nz is ascending)
        static_src = {t[0]: t[2] for t in static}
        cold_set = set(cold_idx.tolist())

        def source(j: int) -> str:
            if j in cold_set:
                return SOURCE_COLD
            if session_part is not None and session_part[j] > static_part[j]:
                return SOURCE_SESSION
            return static_src.get(j, SOURCE_SESSION)

        # blocked and filtered already: the walk skips retired items and keeps at most `cap` per category
        out = self._walk(_best_first(order, total, 2 * k + 10), k, blocked, rules, applied, source=source,
                         excluded=excluded)
        if excluded and total[list(excluded)].max() > (out[-1][1] if len(out) >= k else 0.0):
            applied["exclude"] = None  # an excluded item scored above the last one shown
        if len(out) < k:
            taken = blocked | {j for j, _, _ in out}
            tail = ((j, 0.0) for j in self._pop_order.tolist() if j not in taken)
            out += self._walk(tail, k - len(out), taken, rules, applied, counts=self._category_counts(out),
                              source=lambda j: SOURCE_GLOBAL)
        if allowed is not None:  # a filter applied when it removed an item that scored above the last one shown
            last = out[-1][1] if len(out) >= k else 0.0
            removed = ~allowed & (total > last)
            if removed.any():
                for name, mask in rules.filters:
                    if (removed & ~mask).any():
                        applied[name] = None
        out = self._pin(out, k, blocked, rules, applied)
        self._note_boosts(out, rules, applied)
        skus = self._sku_list
        items = [Recommendation(skus[j], s, src) for j, s, src in out]
        return LiveAnswer(items, list(applied), len(events))

    def similar_items(self, sku: str, k: int = 10, exclude: Iterable[str] = (),
                      rules: ListRules = NO_RULES) -> LiveAnswer:
        """Items similar to ``sku`` (co-purchase, or content for a new SKU), under ``rules``."""
        j = self._index.get(sku)
        exclude = [exclude] if isinstance(exclude, str) else list(exclude)
        if (j is None or not self.n_cold) and rules.empty and not exclude:
            return LiveAnswer(self.base.similar_items(sku, k, exclude), [])
        self.base._check_k(k)
        excluded = {self._index[s] for s in exclude if s in self._index}
        blocked = set(excluded)
        applied: dict[str, None] = {}
        candidates: list[tuple[int, float]] = []
        n_base = self.base.n_items
        own = SOURCE_SIMILAR
        if j is not None:
            blocked.add(j)
            row_items, row_scores = self.nbr_items[j], self.nbr_scores[j]
            n = int((row_items >= 0).sum())
            own = SOURCE_SIMILAR if j < n_base else SOURCE_CONTENT
            candidates = list(zip(row_items[:n].tolist(), row_scores[:n].tolist(), strict=True))
        out = self._walk(candidates, k, blocked, rules, applied, excluded=excluded,
                         source=lambda i: SOURCE_COLD if i >= n_base and own == SOURCE_SIMILAR else own)
        if len(out) < k:
            taken = blocked | {i for i, _, _ in out}
            tail = ((i, 0.0) for i in self._pop_order.tolist() if i not in taken)
            out += self._walk(tail, k - len(out), taken, rules, applied, counts=self._category_counts(out),
                              source=lambda i: SOURCE_GLOBAL)
        out = self._pin(out, k, blocked, rules, applied)
        self._note_boosts(out, rules, applied)
        skus = self._sku_list
        return LiveAnswer([Recommendation(skus[i], s, src) for i, s, src in out], list(applied))

    # ------------------------------------------------------------------ internals
    def session_part(self, events: Sequence[tuple[int, str]], weight: float) -> tuple[np.ndarray, np.ndarray]:
        """The session's blend term ``weight * session score`` as (items, values) over its nonzero items.

        Memoised by the events (item index and kind, oldest first) and the weight, so that the requests of a session
        between two of its events compute it once; equal to the dense :meth:`_session_scores` times ``weight``.
        """
        key = (tuple(events), weight)
        hit = self._session_memo.get(key)
        if hit is None:
            dense = self._session_scores(list(key[0])) * weight
            at = np.flatnonzero(dense)
            values = dense[at]
            at.flags.writeable = values.flags.writeable = False  # shared by every request of the session
            hit = (at, values)
            with self._session_memo_lock:
                memo = self._session_memo
                while len(memo) >= SESSION_MEMO_SIZE:
                    memo.pop(next(iter(memo)))
                memo[key] = hit
        return hit

    def _session_scores(self, events: list[tuple[int, str]]) -> np.ndarray:
        """Session score of every item (dense, maximum 1): decayed event weights spread over neighbours."""
        cfg = self.config
        m = len(events)
        weight_of = {"view": cfg.view_weight, "add_to_cart": cfg.cart_weight, "purchase": cfg.purchase_weight}
        idx = np.array([j for j, _ in events], dtype="int64")
        kinds = np.array([weight_of[kind] for _, kind in events], dtype="float64")
        decay = np.power(0.5, (m - 1 - np.arange(m)) / cfg.half_life_events)
        rows = self.nbr_items[idx]
        vals = self.nbr_scores[idx] * (kinds * decay)[:, None]
        keep = rows >= 0
        agg = np.bincount(rows[keep], weights=vals[keep], minlength=self.n_items)
        peak = agg.max() if len(agg) else 0.0
        return agg / peak if peak > 0 else agg

    def _note_boosts(self, out, rules: ListRules, applied: dict[str, None]) -> None:
        for (name, _, _), members in zip(rules.boosts, rules.boost_sets, strict=True):
            if any(t[0] in members for t in out):
                applied[name] = None

    def _category_counts(self, out: list[tuple[int, float, str]]) -> dict[int, int]:
        counts: dict[int, int] = {}
        for j, _, _ in out:
            c = int(self.category[j])
            counts[c] = counts.get(c, 0) + 1
        return counts

    def _walk(self, candidates, k: int, blocked: set[int], rules: ListRules, applied: dict[str, None],
              counts: dict[int, int] | None = None, *, source,
              excluded: set[int] | frozenset[int] = frozenset()) -> list[tuple[int, float, str]]:
        """The first ``k`` of ``(item, score)`` candidates that are not blocked and pass the rules."""
        allowed = rules.allowed
        cap = rules.max_per_category
        category = self._category_list
        active = self.base.active
        n_base = self.base.n_items
        counts = {} if counts is None else counts
        out: list[tuple[int, float, str]] = []
        taken = set(blocked)
        if k <= 0:
            return out
        for j, s in candidates:
            if j in taken or (j < n_base and not active[j]):
                if j in excluded:
                    applied["exclude"] = None
                continue
            if allowed is not None and not allowed[j]:
                for name, mask in rules.filters:
                    if not mask[j]:
                        applied[name] = None
                continue
            if cap:
                c = category[j]
                if counts.get(c, 0) >= cap:
                    applied["max_per_category"] = None
                    continue
                counts[c] = counts.get(c, 0) + 1
            taken.add(j)
            out.append((j, s, source(j)))
            if len(out) >= k:
                break
        return out

    def _pin(self, out, k: int, blocked: set[int], rules: ListRules, applied: dict[str, None]):
        if not rules.pins:
            return out
        allowed = rules.allowed
        for name, j, position in sorted(rules.pins, key=lambda p: p[2]):
            if j in blocked or (allowed is not None and not allowed[j]):
                continue
            out = [t for t in out if t[0] != j]
            score = out[min(position - 1, len(out) - 1)][1] if out else 0.0
            out.insert(min(position - 1, len(out)), (j, score if math.isfinite(score) else 0.0, SOURCE_PINNED))
            applied[name] = None
        return out[:k]


def _best_first(order: np.ndarray, scores: np.ndarray, first: int):
    """``(item, score)`` of ``order`` as Python numbers, converted in growing slices: a walk usually stops after
    a few dozen items, and converting a whole candidate list per request is most of its cost."""
    start, size = 0, max(first, 1)
    while start < len(order):
        part = order[start:start + size]
        yield from zip(part.tolist(), scores[part].tolist(), strict=True)
        start += size
        size *= 4
