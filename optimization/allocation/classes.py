"""ABC classification: the few SKUs that make most of the volume (or value) get the highest service level.

Sort SKUs by their share, largest first; a SKU is class A while the cumulative share *before* it is below
the first cut (so the largest SKU is always A), B below the second cut, C otherwise. SKUs with zero volume
are C. Ties are broken by SKU id so that the classes do not depend on row order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimization.allocation.errors import AllocationInputError

CLASSES = ("A", "B", "C")


def abc_classes(values: pd.Series, cutoffs: tuple[float, float] = (0.8, 0.95)) -> pd.DataFrame:
    """Classify SKUs by their volume or value.

    Parameters
    ----------
    values : pandas.Series
        Non-negative volume (units) or value (currency) per SKU, indexed by SKU.
    cutoffs : tuple of float
        Cumulative shares closing classes A and B, ``0 < a < b <= 1``.

    Returns
    -------
    pandas.DataFrame
        ``sku, value, share, cumulative_share, abc_class`` sorted by value, largest first.
    """
    a_cut, b_cut = cutoffs
    if not 0.0 < a_cut < b_cut <= 1.0:
        raise AllocationInputError(f"ABC cutoffs {cutoffs} must satisfy 0 < A < B <= 1, e.g. (0.8, 0.95)")
    v = pd.to_numeric(pd.Series(values), errors="coerce").astype(float)
    bad = v.isna() | (v < 0) | ~np.isfinite(v)
    if bad.any():
        shown = ", ".join(map(str, v.index[bad][:5]))
        raise AllocationInputError(f"ABC values must be finite and >= 0; {int(bad.sum())} are not (sku {shown})")
    if v.index.duplicated().any():
        raise AllocationInputError("ABC values list some SKUs more than once; sum them per SKU first")
    frame = pd.DataFrame({"sku": v.index.astype("str"), "value": v.to_numpy()})
    frame = frame.sort_values(["value", "sku"], ascending=[False, True], kind="stable").reset_index(drop=True)
    total = frame["value"].sum()
    share = frame["value"] / total if total > 0 else frame["value"] * 0.0
    before = share.cumsum() - share
    frame["share"] = share
    frame["cumulative_share"] = share.cumsum()
    cls = np.where(before < a_cut - 1e-12, "A", np.where(before < b_cut - 1e-12, "B", "C"))
    frame["abc_class"] = np.where(frame["value"] > 0, cls, "C")
    return frame
