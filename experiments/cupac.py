"""CUPAC covariates: a model's prediction of the metric, made from data before the experiment started.

CUPAC (Tang, Huang, Ma, Zhao & Wu 2020, "Control Using Predictions as Covariates", DoorDash engineering) runs
CUPED (:mod:`experiments.cuped`) with ``x`` = a prediction of the outcome instead of the outcome's own
pre-period value. A good model correlates better with the outcome than any single pre-period metric, so the
variance falls further (by ``r^2`` of prediction and outcome).

shopml already predicts each customer's 90-day value (``training.customers``' ``CustomerScorer``, column
``predicted_value``): :func:`customer_value_covariate` turns it into a covariate column of raw experiment rows.
The caller passes the scorer in (``shopml experiment cupac`` loads the champion), so this domain does not
reach into training.
Validity needs one thing: the prediction must not be affected by the treatment. Score the customer features
as of the experiment's start (``shopml features build --cutoff START``), never later.

Units without pre-period features (customers new during the test) get ``fill_value`` (0 by default: no
history, no predicted value). Any fixed rule keeps CUPED unbiased because it cannot depend on the arm; the
count is logged and returned so that it is never silent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from experiments.errors import ExperimentError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CovariateReport:
    """How a covariate column was filled: units scored by the model and units given ``fill_value``."""

    column: str
    scored: int
    filled: int
    fill_value: float | None


def prediction_covariate(rows: Any, model: Any, features: list[str], column: str = "cupac_prediction") -> Any:
    """Add ``model.predict(rows[features])`` as a CUPAC covariate column and return the new frame.

    ``model`` is any fitted estimator with ``predict`` (scikit-learn style). ``features`` must be measured
    before the experiment started (e.g. shopml's customer features as of the start date); a feature the
    treatment can move would bias the estimate.
    """
    missing = [f for f in features if f not in rows.columns]
    if missing:
        raise ExperimentError(f"CUPAC: feature columns {missing} are not in the rows; add them or drop them")
    prediction = np.asarray(model.predict(rows[features]), dtype=float)
    if not np.all(np.isfinite(prediction)):
        raise ExperimentError(f"CUPAC: the model returned {int((~np.isfinite(prediction)).sum())} non-finite predictions")
    return rows.assign(**{column: prediction})


def customer_value_covariate(
    rows: Any,
    scorer: Any,
    customer_features: Any,
    unit_column: str = "unit_id",
    prediction: str = "predicted_value",
    column: str = "predicted_value",
    fill_value: float | None = 0.0,
) -> tuple[Any, CovariateReport]:
    """Add a shopml model's per-customer prediction to raw experiment rows, as a CUPAC covariate.

    Parameters
    ----------
    rows
        Per-unit experiment rows (DataFrame) whose ``unit_column`` holds customer ids.
    scorer
        An object with ``score(features) -> DataFrame`` holding ``customer_id`` and ``prediction`` columns,
        such as ``training.customers.CustomerScorer`` (``load_champion(CustomerScorer, settings).model``).
    customer_features
        Customer features as of the experiment's start: ``customer_id`` (column or index) plus the
        scorer's inputs, e.g. the ``customers.parquet`` written by ``shopml features build``.
    fill_value
        Covariate of units without features; ``None`` refuses such units instead.

    Returns
    -------
    The rows with the new ``column``, and a :class:`CovariateReport` of how many units were filled.
    """
    import pandas as pd

    if unit_column not in rows.columns:
        raise ExperimentError(f"CUPAC: rows have no unit column {unit_column!r}; available: {list(rows.columns)}")
    if column in rows.columns:
        raise ExperimentError(f"CUPAC: rows already have a column {column!r}; pick another name with column=...")
    features = customer_features
    if "customer_id" not in features.columns:
        if features.index.name != "customer_id":
            raise ExperimentError("CUPAC: customer_features needs a customer_id column or index")
        features = features.reset_index()
    scores = scorer.score(features)
    for name in ("customer_id", prediction):
        if name not in scores.columns:
            raise ExperimentError(
                f"CUPAC: the scorer's output lacks column {name!r} (it has {list(scores.columns)}); "
                "pass prediction= the column to use"
            )
    values = scores[prediction].to_numpy(dtype=float, na_value=np.nan)
    if not np.all(np.isfinite(values)):
        raise ExperimentError(f"CUPAC: the scorer returned {int((~np.isfinite(values)).sum())} non-finite predictions")
    lookup = pd.Series(values, index=scores["customer_id"].astype(str).to_numpy())
    if lookup.index.has_duplicates:
        raise ExperimentError("CUPAC: the scorer returned several rows for one customer_id; score one row per customer")
    covariate = lookup.reindex(rows[unit_column].astype(str).to_numpy()).to_numpy(dtype=float, copy=True)
    unknown = ~np.isfinite(covariate)
    filled = int(unknown.sum())
    if filled == len(rows) and len(rows):
        raise ExperimentError(
            f"CUPAC: no unit id matched a scored customer_id (units e.g. {rows[unit_column].head(2).tolist()}, "
            f"customers e.g. {scores['customer_id'].head(2).tolist()}); check that both use the same id format"
        )
    if filled and fill_value is None:
        examples = rows.loc[unknown, unit_column].head(3).tolist()
        raise ExperimentError(
            f"CUPAC: {filled} unit(s) have no pre-period features (e.g. {examples}); pass fill_value=0.0 to give "
            "them a fixed covariate, or drop them from the analysis"
        )
    covariate[unknown] = fill_value if fill_value is not None else np.nan
    if filled:
        logger.info("CUPAC: %d of %d units have no pre-period features; covariate set to %g", filled, len(rows), fill_value)
    report = CovariateReport(column=column, scored=len(rows) - filled, filled=filled, fill_value=fill_value)
    return rows.assign(**{column: covariate}), report

