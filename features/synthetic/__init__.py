"""A synthetic online shop with known structure, for tests, demos and benchmarks.

``generate_shop(ShopConfig(...))`` returns a :class:`SyntheticShop` whose tables follow the canonical contracts
(:mod:`features.contracts`) and whose ``truth`` holds the parameters that generated them: buy-till-you-die
customers with category tastes, Zipf-popular products, weekly/yearly seasonality with a Christmas peak,
category trends, promotions, returns, regions and warehouses. See ``docs/synthetic.md``.
"""

from features.synthetic.config import (
    DEFAULT_REGIONS,
    CustomerBehaviour,
    DemandShape,
    Region,
    ShopConfig,
    ShopConfigError,
)
from features.synthetic.shop import SyntheticShop, config_for_order_lines, generate_shop

__all__ = [
    "DEFAULT_REGIONS",
    "CustomerBehaviour",
    "DemandShape",
    "Region",
    "ShopConfig",
    "ShopConfigError",
    "SyntheticShop",
    "config_for_order_lines",
    "generate_shop",
]
