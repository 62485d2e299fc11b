import numpy as np
import pytest
import scipy.sparse as sp

from training.recommend.data import training_data
from training.recommend.ease import EASE
from training.recommend.itemknn import ItemKNN
from training.recommend.popularity import Popularity


@pytest.fixture(scope="module")
def data(shop_tables, cutoff):
    return training_data(shop_tables["orders"], cutoff, shop_tables["products"])


def test_ease_matches_per_item_ridge_oracle(data):
    lam = 50.0
    model = EASE(lam).fit(data)
    x = data.binary().toarray().astype("float64")
    b = np.asarray(model.weights_)
    assert np.allclose(np.diag(b), 0.0)
    for j in (0, 7, data.n_items - 1):
        others = np.delete(np.arange(data.n_items), j)
        a = x[:, others]
        w = np.linalg.solve(a.T @ a + lam * np.eye(len(others)), a.T @ x[:, j])
        assert np.allclose(b[others, j], w, atol=2e-4)


def test_ease_pruned_and_restricted_variants_stay_close(data):
    full = EASE(100.0).fit(data)
    pruned = EASE(100.0, neighbours=data.n_items).fit(data)
    assert sp.issparse(pruned.weights_)
    assert np.allclose(pruned.weights_.toarray(), full.weights_, atol=1e-6)
    restricted = EASE(100.0, max_items=50).fit(data)
    outside = np.setdiff1d(np.arange(data.n_items), restricted.items_)
    assert np.all(np.asarray(restricted.weights_)[outside] == 0)


def test_itemknn_equals_brute_force_cosine(data):
    model = ItemKNN(neighbours=data.n_items).fit(data)
    x = data.binary().toarray()
    norms = np.linalg.norm(x, axis=0)
    cos = (x.T @ x) / np.outer(norms, norms)
    np.fill_diagonal(cos, 0.0)
    assert np.allclose(model.similarity_.toarray(), cos, atol=1e-5)


def test_popularity_counts_distinct_buyers(data):
    pop = Popularity("global").fit(data)
    expected = np.asarray(data.binary().sum(axis=0)).ravel()
    assert np.allclose(pop.scores_, expected)
    rows = np.arange(3)
    assert np.allclose(pop.score(data, rows)[0], pop.score(data, rows)[2])


def test_country_popularity_differs_by_country(data):
    pop = Popularity("country").fit(data)
    countries = sorted(pop.by_country_)
    assert len(countries) > 1
    assert not np.allclose(pop.item_scores(countries[0]), pop.item_scores(countries[1]))
    assert np.allclose(pop.item_scores("Atlantis"), pop.item_scores(None))
