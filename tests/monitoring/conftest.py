"""A tiny synthetic shop for the monitoring tests (200 customers, 60 products, 150 days: about 3,000 lines,
generated in well under a second), and a slightly larger one for the alerts (a quiet year of daily series)."""

from __future__ import annotations

import pytest

from features.synthetic import ShopConfig, generate_shop


@pytest.fixture(scope="session")
def tiny_shop():
    return generate_shop(ShopConfig(customers=200, products=60, categories=6, days=150, seed=11))


@pytest.fixture(scope="session")
def alert_shop():
    """Large enough for stable daily series: 8,000 customers over a year (about 100 orders a day)."""
    return generate_shop(ShopConfig(customers=8_000, products=200, days=365, start="2023-03-01", seed=5))
