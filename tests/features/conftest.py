"""A small synthetic shop shared by the feature tests (generated once per module)."""

from __future__ import annotations

import pandas as pd
import pytest

from features.synthetic import ShopConfig, generate_shop


@pytest.fixture(scope="module")
def small_shop():
    return generate_shop(ShopConfig(customers=300, products=80, days=240, seed=7))


@pytest.fixture(scope="module")
def small_orders(small_shop) -> pd.DataFrame:
    return small_shop.orders
