"""Live recommendations: session blending, cold start and rules over the trained recommender.

Invariants: without a session, rules or new products the answer is the recommender's own; rules are never
broken whatever the masks; the session moves the list towards the neighbours of its most recent items; a product
added to ``products`` is found before it has sold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.recommend.live import (
    SOURCE_COLD,
    SOURCE_CONTENT,
    SOURCE_PINNED,
    SOURCE_SESSION,
    BlendConfig,
    ListRules,
    LiveRecommender,
    SessionEvent,
)


@pytest.fixture(scope="module")
def rec(fitted):
    return fitted.recommender


@pytest.fixture(scope="module")
def live(rec, shop_tables):
    return LiveRecommender(rec, shop_tables["products"])


def _skus(answer):
    return [r.sku for r in answer.items]


def test_without_session_rules_or_new_products_the_answer_is_the_recommenders(rec, live):
    assert live.n_cold == 0
    for customer in [*rec.customer_ids[:20].tolist(), "nobody", None]:
        answer = live.recommend(customer, k=10)
        assert answer.items == rec.recommend(customer, k=10) and answer.rules_applied == []
        assert live.similar_items(rec.skus[0], k=5).items == rec.similar_items(rec.skus[0], k=5)


def test_exclusions_give_the_recommenders_order_and_say_so(rec, live):
    customer = str(rec.customer_ids[1])
    top = [r.sku for r in rec.recommend(customer, k=10)]
    answer = live.recommend(customer, k=10, exclude=top[:3])
    assert _skus(answer) == [r.sku for r in rec.recommend(customer, k=10, exclude=top[:3])]
    assert answer.rules_applied == ["exclude"]


def test_cart_items_are_not_recommended_and_the_session_leads(rec, live):
    customer = str(rec.customer_ids[2])
    cart = [str(s) for s in rec.skus[:3]]
    answer = live.recommend(customer, k=10, session=[SessionEvent(s, "add_to_cart") for s in cart])
    assert not set(cart) & set(_skus(answer)) and len(answer.items) == 10
    assert answer.session_events == 3 and answer.items[0].source == SOURCE_SESSION
    neighbours = {str(rec.skus[j]) for s in cart for j in rec.neighbours.row(rec.item_index(s))[0]}
    assert set(_skus(answer)[:5]) <= neighbours
    viewed = live.recommend(customer, k=10, session=[SessionEvent(cart[0], "view")])
    assert viewed.session_events == 1  # a view does not put the item in the cart: it may still be shown


def test_older_events_decay_with_the_half_life(rec, shop_tables):
    a, b = (str(s) for s in rec.skus[[0, 5]])
    events = [SessionEvent(a, "view"), SessionEvent(b, "view")]
    want = [str(rec.skus[j]) for j in rec.neighbours.row(5)[0][:5] if str(rec.skus[j]) != a][:4]
    sharp = LiveRecommender(rec, shop_tables["products"], BlendConfig(half_life_events=0.05, weight=1.0))
    assert _skus(sharp.recommend(None, k=4, session=events)) == want  # the older event weighs 0.5 ** 20
    flat = LiveRecommender(rec, shop_tables["products"], BlendConfig(half_life_events=1e6, weight=1.0))
    swapped = [SessionEvent(b, "view"), SessionEvent(a, "view")]
    assert _skus(flat.recommend(None, k=10, session=events)) == _skus(flat.recommend(None, k=10, session=swapped))


def test_unknown_session_skus_are_ignored(rec, live):
    assert live.recommend(None, k=5, session=[SessionEvent("NO-SUCH-SKU")]).items == rec.recommend(None, k=5)


@pytest.mark.parametrize("seed", range(5))
def test_rules_are_never_broken(rec, live, seed):
    rng = np.random.default_rng(seed)
    stock = rng.random(live.n_items) > 0.3
    price = rng.random(live.n_items) > 0.2
    rules = ListRules(filters=(("stock", stock), ("filter:price", price)), max_per_category=2)
    customer = str(rng.choice(rec.customer_ids))
    session = [SessionEvent(str(s), "view") for s in rng.choice(rec.skus, 4)]
    answer = live.recommend(customer, k=12, session=session, rules=rules)
    idx = [live.item_index(s) for s in _skus(answer)]
    assert len(idx) == len(set(idx)) == 12
    assert stock[idx].all() and price[idx].all()
    assert max(pd.Series(live.category[idx]).value_counts()) <= 2
    assert set(answer.rules_applied) <= {"stock", "filter:price", "max_per_category"}
    assert answer.rules_applied  # 30 % out of stock: some top item was removed


def test_pins_and_boosts_move_items_and_are_named(rec, live):
    customer = str(rec.customer_ids[4])
    plain = _skus(live.recommend(customer, k=10))
    pinned = live.item_index(plain[7])
    outsider = next(j for j in range(live.n_items) if str(live.skus[j]) not in plain)
    rules = ListRules(pins=(("pin:promo", outsider, 2),), boosts=(("boost:b", np.array([pinned]), 100.0),))
    answer = live.recommend(customer, k=10, rules=rules)
    skus = _skus(answer)
    assert skus[1] == str(live.skus[outsider]) and answer.items[1].source == SOURCE_PINNED
    assert skus[0] == plain[7]  # boosted to the top
    assert set(answer.rules_applied) == {"pin:promo", "boost:b"} and len(skus) == 10
    blocked = ListRules(filters=(("stock", np.arange(live.n_items) != outsider),),
                        pins=(("pin:promo", outsider, 1),))
    assert str(live.skus[outsider]) not in _skus(live.recommend(customer, k=10, rules=blocked))


def test_a_new_product_is_found_before_it_sells(rec, shop_tables):
    products = shop_tables["products"]
    model = products[products["sku"] == rec.skus[0]].iloc[0]
    new = pd.DataFrame({"sku": ["NEW-PRODUCT-1"], "description": [f"{model['description']} deluxe"],
                        "category": [model["category"]], "price": [model["price"] * 1.05]})
    live = LiveRecommender(rec, pd.concat([products, new], ignore_index=True))
    assert live.n_cold == 1 and live.knows_item("NEW-PRODUCT-1") and not rec.knows_item("NEW-PRODUCT-1")
    similar = live.similar_items(str(model["sku"]), k=10)
    assert "NEW-PRODUCT-1" in _skus(similar) and similar.items[_skus(similar).index("NEW-PRODUCT-1")].source == SOURCE_COLD
    own = live.similar_items("NEW-PRODUCT-1", k=5)
    assert str(model["sku"]) == own.items[0].sku and {r.source for r in own.items} == {SOURCE_CONTENT}
    code = live.category[live.item_index("NEW-PRODUCT-1")]
    fans = np.flatnonzero((live.customer_category == code) & (live.customer_share >= live.config.cold_min_share))
    others = np.flatnonzero(live.customer_category != code)
    assert len(fans) and len(others)
    for row in fans[:10]:
        answer = live.recommend(str(rec.customer_ids[row]), k=10)
        assert "NEW-PRODUCT-1" in _skus(answer), answer
        assert answer.items[_skus(answer).index("NEW-PRODUCT-1")].source == SOURCE_COLD
    for row in others[:10]:
        assert "NEW-PRODUCT-1" not in _skus(live.recommend(str(rec.customer_ids[row]), k=10))
    session = live.recommend(None, k=10, session=[SessionEvent(str(model["sku"]), "add_to_cart")])
    assert "NEW-PRODUCT-1" in _skus(session)


def _dense_oracle(live, customer, k, exclude, country, include_purchased, session, rules):
    """The blend written the obvious way: a score for every item of the catalogue, sorted, walked once.

    What the live recommender computes sparsely over its candidates (the static list, the session's neighbours,
    the cold-start items), with the category cap applied in the same walk.
    """
    cfg = live.config
    events = [(live.item_index(e.sku), e.kind) for e in session if live.knows_item(e.sku)]
    w = cfg.weight if events else 0.0
    row = live.base.customer_row(customer)
    cold = row is not None and int(live.customer_category[row]) in live.cold_by_category \
        and live.customer_share[row] >= cfg.cold_min_share
    if not events and rules.empty and not cold and not exclude:  # the recommender's own answer, unchanged
        return [(j, s) for j, s, _ in live.base.candidates(customer, k, (), country, include_purchased)]
    excluded = {live.item_index(s) for s in exclude if live.knows_item(s)}
    in_cart = {j for j, kind in events if kind != "view"}
    blocked = excluded | in_cart
    n_static = max(cfg.static_candidates, 2 * k + 10)
    cart_skus = [str(live.skus[j]) for j in in_cart if j < live.base.n_items]
    static = live.base.candidates(customer, n_static, cart_skus, country, include_purchased)
    total = np.zeros(live.n_items)
    for rank, (j, _, _) in enumerate(static):
        total[j] = (1.0 - w + 0.01) / np.log2(rank + 2.0)
    if events:
        total += live._session_scores(events) * w
    if cold:
        for i, j in enumerate(live.cold_by_category[int(live.customer_category[row])][: cfg.cold_per_list]):
            total[j] = max(total[j], (1.0 - w + 0.01) / np.log2(cfg.cold_rank + 1.5 + i))
    for _, members, factor in rules.boosts:
        total[members] *= factor
    allowed = rules.allowed if rules.allowed is not None else np.ones(live.n_items, dtype=bool)
    counts: dict[int, int] = {}
    out: list[tuple[int, float]] = []

    def take(j, score):
        if j in blocked or j in {i for i, _ in out} or not allowed[j]:
            return
        if j < live.base.n_items and not live.base.active[j]:
            return
        c = int(live.category[j])
        if rules.max_per_category and counts.get(c, 0) >= rules.max_per_category:
            return
        counts[c] = counts.get(c, 0) + 1
        out.append((j, score))

    for j in sorted(np.flatnonzero(total).tolist(), key=lambda j: (-total[j], j)):
        if len(out) < k:
            take(j, float(total[j]))
    for j in live._pop_order.tolist():
        if len(out) < k:
            take(j, 0.0)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_the_sparse_blend_equals_a_dense_oracle(rec, live, seed):
    """Fast path equals slow oracle: items and scores of random requests (sessions, exclusions, filters, boosts,
    category caps) match scoring every item of the catalogue and walking the sorted list."""
    rng = np.random.default_rng(100 + seed)
    skus = [str(s) for s in live.skus]
    customers = [*map(str, rng.choice(rec.customer_ids, 10)), "nobody", None]
    for _ in range(60):
        k = int(rng.integers(1, 40))
        cap = int(rng.integers(1, 4)) if rng.random() < 0.6 else None
        filters = (("stock", rng.random(live.n_items) > 0.3),) if rng.random() < 0.7 else ()
        boosts = (("boost:b", rng.choice(live.n_items, 8), float(rng.uniform(0.2, 5))),) if rng.random() < 0.5 else ()
        rules = ListRules(filters=filters, boosts=boosts, max_per_category=cap)
        session = [SessionEvent(str(rng.choice(skus)), str(rng.choice(["view", "view", "add_to_cart"])))
                   for _ in range(int(rng.integers(0, 10)))]
        exclude = [str(s) for s in rng.choice(skus, int(rng.integers(0, 5)))]
        args = (customers[int(rng.integers(len(customers)))], k, exclude, None, bool(rng.random() < 0.2), session,
                rules)
        answer = live.recommend(args[0], k=k, exclude=exclude, include_purchased=args[4], session=session, rules=rules)
        want = _dense_oracle(live, *args)
        assert [r.sku for r in answer.items] == [skus[j] for j, _ in want]
        np.testing.assert_allclose([r.score for r in answer.items], [s for _, s in want], rtol=1e-12)


def test_each_customers_top_category_is_scipys_row_argmax(rec, live):
    """The vectorised per-customer top category and share equal scipy's row-wise argmax (lowest code on ties)."""
    import scipy.sparse as sp

    lengths = np.diff(rec.history.indptr)
    rows = np.repeat(np.arange(rec.n_customers), lengths)
    cats = live.category[rec.history.items]
    keep = cats >= 0
    counts = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cats[keep])),
                           shape=(rec.n_customers, len(live.categories)))
    totals = np.asarray(counts.sum(axis=1)).ravel()
    has = totals > 0
    assert has.any()
    np.testing.assert_array_equal(live.customer_category[has], np.asarray(counts.argmax(axis=1)).ravel()[has])
    np.testing.assert_allclose(live.customer_share[has],
                               (np.asarray(counts.max(axis=1).toarray()).ravel() / np.maximum(totals, 1))[has],
                               rtol=1e-6)
    assert (live.customer_category[~has] == -1).all()


@pytest.mark.parametrize("bad", [{"half_life_events": 0}, {"weight": 1.5}, {"static_candidates": 0},
                                 {"view_weight": -1}, {"cold_rank": 0}])
def test_blend_settings_are_validated(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        BlendConfig(**bad)


def test_random_requests_never_fail_and_keep_every_promise(rec, live):
    """Fuzz: any mix of customer, exclusions, session, rules and k gives a valid list (no exception)."""
    rng = np.random.default_rng(21)
    skus = [str(s) for s in live.skus] + ["UNKNOWN-1", "UNKNOWN-2"]
    customers = [*map(str, rng.choice(rec.customer_ids, 20)), "nobody", None]
    for _ in range(200):
        k = int(rng.integers(1, 101))
        allowed = rng.random(live.n_items) > rng.random()
        pins = tuple((f"pin:{i}", int(rng.integers(live.n_items)), int(rng.integers(1, 101))) for i in range(2))
        boosts = (("boost:b", rng.choice(live.n_items, 5), float(rng.uniform(0.1, 10))),)
        cap = int(rng.integers(1, 6)) if rng.random() < 0.5 else None
        rules = ListRules(filters=(("stock", allowed),) if rng.random() < 0.7 else (), pins=pins, boosts=boosts,
                          max_per_category=cap)
        session = [SessionEvent(str(rng.choice(skus)), str(rng.choice(["view", "add_to_cart", "purchase"])))
                   for _ in range(int(rng.integers(0, 60)))]
        exclude = list(rng.choice(skus, int(rng.integers(0, 20))))
        answer = live.recommend(customers[int(rng.integers(len(customers)))], k=k, exclude=exclude,
                                country=str(rng.choice(["France", "Atlantis"])), session=session, rules=rules,
                                include_purchased=bool(rng.random() < 0.3))
        shown = [live.item_index(r.sku) for r in answer.items]
        assert len(shown) <= k and len(set(shown)) == len(shown) and None not in shown
        assert not set(exclude) & {r.sku for r in answer.items}
        if rules.filters:
            assert allowed[shown].all()
        in_cart = {e.sku for e in session if e.kind != "view"}
        assert not in_cart & {r.sku for r in answer.items}
        assert all(np.isfinite(r.score) for r in answer.items)


class _Unmemoised(LiveRecommender):
    """The oracle of the memoised session term: computed from the events on every request, as before the memo."""

    def session_part(self, events, weight):
        dense = self._session_scores(list(events)) * weight
        at = np.flatnonzero(dense)
        return at, dense[at]


def test_memoised_session_terms_give_the_answers_of_computing_them_every_time(rec, shop_tables):
    """Fast path equals slow oracle: a session's blend term is memoised by its events; answers (items, scores,
    sources, rules applied) are identical to recomputing it per request, on the first call and on memo hits."""
    fast = LiveRecommender(rec, shop_tables["products"])
    slow = _Unmemoised(rec, shop_tables["products"])
    rng = np.random.default_rng(5)
    skus = [str(s) for s in fast.skus]
    customers = [*map(str, rng.choice(rec.customer_ids, 10)), None]
    sessions = [[SessionEvent(str(rng.choice(skus)), str(rng.choice(["view", "view", "add_to_cart", "purchase"])))
                 for _ in range(int(rng.integers(1, 12)))] for _ in range(15)]
    rules = ListRules(filters=(("stock", rng.random(fast.n_items) > 0.3),), max_per_category=3,
                      boosts=(("boost:b", rng.choice(fast.n_items, 20), 1.2),), pins=(("pin:p", 3, 2),))
    for round_no in range(2):  # the first round fills the memo, the second reads it
        for i, session in enumerate(sessions):
            ask = {"customer_id": customers[i % len(customers)], "k": int(rng.integers(1, 30)), "session": session,
                   "rules": rules if i % 2 else ListRules()}
            got, want = fast.recommend(**ask), slow.recommend(**ask)
            assert [(r.sku, r.score, r.source) for r in got.items] == \
                [(r.sku, r.score, r.source) for r in want.items], (round_no, i)
            assert (got.rules_applied, got.session_events) == (want.rules_applied, want.session_events)
    assert 0 < len(fast._session_memo) <= len(sessions)
    events = [(fast.item_index(e.sku), e.kind) for e in sessions[0]]
    at, values = fast.session_part(events, 0.7)
    dense = np.zeros(fast.n_items)
    dense[at] = values
    np.testing.assert_array_equal(dense, fast._session_scores(events) * 0.7)
    assert not values.flags.writeable  # shared between requests: nobody may change it in place


def test_the_rank_discounts_do_not_depend_on_the_list_length(live):
    """The precomputed ``log2(rank + 2)`` sliced to a list's length equals computing it for that length."""
    for n in range(101):
        np.testing.assert_array_equal(live._rank_log2[:n], np.log2(np.arange(n) + 2.0))


def test_the_session_memo_is_bounded(rec, shop_tables, monkeypatch):
    import training.recommend.live as live_module

    monkeypatch.setattr(live_module, "SESSION_MEMO_SIZE", 3)
    fresh = LiveRecommender(rec, shop_tables["products"])
    for j in range(10):
        fresh.session_part([(j, "view")], 1.0)
    assert list(fresh._session_memo) == [(((j, "view"),), 1.0) for j in (7, 8, 9)]  # the oldest went first
