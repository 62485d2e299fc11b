"""Content vectors for cold start: tokens, price bands, and similarity that follows category, price and words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.recommend.content import ContentIndex, description_tokens

PRODUCTS = pd.DataFrame({
    "sku": ["A", "B", "C", "D", "E"],
    "description": ["RED HEART MUG", "White heart mug", "GARDEN TOOL SET", "red heart mug, large", None],
    "category": ["kitchen", "kitchen", "garden", "kitchen", "garden"],
    "price": [2.0, 2.5, 10.0, 3.0, 11.0],
})


def test_tokens_are_lower_case_distinct_words_without_stop_words():
    assert description_tokens("RED Heart MUG, red & the SET of 2") == ["red", "heart", "mug"]
    assert description_tokens(None) == [] and description_tokens(float("nan")) == []


def test_similarity_is_bounded_symmetric_and_follows_the_content():
    index = ContentIndex().fit(PRODUCTS)
    sim = index.similarity(np.arange(5))
    assert np.allclose(sim, sim.T, atol=1e-6) and sim.max() <= 1 + 1e-6
    assert np.allclose(np.diag(sim)[:4], 1.0, atol=1e-5)  # E has no words: its own similarity is below 1
    assert sim[0, 3] > sim[0, 1] > sim[0, 2]  # same words > same category and band > other category
    assert sim[2, 4] > sim[2, 0]  # no description: category and price band still place it


def test_neighbours_never_return_the_item_itself_and_respect_the_floor():
    index = ContentIndex().fit(PRODUCTS)
    (items, sims), = index.neighbours(np.array([0]), np.arange(5), keep=3, min_similarity=0.3)
    assert 0 not in items and list(items[:2]) == [3, 1]
    assert (sims > 0.3).all() and list(sims) == sorted(sims, reverse=True)


def test_row_order_and_duplicates_do_not_change_the_result():
    shuffled = pd.concat([PRODUCTS.iloc[::-1], PRODUCTS.iloc[[0]]])
    a, b = ContentIndex().fit(PRODUCTS), ContentIndex().fit(shuffled)
    pos = pd.Index(b.skus_).get_indexer(a.skus_)
    assert np.allclose(a.similarity(np.arange(5)), b.similarity(pos)[:, pos], atol=1e-6)
