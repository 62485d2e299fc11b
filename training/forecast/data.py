"""The forecaster's data: demand history as a :class:`~features.demand.DemandPanel` (series x periods matrix).

The panel and its construction from order lines live in the feature layer (:mod:`features.demand`), beside
the one computation of the demand features that reads it; the forecast area imports them from here.
"""

from features.demand import ALL_REGIONS, DemandPanel

__all__ = ["ALL_REGIONS", "DemandPanel"]
