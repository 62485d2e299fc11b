"""Business rules of the recommendations, as data: a validated JSON file compiled to masks over the catalogue.

The file is ``settings.rules_path`` (``<data_home>/rules/recommend.json`` by default); without it no rule
applies. The service reads it at start and whenever it changes (checked every ``recommend_refresh_seconds`` off
the request path, with the ``products`` and ``stock`` tables); a file that fails validation is refused with the
field named, logged, reported in ``GET /v1/models`` (the recommender's ``note``), and the rules in force are kept.

Example (every key is optional)::

    {
      "stock": {"max_extra_km": 300},
      "exclude_categories": ["gift cards"],
      "include_categories": null,
      "min_price": 0.5, "max_price": null,
      "exclude_skus": ["POST"],
      "max_per_category": 3,
      "pins": [{"name": "xmas-lights", "sku": "23084", "position": 1, "countries": ["United Kingdom"]}],
      "boosts": [{"name": "own-brand", "categories": ["kitchen"], "factor": 1.3}]
    }

Stock: an item is recommended to a shopper of region ``r`` only if the warehouses serving ``r`` hold it
(``stock.on_hand > 0`` summed over them). A warehouse serves ``r`` when its distance to the region's centre is
within ``max_extra_km`` of the nearest warehouse's (the nearest always does): the same geography the synthetic
shop splits demand by and :mod:`optimization.allocation` prices shipping with. A region missing from
``regions`` (or a shopper without one) is served by every warehouse. SKUs without a stock row have no stock.

Names in ``rules_applied``: ``stock``, ``filter:category``, ``filter:price``, ``filter:sku`` (the file's
filters), ``request:category``, ``request:price`` (the request's), ``exclude`` (the request's exclusions),
``max_per_category``, ``pin:<name>``, ``boost:<name>`` (name defaults to the SKU or the first category).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from serving import limits
from shopml.geo import haversine_km
from training.recommend.live import ListRules, LiveRecommender

logger = logging.getLogger(__name__)

Name = Annotated[str, Field(min_length=1, max_length=100)]
Sku = Annotated[str, Field(min_length=1, max_length=limits.MAX_ID_LENGTH)]
Price = Annotated[float, Field(ge=0, le=limits.MAX_PRICE, allow_inf_nan=False)]


class RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StockRule(RuleModel):
    """Only items in stock in the warehouses serving the shopper's region."""

    max_extra_km: float = Field(300.0, ge=0, le=40_000, allow_inf_nan=False,
                                description="Warehouses within this many km of the nearest one serve a region too.")


class PinRule(RuleModel):
    """Put ``sku`` at ``position`` (1 = first) when the filters (stock included) allow it."""

    name: Name | None = None
    sku: Sku
    position: int = Field(1, ge=1, le=limits.MAX_K)
    countries: list[Name] | None = Field(None, max_length=500, description="Only for shoppers of these regions.")


class BoostRule(RuleModel):
    """Multiply the blended score of these SKUs and/or categories by ``factor`` (below 1 demotes)."""

    name: Name | None = None
    skus: list[Sku] = Field(default_factory=list, max_length=10_000)
    categories: list[Name] = Field(default_factory=list, max_length=500)
    factor: float = Field(..., gt=0, le=100, allow_inf_nan=False)

    @model_validator(mode="after")
    def _targets(self) -> BoostRule:
        if not self.skus and not self.categories:
            raise ValueError("a boost needs skus or categories")
        return self


class RulesFile(RuleModel):
    """The recommendation rules file (see the module docstring)."""

    stock: StockRule | None = None
    exclude_categories: list[Name] = Field(default_factory=list, max_length=500)
    include_categories: list[Name] | None = Field(None, max_length=500)
    min_price: Price | None = None
    max_price: Price | None = None
    exclude_skus: list[Sku] = Field(default_factory=list, max_length=100_000)
    max_per_category: int | None = Field(None, ge=1, le=limits.MAX_K)
    pins: list[PinRule] = Field(default_factory=list, max_length=100)
    boosts: list[BoostRule] = Field(default_factory=list, max_length=100)


def read_rules(path: Path) -> RulesFile:
    """The rules in ``path`` (an empty rule set when there is no file); a ``pydantic.ValidationError`` or
    ``ValueError`` names what is wrong."""
    path = Path(path)
    if not path.is_file():
        return RulesFile()
    return RulesFile.model_validate_json(path.read_bytes())


def serving_warehouses(regions: pd.DataFrame, warehouses: pd.DataFrame, max_extra_km: float) -> dict[str, np.ndarray]:
    """For each region: indices (rows of ``warehouses``) of the warehouses that serve it."""
    if regions.empty or warehouses.empty:
        return {}
    distance = haversine_km(regions["lat"].to_numpy(float), regions["lon"].to_numpy(float),
                            warehouses["lat"].to_numpy(float), warehouses["lon"].to_numpy(float))
    near = distance <= distance.min(axis=1, keepdims=True) + max_extra_km
    return {str(r): np.flatnonzero(near[i]) for i, r in enumerate(regions["region"].astype(str))}


class CompiledRules:
    """The rules file and the stock tables as masks over a :class:`LiveRecommender`'s catalogue.

    :meth:`for_request` combines them with a request's own filters into a :class:`ListRules` in microseconds:
    every mask is precomputed per region here (at load), never per request.
    """

    def __init__(self, rules: RulesFile, live: LiveRecommender, tables: dict[str, pd.DataFrame]):
        self.rules = rules
        self.live = live
        n = live.n_items
        self.notes: list[str] = []
        filters: list[tuple[str, np.ndarray]] = []
        category = live.category
        if rules.exclude_categories or rules.include_categories is not None:
            allowed = np.ones(n, dtype=bool)
            if rules.exclude_categories:
                allowed &= ~np.isin(category, live.category_codes(rules.exclude_categories))
            if rules.include_categories is not None:
                allowed &= np.isin(category, live.category_codes(rules.include_categories))
            filters.append(("filter:category", allowed))
        if rules.min_price is not None or rules.max_price is not None:
            filters.append(("filter:price", _price_mask(live.price, rules.min_price, rules.max_price)))
        if rules.exclude_skus:
            allowed = np.ones(n, dtype=bool)
            idx = [j for j in map(live.item_index, rules.exclude_skus) if j is not None]
            allowed[idx] = False
            filters.append(("filter:sku", allowed))
        self.filters = tuple(filters)
        self.stock_by_region: dict[str, np.ndarray] = {}
        self.stock_anywhere: np.ndarray | None = None
        if rules.stock is not None:
            self._compile_stock(rules.stock, tables)
        boosts = []
        for rule in rules.boosts:
            members = np.zeros(n, dtype=bool)
            idx = [j for j in map(live.item_index, rule.skus) if j is not None]
            members[idx] = True
            if rule.categories:
                members |= np.isin(category, live.category_codes(rule.categories))
            name = rule.name or (rule.skus[0] if rule.skus else rule.categories[0])
            boosts.append((f"boost:{name}", np.flatnonzero(members), float(rule.factor)))
        self.boosts = tuple(boosts)
        self.pins: list[tuple[str, int, int, frozenset[str] | None]] = []
        for pin in rules.pins:
            j = live.item_index(pin.sku)
            if j is None:
                self.notes.append(f"pin {pin.sku}: not in the catalogue, ignored")
                continue
            countries = frozenset(pin.countries) if pin.countries is not None else None
            self.pins.append((f"pin:{pin.name or pin.sku}", j, pin.position, countries))
        self._cache: dict[tuple, ListRules] = {}

    def _compile_stock(self, rule: StockRule, tables: dict[str, pd.DataFrame]) -> None:
        stock, warehouses = tables.get("stock"), tables.get("warehouses")
        if stock is None or warehouses is None or stock.empty:
            self.notes.append("stock rule: no stock table in the data home; not applied")
            return
        live = self.live
        wh_index = pd.Index(warehouses["warehouse_id"].astype(str))
        rows = wh_index.get_indexer(stock["warehouse_id"].astype(str))
        cols = pd.Index(live.skus).get_indexer(stock["sku"].astype(str))
        keep = (rows >= 0) & (cols >= 0)
        on_hand = np.zeros((len(wh_index), live.n_items), dtype="float64")
        np.add.at(on_hand, (rows[keep], cols[keep]), stock["on_hand"].to_numpy(dtype="float64")[keep])
        self.stock_anywhere = on_hand.sum(axis=0) > 0
        regions = tables.get("regions")
        if regions is not None:
            for region, served in serving_warehouses(regions, warehouses, rule.max_extra_km).items():
                self.stock_by_region[region] = on_hand[served].sum(axis=0) > 0

    def for_similar(self) -> ListRules:
        """The rules of a similar-items list: the file's filters and stock anywhere, the category cap; no pins
        or boosts (they are promotions of the storefront's lists)."""
        rules = self._cache.get(("similar",))
        if rules is None:
            filters = list(self.filters)
            if self.stock_anywhere is not None:
                filters.append(("stock", self.stock_anywhere))
            rules = self._cache[("similar",)] = ListRules(filters=tuple(filters),
                                                          max_per_category=self.rules.max_per_category)
        return rules

    def for_request(self, region: str | None, categories: list[str] | None = None, min_price: float | None = None,
                    max_price: float | None = None) -> ListRules:
        """The rules for one request: the file's, the stock of ``region``, and the request's own filters."""
        key = (region, tuple(categories) if categories else None, min_price, max_price)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        live = self.live
        filters = list(self.filters)
        if self.stock_anywhere is not None:
            filters.append(("stock", self.stock_by_region.get(region or "", self.stock_anywhere)))
        if categories:
            filters.append(("request:category", np.isin(live.category, live.category_codes(categories))))
        if min_price is not None or max_price is not None:
            filters.append(("request:price", _price_mask(live.price, min_price, max_price)))
        pins = tuple((name, j, position) for name, j, position, countries in self.pins
                     if countries is None or (region is not None and region in countries))
        rules = ListRules(filters=tuple(filters), boosts=self.boosts, pins=pins,
                          max_per_category=self.rules.max_per_category)
        if len(self._cache) > 4096:  # regions x request filters: bounded, cleared when full
            self._cache.clear()
        self._cache[key] = rules
        return rules


def _price_mask(price: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    """Items priced within [low, high]; an item without a known price passes only when there is no bound."""
    allowed = np.isfinite(price)
    if low is not None:
        allowed &= price >= low
    if high is not None:
        allowed &= price <= high
    return allowed
