"""A synthetic online shop with known structure, for tests, demos and benchmarks.

``generate_shop(ShopConfig(...))`` returns a :class:`SyntheticShop` whose tables follow the canonical contracts
(:mod:`features.contracts`) and whose ``truth`` holds the parameters that generated them: buy-till-you-die
customers with category tastes, Zipf-popular products, weekly/yearly seasonality with a Christmas peak,
category trends, promotions, returns, regions and warehouses. ``write_chunked_shop(ChunkedShopConfig(N))``
writes a shop of about ``N`` order lines, too big for memory, chunk by chunk. See ``docs/synthetic.md``.
"""

from features.synthetic.chunked import (
    ChunkedShopConfig,
    ShopChunk,
    ShopOutputError,
    WrittenShop,
    check_output,
    generate_chunks,
    write_chunked_shop,
)
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
    "ChunkedShopConfig",
    "ShopChunk",
    "ShopOutputError",
    "WrittenShop",
    "check_output",
    "generate_chunks",
    "write_chunked_shop",
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
