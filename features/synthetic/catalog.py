"""Products and categories: names, prices, Zipf popularity and per-category trends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.synthetic.config import ShopConfig

CATEGORY_NAMES = (
    "kitchen", "home decor", "garden", "lighting", "stationery", "toys", "textiles", "bags",
    "party", "candles", "storage", "christmas", "jewellery", "bath", "pets", "outdoor",
)  # fmt: skip

_COLOURS = ("RED", "BLUE", "WHITE", "PINK", "GREEN", "IVORY", "BLACK", "VINTAGE", "RETRO", "SPOTTY", "FLORAL")
_NOUNS = ("SET", "HOLDER", "BOX", "TIN", "CASE", "FRAME", "CUSHION", "BAG", "SIGN", "JAR", "MUG", "LANTERN")


@dataclass(frozen=True)
class Catalog:
    """The product range.

    Attributes
    ----------
    category_names
        Name of each category.
    category
        Category index of each product.
    popularity
        Within-category choice weight of each product, normalised to sum to 1 within its category.
    category_share
        Share of each category in the global mix (sum of the products' Zipf weights); the mean customer taste.
    price
        List price of each product.
    trend
        Log trend per year of each category's demand.
    skus, descriptions
        Identifiers and names of the products.
    """

    category_names: tuple[str, ...]
    category: np.ndarray
    popularity: np.ndarray
    category_share: np.ndarray
    price: np.ndarray
    trend: np.ndarray
    skus: np.ndarray
    descriptions: np.ndarray

    @property
    def global_share(self) -> np.ndarray:
        """Expected share of each product among fresh (non-repeat) lines, ignoring trends and promotions."""
        return self.category_share[self.category] * self.popularity

    @property
    def cum_popularity(self) -> np.ndarray:
        """Cumulative within-category weights offset by the category index: category ``c`` spans ``(c, c+1]``."""
        order = np.argsort(self.category, kind="stable")
        cum = np.empty(self.category.size)
        cum[order] = self.category[order] + _grouped_cumsum(self.popularity[order], self.category[order])
        last = np.flatnonzero(np.r_[self.category[order][1:] != self.category[order][:-1], True])
        cum[order[last]] = self.category[order[last]] + 1.0  # exact upper ends, immune to rounding
        return cum

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "sku": self.skus,
                "description": self.descriptions,
                "category": np.asarray(self.category_names, dtype=object)[self.category],
                "price": self.price,
            }
        )

    def truth(self) -> pd.DataFrame:
        """Ground truth per product: sku, category, popularity (global share) and base price."""
        return pd.DataFrame(
            {
                "sku": self.skus,
                "category": np.asarray(self.category_names, dtype=object)[self.category],
                "popularity": self.global_share,
                "within_category": self.popularity,
                "base_price": self.price,
            }
        )

    def category_truth(self) -> pd.DataFrame:
        """Ground truth per category: share of the global mix, log trend per year, product count."""
        return pd.DataFrame(
            {
                "category": list(self.category_names),
                "share": self.category_share,
                "trend_per_year": self.trend,
                "products": np.bincount(self.category, minlength=len(self.category_names)).astype(np.int64),
            }
        )


def build_catalog(config: ShopConfig, rng: np.random.Generator) -> Catalog:
    n, k = config.products, config.categories
    names = tuple(CATEGORY_NAMES[i] if i < len(CATEGORY_NAMES) else f"category {i + 1}" for i in range(k))
    # Every category gets at least one product; the rest are spread unevenly (Dirichlet sizes).
    sizes = np.ones(k, dtype=np.int64) + rng.multinomial(n - k, rng.dirichlet(np.full(k, 4.0)))
    category = rng.permutation(np.repeat(np.arange(k), sizes))
    rank = rng.permutation(n) + 1
    zipf = 1.0 / rank.astype(float) ** config.demand.zipf_exponent
    category_total = np.bincount(category, weights=zipf, minlength=k)
    popularity = zipf / category_total[category]
    category_share = category_total / category_total.sum()
    # Category price levels from 1.5 to 15; products spread log-normally around them, on a 5p grid.
    level = np.exp(rng.uniform(np.log(1.5), np.log(15.0), size=k))
    price = np.round(level[category] * rng.lognormal(0.0, 0.45, size=n) * 20) / 20
    price = np.maximum(price, 0.25) - 0.01 * (rng.random(n) < 0.5)  # some 2.99-style prices
    trend = rng.normal(0.0, config.demand.trend_sd, size=k)
    # Numeric stock codes like Online Retail's (five digits while the range allows it).
    codes = 20_000 + rng.choice(max(70_000, 10 * n), size=n, replace=False)
    skus = np.array([str(v) for v in codes], dtype=object)
    descriptions = np.array(
        [
            f"{_COLOURS[c]} {names[cat].upper()} {_NOUNS[m]}"
            for c, cat, m in zip(
                rng.integers(0, len(_COLOURS), n), category, rng.integers(0, len(_NOUNS), n), strict=True
            )
        ],
        dtype=object,
    )
    return Catalog(names, category, popularity, category_share, np.round(price, 2), trend, skus, descriptions)


def _grouped_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each group; ``groups`` must be sorted."""
    cum = np.cumsum(values)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    offset = np.r_[0.0, cum][starts]
    return cum - np.repeat(offset, np.diff(np.r_[starts, values.size]))
