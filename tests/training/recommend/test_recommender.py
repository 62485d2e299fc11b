import numpy as np
import pytest

from training.recommend import MAX_K, Recommender, RecommendRequestError, fit_recommender
from training.recommend.predict import SOURCE_BUY_AGAIN, SOURCE_COUNTRY, SOURCE_GLOBAL, SOURCE_SIMILAR


@pytest.fixture(scope="module")
def rec(fitted) -> Recommender:
    return fitted.recommender


@pytest.fixture(scope="module")
def known(rec) -> str:
    return str(rec.customer_ids[0])


def test_known_customer_gets_model_items_never_bought(rec, known):
    out = rec.recommend(known, k=10)
    assert len(out) == 10 and {r.source for r in out} == {rec.model_source}
    bought = set(rec.skus[rec.history.row(0)[0]])
    assert not bought & {r.sku for r in out}
    assert [r.score for r in out] == sorted((r.score for r in out), reverse=True)


def test_unknown_customer_falls_back_to_country_then_global(rec):
    assert not rec.knows_customer("nobody")
    out = rec.recommend("nobody", k=5, country="France")
    assert [r.source for r in out] == [SOURCE_COUNTRY] * 5
    assert {r.source for r in rec.recommend(None, k=5)} == {SOURCE_GLOBAL}
    assert {r.source for r in rec.recommend("nobody", k=5, country="Atlantis")} == {SOURCE_GLOBAL}


def test_exclusions_and_retired_items_never_appear(rec, known):
    first = rec.recommend(known, k=10)
    excluded = [r.sku for r in first[:3]]
    out = rec.recommend(known, k=10, exclude=excluded)
    assert not set(excluded) & {r.sku for r in out} and len(out) == 10


def test_everything_excluded_falls_back_and_whole_catalogue_gives_short_list(rec, known):
    own = [r.sku for r in rec.recommend(known, k=MAX_K)]
    out = rec.recommend(known, k=5, exclude=own)
    assert len(out) == 5 and not set(own) & {r.sku for r in out}
    assert rec.recommend(known, k=5, exclude=rec.skus.tolist()) == []


def test_buy_again_lists_own_purchases_first(rec, known):
    out = rec.recommend(known, k=MAX_K, include_purchased=True)
    bought = set(rec.skus[rec.history.row(0)[0]])
    sources = [r.source for r in out]
    n_again = sources.count(SOURCE_BUY_AGAIN)
    assert n_again == min(len(bought), MAX_K) and sources[:n_again] == [SOURCE_BUY_AGAIN] * n_again
    assert {r.sku for r in out[:n_again]} <= bought


def test_similar_items_and_unknown_item(rec):
    sku = str(rec.skus[0])
    out = rec.similar_items(sku, k=5)
    assert len(out) == 5 and sku not in {r.sku for r in out} and out[0].source == SOURCE_SIMILAR
    assert not rec.knows_item("NOPE") and {r.source for r in rec.similar_items("NOPE", k=3)} == {SOURCE_GLOBAL}


@pytest.mark.parametrize("k", [0, -1, MAX_K + 1, 2.5, "3", True])
def test_bad_k_is_a_clear_error(rec, known, k):
    with pytest.raises(RecommendRequestError, match="k must be"):
        rec.recommend(known, k=k)
    with pytest.raises(RecommendRequestError):
        rec.similar_items(str(rec.skus[0]), k=k)


def test_batch_equals_single_requests(rec):
    ids = [*rec.customer_ids[:20].tolist(), "nobody", None]
    batch = rec.recommend_batch(ids, k=7, exclude=[str(rec.skus[1])])
    assert all(batch[c] == rec.recommend(c, k=7, exclude=[str(rec.skus[1])]) for c in ids)


def test_retire_removes_items(shop_tables, cutoff, small_config, tmp_path):
    fresh = Recommender.load(fit_recommender(shop_tables["orders"], shop_tables["products"], cutoff,
                                             small_config).recommender.save(tmp_path / "r"))
    top = fresh.recommend(None, k=3)
    assert fresh.retire([top[0].sku, "UNKNOWN"]) == 1
    assert top[0].sku not in {r.sku for r in fresh.recommend(None, k=10)}


def test_save_load_gives_identical_recommendations(rec, tmp_path):
    loaded = Recommender.load(rec.save(tmp_path / "model"))
    ids = [*rec.customer_ids[::50].tolist(), "nobody"]
    assert all(loaded.recommend(c, k=20) == rec.recommend(c, k=20) for c in ids)
    assert loaded.similar_items(str(rec.skus[3])) == rec.similar_items(str(rec.skus[3]))


def test_same_data_same_recommendations(fitted, shop_tables, cutoff, small_config):
    again = fit_recommender(shop_tables["orders"], shop_tables["products"], cutoff, small_config).recommender
    assert np.array_equal(again.ranked.items, fitted.recommender.ranked.items)
    assert np.allclose(again.ranked.scores, fitted.recommender.ranked.scores)


def test_ranker_was_trained_on_windows_before_the_cutoff(fitted, cutoff):
    assert fitted.ranker is not None and fitted.windows
    assert all(end <= f"{cutoff:%Y-%m-%d}" for _, end, _ in fitted.windows)
