"""A small synthetic shop with planted buy-till-you-die structure, prepared and trained once per module."""

from __future__ import annotations

import pytest

from features.synthetic import ShopConfig, generate_shop

SMALL_SHOP = ShopConfig(customers=1_500, products=120, days=540, seed=7)
SMALL_PLAN = {"n_train": 4, "spacing_days": 30}


@pytest.fixture(scope="session")
def small_shop():
    """About 30,000 order lines over 540 days (generated in well under a second)."""
    return generate_shop(SMALL_SHOP)


@pytest.fixture(scope="session")
def small_data(small_shop):
    from training.customers import TrainConfig, prepare

    return prepare(small_shop.tables(), TrainConfig(**SMALL_PLAN))


@pytest.fixture(scope="session")
def churn_result(small_data):
    from training.customers import ChurnParams, fit_churn

    return fit_churn(small_data, ChurnParams(seed=1))


@pytest.fixture(scope="session")
def value_result(small_data):
    from training.customers import ValueParams, fit_value

    return fit_value(small_data, ValueParams(seed=1))
