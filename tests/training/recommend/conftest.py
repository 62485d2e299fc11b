"""A small synthetic shop (planted category tastes) and one recommender fitted on it, shared by the tests."""

from __future__ import annotations

import pandas as pd
import pytest

from features.synthetic import ShopConfig, generate_shop

CONFIG = ShopConfig(customers=900, products=150, days=400, seed=7)


@pytest.fixture(scope="session")
def shop_tables() -> dict[str, pd.DataFrame]:
    return generate_shop(CONFIG).tables()


@pytest.fixture(scope="session")
def cutoff(shop_tables) -> pd.Timestamp:
    return shop_tables["orders"]["ordered_at"].max().normalize() - pd.Timedelta(days=29)


@pytest.fixture(scope="session")
def small_config():
    from training.recommend import RecommenderConfig

    return RecommenderConfig(ranker_windows=2, window_days=45, n_estimators=40)


@pytest.fixture(scope="session")
def fitted(shop_tables, cutoff, small_config):
    from training.recommend import fit_recommender

    return fit_recommender(shop_tables["orders"], shop_tables["products"], cutoff, small_config)
