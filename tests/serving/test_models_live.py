"""Model endpoints of the running service against the same champions used in-process (registry faults and the
last-good copies: test_faults.py)."""

from __future__ import annotations

import pytest


def test_customer_scores_match_the_scorer(server, expected_scores):
    ids = [*expected_scores.index[:7], "nobody", expected_scores.index[0]]
    status, answer = server.call("POST", "/v1/customers/score", {"customer_ids": ids}, key="marketing")
    assert status == 200, answer
    assert answer["unknown"] == ["nobody"]
    assert [c["customer_id"] for c in answer["customers"]] == [*ids[:7], ids[0]]
    assert set(answer["model_versions"]) == {"churn", "customer_value"}
    assert len(answer["as_of"]) == 10
    for row in answer["customers"]:
        want = expected_scores.loc[row["customer_id"]]
        for column in ("churn_probability", "predicted_value", "p_alive", "expected_orders"):
            assert row[column] == pytest.approx(float(want[column]), rel=1e-9, abs=1e-12), column
        assert row["segment"] == want["segment"]


def test_audience_filters_pages_and_csv(server, expected_scores):
    segment = expected_scores["segment"].value_counts().index[0]
    want = expected_scores[expected_scores["segment"] == segment].sort_values(
        "predicted_value", ascending=False, kind="stable")
    body = {"segments": [segment], "page_size": 5}
    status, first = server.call("POST", "/v1/audiences", body, key="marketing")
    assert status == 200 and first["total"] == len(want)
    status, second = server.call("POST", "/v1/audiences", {**body, "page": 2}, key="marketing")
    got = [c["customer_id"] for c in first["customers"] + second["customers"]]
    assert got == list(want.index[:10])
    values = [c["predicted_value"] for c in first["customers"]]
    assert values == sorted(values, reverse=True)
    status, text = server.call("POST", "/v1/audiences", {**body, "format": "csv", "top_n": 3}, key="marketing")
    assert status == 200 and text.splitlines()[0].startswith("customer_id,")
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == list(want.index[:3])
    status, empty = server.call("POST", "/v1/audiences", {"min_value": 1e12}, key="marketing")
    assert status == 200 and empty["total"] == 0 and empty["customers"] == []


def test_forecast_matches_the_champion(server, shop):
    from shopml.settings import load_settings
    from training.forecast import Forecaster
    from training.registry import load_champion

    if shop.trained.get("forecast") != "ok":
        status, answer = server.call("POST", "/v1/forecast", {"horizon": 2}, key="logistics")
        assert status == 503 and "shopml train forecast" in answer["error"]
        return
    forecaster, _ = load_champion(Forecaster, load_settings(data_home=shop.home))
    skus = [str(s) for s in list(forecaster.skus)[:3]]
    status, answer = server.call("POST", "/v1/forecast", {"skus": skus, "horizon": 3, "quantiles": [0.1, 0.5, 0.9]},
                                 key="logistics")
    assert status == 200, answer
    want = forecaster.forecast(skus=skus, horizon=3, quantiles=(0.1, 0.5, 0.9))
    assert len(answer["rows"]) == len(want)
    got = {(r["sku"], r["region"], r["horizon"]): r["quantiles"] for r in answer["rows"]}
    for row in want.to_dict("records"):
        q = got[(str(row["sku"]), str(row["region"]), int(row["horizon"]))]
        assert q["p50"] == pytest.approx(float(row["p50"]))
        assert q["p10"] <= q["p50"] <= q["p90"]
    status, answer = server.call("POST", "/v1/forecast", {"skus": ["no-such-sku"]}, key="logistics")
    assert status == 400 and "no-such-sku" in answer["error"]


@pytest.fixture(scope="module")
def recommender(shop):
    from shopml.settings import load_settings
    from training.recommend import Recommender
    from training.registry import load_champion

    if shop.trained.get("recommender") != "ok":
        pytest.skip(f"recommender not trained: {shop.trained.get('recommender')}")
    model, _ = load_champion(Recommender, load_settings(data_home=shop.home))
    return model


def test_recommend_matches_the_champion(server, recommender):
    customers = [str(c) for c in recommender.customer_ids[:5]]
    for customer in [*customers, "never-seen", None]:
        status, answer = server.call("POST", "/v1/recommend", {"customer_id": customer, "k": 7}, key="storefront")
        assert status == 200, answer
        want = recommender.recommend(customer, k=7)
        assert [i["sku"] for i in answer["items"]] == [r.sku for r in want]
        assert answer["known_customer"] == (customer in customers)
    first = server.call("POST", "/v1/recommend", {"customer_id": customers[0], "k": 5}, key="storefront")[1]
    banned = [first["items"][0]["sku"], first["items"][2]["sku"]]
    status, answer = server.call("POST", "/v1/recommend", {"customer_id": customers[0], "k": 5, "exclude": banned},
                                 key="storefront")
    skus = [i["sku"] for i in answer["items"]]
    assert status == 200 and len(skus) == 5 and not set(banned) & set(skus)


def test_similar_items_match_the_champion(server, recommender):
    sku = str(recommender.skus[0])
    status, answer = server.call("POST", "/v1/similar-items", {"sku": sku, "k": 4}, key="storefront")
    assert status == 200 and answer["known_item"]
    assert [i["sku"] for i in answer["items"]] == [r.sku for r in recommender.similar_items(sku, k=4)]
    assert sku not in [i["sku"] for i in answer["items"]]
    status, answer = server.call("POST", "/v1/similar-items", {"sku": "no-such-sku", "k": 4}, key="storefront")
    assert status == 200 and not answer["known_item"]


def test_reload_under_load_drops_no_request(server, recommender):
    """Requests keep flowing (all 200) while the admin reloads every champion."""
    from concurrent.futures import ThreadPoolExecutor

    customers = [str(c) for c in recommender.customer_ids[:20]]

    def ask(i: int) -> int:
        return server.call("POST", "/v1/recommend", {"customer_id": customers[i % 20], "k": 5}, key="storefront")[0]

    with ThreadPoolExecutor(max_workers=4) as pool:
        pending = [pool.submit(ask, i) for i in range(300)]
        status, answer = server.call("POST", "/v1/admin/reload", key="admin")
        statuses = [f.result() for f in pending]
    assert status == 200 and answer["ready"]
    assert statuses == [200] * 300
