"""Behaviour on planted tastes: the recommender beats popularity by a wide margin on held-out purchases."""


def test_recommender_beats_popularity_widely_on_planted_tastes(shop_tables, cutoff, small_config):
    from training.recommend import evaluate_protocol

    report = evaluate_protocol(shop_tables["orders"], shop_tables["products"], cutoff, config=small_config)
    table = report.table()
    assert set(table) >= {"popularity", "item_knn", "ease", "recommender"}
    assert table["recommender"]["ndcg@10"] > 1.5 * table["popularity"]["ndcg@10"]
    assert table["ease"]["ndcg@10"] > 1.5 * table["popularity"]["ndcg@10"]
    assert table["recommender"]["coverage@10"] > table["popularity"]["coverage@10"]
