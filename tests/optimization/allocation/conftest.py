"""Tiny documented allocation instances shared by the allocation tests."""

from __future__ import annotations

import pandas as pd
import pytest

from optimization.allocation import AllocationOptions, build_problem


def tiny_frames() -> dict[str, pd.DataFrame]:
    """Two warehouses (Paris, Berlin), two regions (near each), two SKUs.

    SKU ``A``: 3 units in Paris, demand 2 near Paris and 2 near Berlin. SKU ``B``: 2 units in Berlin,
    demand 1 near Berlin and 3 near Paris (p10/p50/p90, so the curve is uncertain).
    """
    warehouses = pd.DataFrame({"warehouse_id": ["PAR", "BER"], "lat": [48.86, 52.52], "lon": [2.35, 13.40]})
    regions = pd.DataFrame({"region": ["FR", "DE"], "lat": [47.0, 51.0], "lon": [2.0, 10.0]})
    stock = pd.DataFrame({"warehouse_id": ["PAR", "BER"], "sku": ["A", "B"], "on_hand": [3, 2]})
    demand = pd.DataFrame({
        "sku": ["A", "A", "B", "B"],
        "region": ["FR", "DE", "DE", "FR"],
        "demand": [2.0, 2.0, None, None],
        "p10": [None, None, 0.0, 1.0],
        "p50": [None, None, 1.0, 3.0],
        "p90": [None, None, 2.0, 5.0],
    })
    return {"warehouses": warehouses, "regions": regions, "stock": stock, "demand": demand}


@pytest.fixture
def tiny_problem():
    return build_problem(**tiny_frames(), options=AllocationOptions(shortage_penalty=12.0, holding_cost=0.5))
