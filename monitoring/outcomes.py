"""Outcomes: predictions joined with what customers and SKUs actually did once the horizon has passed.

Predictions come from two places, both kept by shopml: the score history (every ``shopml monitor`` run scores
the whole population with the champions and keeps the scores, :mod:`monitoring.history`) and the service's
prediction log (``/v1/customers/score``, ``/v1/recommend``, ``/v1/forecast``). Each prediction made at
``scored_at`` is judged on the window that starts there:

* churn and value: churned = no order in the ``horizon_days`` from the cutoff, value = net spend there (the
  labels of :func:`features.customers.customer_labels`, the same the models were trained on). Per model
  version and scoring date: ROC-AUC, ECE with its reliability curve, normalized Gini. A cohort whose window has
  not closed yet is listed as pending, not scored;
* recommendations: the share of recommended lists with at least one recommended item bought in the following
  ``weeks`` weeks (hit rate), per model version and week;
* forecasts: WAPE of the median and the share of actuals inside the p10-p90 band, per week as actuals arrive.

Every function takes frames and returns frames, so the same code judges the log, the score history and a
replay; reading the stores is :mod:`monitoring.history`'s.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from features.cleaning import customer_model_orders
from features.customers import customer_labels
from shopml.metrics import expected_calibration_error, normalized_gini, reliability_curve

SCORE_COLUMNS = ("scored_at", "model_version", "customer_id", "churn_probability", "predicted_value")
"""What a customer score record holds (``model_version``: the churn and value versions, ``"c3/v2"``)."""


def customer_outcomes(scores: pd.DataFrame, orders: pd.DataFrame, as_of: pd.Timestamp,
                      horizon_days: int = 90) -> pd.DataFrame:
    """One row per (``scored_at``, ``model_version``) cohort of customer scores.

    Columns: ``customers``, ``status`` (``scored`` or ``pending until DATE``), and when scored: ``churn_rate``,
    ``mean_churn_probability``, ``roc_auc``, ``ece``, ``value_gini``, ``mean_predicted_value``,
    ``mean_value``, and ``reliability`` (the curve, a list of bins). Customers unknown to the orders (a
    pseudonym that matches none, or no purchase before the scoring date) count in ``unmatched`` and are left
    out of the scores.
    """
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(f"customer scores need the columns {list(SCORE_COLUMNS)}; missing {missing}.")
    as_of = pd.Timestamp(as_of)
    rows = []
    for (scored_at, version), cohort in scores.groupby(["scored_at", "model_version"], sort=True):
        scored_at = pd.Timestamp(scored_at)
        closes = scored_at + pd.Timedelta(days=horizon_days)
        row: dict[str, object] = {"scored_at": scored_at, "model_version": version, "customers": len(cohort),
                                  "closes": closes}
        if closes > as_of:
            rows.append(row | {"status": f"pending until {closes:%Y-%m-%d}"})
            continue
        cohort = cohort.drop_duplicates("customer_id", keep="last")
        before = orders.loc[orders["ordered_at"] < scored_at, "customer_id"].dropna().astype("str")
        known = cohort.loc[cohort["customer_id"].astype("str").isin(before.unique())]
        labels = customer_labels(orders, scored_at, horizon_days, pd.Index(known["customer_id"].astype("str")))
        joined = known.set_index(known["customer_id"].astype("str")).join(labels, how="inner")
        row |= {"unmatched": len(cohort) - len(joined)}
        if joined["churned"].nunique() < 2:
            rows.append(row | {"status": "scored", "note": "one class only: AUC undefined"})
            continue
        y, p = joined["churned"].to_numpy(), joined["churn_probability"].to_numpy("float64")
        from sklearn.metrics import roc_auc_score

        value, spend = joined["predicted_value"].to_numpy("float64"), joined["spend_next"].to_numpy("float64")
        rows.append(row | {
            "status": "scored", "churn_rate": float(y.mean()), "mean_churn_probability": float(p.mean()),
            "roc_auc": float(roc_auc_score(y, p)), "ece": expected_calibration_error(y, p),
            "value_gini": normalized_gini(spend, value) if np.any(spend != 0) else float("nan"),
            "mean_predicted_value": float(value.mean()), "mean_value": float(spend.mean()),
            "reliability": reliability_curve(y, p),
        })
    return pd.DataFrame(rows)


def recommendation_outcomes(recommendations: pd.DataFrame, orders: pd.DataFrame, as_of: pd.Timestamp,
                            weeks: int = 4) -> pd.DataFrame:
    """Hit rate of logged recommendation lists per (week, model version).

    ``recommendations``: ``logged_at``, ``model_version``, ``customer_id`` and ``items`` (a list of SKUs). A
    list hits when its customer bought one of its items in the ``weeks`` weeks after it was served; lists
    whose window has not closed by ``as_of`` are pending.
    """
    if recommendations.empty:
        return pd.DataFrame(columns=["week", "model_version", "lists", "hits", "hit_rate", "status"])
    lines, _ = customer_model_orders(orders)
    bought = lines[["customer_id", "sku", "ordered_at"]]
    window = pd.Timedelta(weeks=weeks)
    frame = recommendations.assign(logged_at=pd.to_datetime(recommendations["logged_at"]),
                                   customer_id=recommendations["customer_id"].astype("str"))
    exploded = frame.reset_index(names="list_id").explode("items").rename(columns={"items": "sku"})
    exploded["sku"] = exploded["sku"].astype("str")
    merged = exploded.merge(bought.assign(sku=bought["sku"].astype("str")), on=["customer_id", "sku"], how="left")
    merged["hit"] = (merged["ordered_at"] >= merged["logged_at"]) & (merged["ordered_at"] < merged["logged_at"] + window)
    hit = merged.groupby("list_id")["hit"].any().reindex(range(len(frame)), fill_value=False)
    frame = frame.assign(hit=hit.to_numpy(), week=frame["logged_at"].dt.to_period("W-SUN").dt.start_time)
    rows = []
    for (week, version), group in frame.groupby(["week", "model_version"], sort=True):
        closes = group["logged_at"].max() + window
        status = "scored" if closes <= as_of else f"pending until {closes:%Y-%m-%d}"
        rows.append({"week": week, "model_version": version, "lists": len(group), "hits": int(group["hit"].sum()),
                     "hit_rate": float(group["hit"].mean()) if status == "scored" else None, "status": status})
    return pd.DataFrame(rows)


def forecast_outcomes(forecasts: pd.DataFrame, weekly_actuals: pd.DataFrame) -> pd.DataFrame:
    """WAPE of the median and the p10-p90 coverage per (forecast origin, model version), on the weeks whose
    actuals have arrived.

    ``forecasts``: ``origin``, ``model_version``, ``sku``, ``week`` and the quantiles ``p10``, ``p50``, ``p90``;
    ``weekly_actuals``: ``sku``, ``week``, ``quantity`` (weeks with no sale may be absent: they count as 0
    when the week is within the actuals' range). With a ``region`` column on both, series are per region.
    """
    if forecasts.empty:
        return pd.DataFrame(columns=["origin", "model_version", "weeks_known", "wape", "coverage_80"])
    keys = ["sku", "region", "week"] if "region" in forecasts and "region" in weekly_actuals else ["sku", "week"]
    last_week = weekly_actuals["week"].max()
    known = forecasts.loc[forecasts["week"] <= last_week]
    joined = known.merge(weekly_actuals[[*keys, "quantity"]], on=keys, how="left").fillna({"quantity": 0.0})
    rows = []
    for (origin, version), group in forecasts.groupby(["origin", "model_version"], sort=True):
        scored = joined.loc[(joined["origin"] == origin) & (joined["model_version"] == version)]
        if scored.empty:
            rows.append({"origin": origin, "model_version": version, "weeks_known": 0, "wape": None,
                         "coverage_80": None, "status": "pending"})
            continue
        actual = scored["quantity"].to_numpy("float64")
        total = actual.sum()
        rows.append({
            "origin": origin, "model_version": version, "weeks_known": int(scored["week"].nunique()),
            "wape": float(np.abs(actual - scored["p50"].to_numpy("float64")).sum() / total) if total else None,
            "coverage_80": float(((actual >= scored["p10"]) & (actual <= scored["p90"])).mean()),
            "status": "scored" if scored["week"].nunique() == group["week"].nunique() else "partial",
        })
    return pd.DataFrame(rows)


def latest_scored(outcomes: pd.DataFrame, columns: Iterable[str] = ("roc_auc", "ece")) -> dict[str, object] | None:
    """The newest scored cohort's figures (None when nothing is scored yet)."""
    if outcomes.empty or "status" not in outcomes:
        return None
    scored = outcomes.loc[outcomes["status"] == "scored"]
    if scored.empty:
        return None
    last = scored.iloc[-1]
    return {"scored_at": f"{pd.Timestamp(last['scored_at']):%Y-%m-%d}", "model_version": last["model_version"],
            **{c: (None if pd.isna(last.get(c)) else float(last[c])) for c in columns if c in last}}
