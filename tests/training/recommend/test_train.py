"""MLflow: logged, registered, promoted only when better; the champion loads back identical."""

import pytest

from shopml.errors import NotTrainedError


def test_no_champion_is_a_clear_error(settings):
    from training.recommend import Recommender
    from training.registry import load_champion

    with pytest.raises(NotTrainedError, match="shopml train recommender"):
        load_champion(Recommender, settings)


@pytest.mark.slow
def test_train_register_promote_and_reload_identical(settings, shop_tables, cutoff, small_config):
    import mlflow

    from training.recommend import Recommender, train_recommender
    from training.registry import load_champion

    outcome = train_recommender(settings, shop_tables, params=small_config, cutoff=cutoff)
    assert outcome.promoted and outcome.version == "1"
    run = mlflow.get_run(outcome.run_id)
    assert "protocol.ease.ndcg_at_10" in run.data.metrics and "ndcg_at_10" in run.data.metrics
    assert "protocol.popularity.recall_at_20" in run.data.metrics
    model, versions = load_champion(Recommender, settings)
    assert versions == {"recommender": "1"}
    ids = [*outcome.result.recommender.customer_ids[::40].tolist(), "nobody"]
    assert all(model.recommend(c, k=10) == outcome.result.recommender.recommend(c, k=10) for c in ids)
    second = train_recommender(settings, shop_tables, params=small_config, cutoff=cutoff)
    assert not second.promoted and "does not beat" in second.reason
    assert load_champion(Recommender, settings).version == "1"
    predicted = mlflow.pyfunc.load_model("models:/recommender@champion").predict(
        __import__("pandas").DataFrame({"customer_id": [ids[0]], "k": [4]}))
    assert predicted["sku"].tolist() == [r.sku for r in model.recommend(ids[0], k=4)]
