"""The forecaster's data stage: the demand panel to learn from, the SKU selection and the backtest origins.

The panel (:class:`~features.demand.DemandPanel`, series x periods) and the demand features computed from it
belong to the feature layer (:mod:`features.demand`); this module chooses what to train and evaluate on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.demand import DemandPanel
from shopml.errors import DataValidationError

DEFAULT_HORIZON = {"W": 8, "D": 28}


@dataclass(frozen=True)
class TrainConfig:
    """Which series to forecast and how to evaluate them.

    Parameters
    ----------
    freq, by_region, horizon
        Weekly or daily; also forecast per SKU x region (totals stay coherent); periods ahead.
    top_n
        Keep only the ``top_n`` SKUs by units sold (all when None).
    backtest_origins
        Rolling origins for the backtest, spaced half a horizon apart and ending one horizon before the data.
    """

    freq: str = "W"
    by_region: bool = True
    horizon: int | None = None
    top_n: int | None = None
    backtest_origins: int = 3

    def resolved_horizon(self) -> int:
        return self.horizon or DEFAULT_HORIZON.get(self.freq, 8)


@dataclass
class ForecastData:
    """The demand panel to learn from, its backtest origins and the lineage of the orders behind it."""

    panel: DemandPanel
    products: pd.DataFrame | None
    origins: list[int]
    config: TrainConfig
    fingerprint: str
    source: str = ""
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        return self.config.resolved_horizon()

    @property
    def level(self) -> str:
        return "sku_region" if self.config.by_region else "sku"

    @property
    def origin_dates(self) -> list[str]:
        return [str(self.panel.periods[o].date()) for o in self.origins]

    @property
    def evaluation_key(self) -> str:
        """Same orders, frequency, level, horizon, origins and SKU selection -> comparable backtest metrics."""
        return (f"{self.fingerprint}:{self.config.freq}:{self.level}:h{self.horizon}:{','.join(self.origin_dates)}"
                f":top{self.config.top_n}")


def prepare(tables: dict[str, pd.DataFrame], config: TrainConfig | None = None, *, source: str = "") -> ForecastData:
    """The demand panel (sales lines, guests kept; counts set aside), the SKU selection and backtest origins."""
    from features.cleaning import demand_orders
    from features.store import fingerprint

    config = config or TrainConfig()
    orders, dropped = demand_orders(tables["orders"])
    skus = None
    if config.top_n:
        skus = orders.groupby("sku")["quantity"].sum().nlargest(config.top_n).index.tolist()
    panel = DemandPanel.from_orders(orders, freq=config.freq, by_region=config.by_region, skus=skus)
    origins = backtest_origins(panel.n_periods, config.resolved_horizon(), config.backtest_origins)
    return ForecastData(panel, tables.get("products"), origins, config,
                        fingerprint(orders[["sku", "quantity", "ordered_at"]]), source, dropped)


def backtest_origins(n_periods: int, horizon: int, count: int) -> list[int]:
    """``count`` origins half a horizon apart, the last one a horizon before the end (earliest dropped if short)."""
    gap = max(1, horizon // 2)
    last = n_periods - 1 - horizon
    origins = [last - k * gap for k in reversed(range(count))]
    origins = [o for o in origins if o >= max(4, horizon)]
    if not origins:
        raise DataValidationError(f"{n_periods} periods are too few to backtest a {horizon}-period horizon; "
                                  f"need at least {max(4, horizon) + horizon + 1}.")
    return origins
