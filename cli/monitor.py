"""``shopml monitor``: drift, outcomes and KPI alerts as of a date, with an exit status a scheduler can alert on.

:func:`run_monitor` is the job (the replay in ``bench/monitoring.py`` calls it week by week): score the
population as of the date with the champions and keep the scores (:mod:`monitoring.history`), compare inputs and
outputs with the champion's training population (:mod:`monitoring.drift`), judge every earlier score whose
horizon has passed against what customers did (:mod:`monitoring.outcomes`, the score history and the service's
prediction log), and list the thresholds crossed (:func:`monitoring.monitor.verdict`). Exit status: 0 when no
threshold is crossed, 1 when one is, 2 for a user mistake. Docs: ``docs/monitoring.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import typer

log = logging.getLogger(__name__)

OUTPUTS = ("churn_probability", "predicted_value", "segment")
"""The model outputs whose drift is judged."""


def monitor(
    as_of: str | None = typer.Option(
        None, "--as-of", help="Monitor as of YYYY-MM-DD: only order lines before it are seen (default: the day after "
        "the last order)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="report.html or report.json; the other format is written beside it. Default: "
        "reports/monitor-DATE.html (and .json) in the data home."),
    record: bool = typer.Option(True, "--record/--no-record", help="Keep today's scores in the monitoring store, to "
                                "be judged once their horizon has passed."),
) -> None:
    """Drift of the champions' inputs and outputs, their outcomes so far, and the shop's KPI alerts; exits 1 when a
    threshold is crossed (docs/monitoring.md)."""
    from cli._console import console, table
    from features.store import load_tables
    from monitoring.monitor import write_monitor_report
    from shopml.errors import ShopmlError
    from shopml.settings import load_settings

    if output is not None and output.suffix.lower() not in (".html", ".json"):
        raise ShopmlError(f"--output {output}: a monitor report is .html or .json; name it report.html or report.json.")
    settings = load_settings()
    with console.status(f"reading the tables in {settings.raw_dir}"):
        tables = load_tables(settings.raw_dir, ("orders", "products"))
    with console.status("scoring, comparing and judging outcomes"):
        report = run_monitor(settings, tables, as_of, record=record)
    base = output or settings.reports_dir / f"monitor-{report['as_of']}.html"
    written = [write_monitor_report(report, base.with_suffix(suffix)) for suffix in (".html", ".json")]
    drift = report["drift"]
    for name in ("predictions", "features", "orders"):
        if drift.get(name):
            rows = [(c["column"], c["status"], _num(c["psi"]), _num(c["p_value"]))
                    for c in drift[name]["columns"] if c["status"] != "stable" or name == "predictions"]
            if rows:
                console.print(table(f"Drift of the {name} (reference: as of {report['champion'].get('reference_cutoff')})",
                                    ["column", "status", "PSI", "p-value"], rows))
    latest = report["outcomes"].get("churn_latest")
    if latest:
        console.print(f"newest judged churn cohort: scored {latest['scored_at']} by {latest['model_version']}: "
                      f"ROC-AUC {_num(latest.get('roc_auc'))}, ECE {_num(latest.get('ece'))}")
    for note in report["notes"]:
        console.print(f"note: {note}")
    console.print("reports written to " + " and ".join(str(p) for p in written))
    if report["verdict"]:
        for line in report["verdict"]:
            console.print(f"[bold red]threshold crossed:[/] {line}")
        raise typer.Exit(1)
    console.print("all thresholds respected")


def run_monitor(settings, tables: Mapping[str, pd.DataFrame], as_of: str | pd.Timestamp | None = None, *,
                record: bool = True, thresholds=None, drift_settings=None,
                cache: dict | None = None) -> dict[str, Any]:
    """The monitor report as of ``as_of`` (a JSON-safe dict with ``verdict``: the thresholds crossed).

    The drift reference is the population the champions were shipped on: the customers as of the end of the
    churn champion's training data (its evaluation cutoff plus the horizon), and the order lines of the 28
    days before that date; the current population is the customers as of ``as_of`` and the order lines of
    its last 7 days. ``cache`` (any dict, kept by the caller) keeps the reference between runs.
    """
    from features.customers import CUMULATIVE_FEATURES, CUSTOMER_FEATURES, build_customer_features
    from features.pipeline import check_cutoff, default_cutoff
    from monitoring.drift import drift_table
    from monitoring.history import History
    from monitoring.monitor import thresholds_dict, verdict
    from monitoring.outcomes import customer_outcomes, latest_scored
    from shopml.errors import NotTrainedError
    from training.customers import CustomerScorer
    from training.customers.train import TrainConfig
    from training.names import CHURN
    from training.registry import load_champion, version_params

    orders, products = tables["orders"], tables["products"]
    when = check_cutoff(orders, as_of, "--as-of") if as_of is not None else default_cutoff(orders)
    seen = orders.loc[orders["ordered_at"] < when]
    history = History(settings.data_home / "monitoring")
    report: dict[str, Any] = {"as_of": f"{when:%Y-%m-%d}", "notes": [], "champion": {}, "drift": {},
                              "outcomes": {}, "thresholds": thresholds_dict(thresholds)}
    try:
        scorer, versions = load_champion(CustomerScorer, settings)
    except NotTrainedError as exc:
        scorer, versions = None, {}
        report["notes"].append(f"no customer champion, so no drift or new scores: {exc}")
    if scorer is not None:
        version = ",".join(f"{name}={v}" for name, v in sorted(versions.items()))
        current = build_customer_features(seen, when, products=products)
        scores = scorer.score(current)
        shipped, auc = _champion_reference(settings, versions[CHURN], when, version_params)
        report["champion"] = {"versions": versions, "version": version, "evaluation_roc_auc": auc,
                              "reference_cutoff": shipped, "scored_customers": len(scores)}
        if shipped is None:
            report["notes"].append("the churn champion's run records no cutoff before the as-of date: drift not "
                                   "judged")
        else:
            key = (shipped, version)
            if cache is None or key not in cache:
                reference = build_customer_features(seen, pd.Timestamp(shipped), products=products)
                found = (reference, scorer.score(reference))
                if cache is not None:
                    cache[key] = found
            reference, reference_scores = found if cache is None else cache[key]
            report["drift"] = {
                "features": drift_table(reference, current, list(CUSTOMER_FEATURES), drift_settings,
                                        counted=[c for c in CUSTOMER_FEATURES if c not in CUMULATIVE_FEATURES]
                                        ).to_dict(),
                "predictions": drift_table(reference_scores, scores, list(OUTPUTS), drift_settings).to_dict(),
                "orders": drift_table(_order_stream(seen, pd.Timestamp(shipped), ORDER_REFERENCE_DAYS),
                                      _order_stream(seen, when, ORDER_CURRENT_DAYS), list(ORDER_COLUMNS),
                                      drift_settings).to_dict(),
            }
        if record:
            history.write_scores(when, scores[["customer_id", "churn_probability", "predicted_value", "segment"]]
                                 .assign(model_version=version))
    kept = history.scores(until=when)
    log = _PredictionLog(settings, seen, report["notes"])
    logged = _logged_scores(log)
    together = pd.concat([f for f in (kept, logged) if not f.empty], ignore_index=True) if len(kept) or len(logged) \
        else pd.DataFrame()
    if together.empty:
        report["notes"].append("no customer scores kept yet: outcomes are judged once a horizon has passed")
    else:
        outcomes = customer_outcomes(together, seen, when, TrainConfig().horizon_days)
        report["outcomes"]["churn"] = _records(outcomes)
        current = outcomes.loc[outcomes["model_version"] == report["champion"].get("version")] \
            if report["champion"] else outcomes
        report["outcomes"]["churn_latest"] = latest_scored(current)  # the model in service, not a retired one
        if report["outcomes"]["churn_latest"] is None:
            report["notes"].append("no score of the current champions has passed its horizon yet: no outcome to "
                                   "judge")
    report["outcomes"]["recommendations"] = _records(_recommendation_outcomes(log, seen, when))
    report["outcomes"]["forecasts"] = _records(_forecast_outcomes(log, seen))
    report["notes"].extend(history.problems)
    report["verdict"] = verdict(report, thresholds)
    if record:
        history.write_report(when, report)  # every run's report, for the console's calibration and drift over time
    return report


ORDER_COLUMNS = ("country", "unit_price", "quantity")
"""The order stream's columns whose drift is judged (sale lines)."""
ORDER_REFERENCE_DAYS, ORDER_CURRENT_DAYS = 28, 7
"""Whole weeks on both sides, so the weekday mix cancels."""


def _order_stream(orders: pd.DataFrame, until: pd.Timestamp, days: int) -> pd.DataFrame:
    """The sale lines of the ``days`` before ``until``."""
    window = orders.loc[(orders["ordered_at"] < until) & (orders["ordered_at"] >= until - pd.Timedelta(days=days))
                        & (orders["quantity"] > 0)]
    return window[list(ORDER_COLUMNS)]


def _champion_reference(settings, churn_version: str, when: pd.Timestamp,
                        version_params) -> tuple[str | None, float | None]:
    """The date the churn champion was shipped on (see :func:`run_monitor`; its latest training cutoff when
    that date is not before ``when``) and its evaluation ROC-AUC."""
    from training.names import CHURN
    from training.tracking import configure_mlflow

    params = version_params(settings, CHURN, churn_version)
    tags = configure_mlflow(settings).get_model_version(CHURN, churn_version).tags or {}
    auc = float(tags["roc_auc"]) if "roc_auc" in tags else None
    if "cutoff_evaluation" in params and "cutoff_horizon_days" in params:
        shipped = pd.Timestamp(params["cutoff_evaluation"]) + pd.Timedelta(days=int(params["cutoff_horizon_days"]))
        if shipped < when:
            return f"{shipped:%Y-%m-%d}", auc
    trained = sorted(v for k, v in params.items() if k.startswith("cutoff_train_") and pd.Timestamp(v) < when)
    return (trained[-1] if trained else None), auc


class _PredictionLog:
    """The service's prediction log, read once per monitor run, with its pseudonyms turned back into the shop's
    customer ids (HMAC under the data home's key, computed once for every customer in ``orders``)."""

    def __init__(self, settings, orders: pd.DataFrame, notes: list[str]):
        from serving.predictions import read_predictions

        self.root = settings.data_home / "predictions"
        self.orders = orders
        self.notes = notes
        self._ids: dict[str, str] | None = None
        problems: list[str] = []
        self.records = read_predictions(self.root, None, problems) if self.root.is_dir() else pd.DataFrame()
        notes.extend(f"prediction log: {p}" for p in problems)

    def of(self, endpoint: str) -> pd.DataFrame:
        if self.records.empty:
            return self.records
        return self.records.loc[self.records["endpoint"] == endpoint].reset_index(drop=True)

    def customer_ids(self, subjects: pd.Series) -> pd.Series:
        if self._ids is None:
            from serving.predictions import log_key, pseudonym

            key = log_key(self.root)
            self._ids = {pseudonym(key, c): c for c in self.orders["customer_id"].dropna().astype("str").unique()}
        return subjects.map(self._ids)


def _logged_scores(log: _PredictionLog) -> pd.DataFrame:
    """``/v1/customers/score`` answers from the prediction log, by the shop's customer ids."""
    import json

    records = log.of("customers/score")
    if records.empty:
        return pd.DataFrame()
    outputs = records["output"].map(json.loads)
    frame = pd.DataFrame({
        "scored_at": pd.to_datetime(outputs.map(lambda o: o.get("as_of"))),
        "model_version": records["model_version"].astype("str"),
        "customer_id": log.customer_ids(records["subject"]),
        "churn_probability": outputs.map(lambda o: o.get("churn_probability")).astype("float64"),
        "predicted_value": outputs.map(lambda o: o.get("predicted_value")).astype("float64"),
    })
    unknown = int(frame["customer_id"].isna().sum())
    if unknown:
        log.notes.append(f"{unknown:,} logged customer scores name no customer in the orders: left out")
    return frame.dropna(subset=["customer_id", "scored_at"])


def _recommendation_outcomes(log: _PredictionLog, orders: pd.DataFrame, when: pd.Timestamp) -> pd.DataFrame:
    import json

    from monitoring.outcomes import recommendation_outcomes

    records = log.of("recommend")
    if records.empty:
        return pd.DataFrame()
    frame = pd.DataFrame({"logged_at": pd.to_datetime(records["logged_at"], utc=True).dt.tz_localize(None),
                          "model_version": records["model_version"].astype("str"),
                          "customer_id": log.customer_ids(records["subject"]),
                          "items": records["output"].map(json.loads)})
    return recommendation_outcomes(frame.dropna(subset=["customer_id"]), orders, when)


def _forecast_outcomes(log: _PredictionLog, orders: pd.DataFrame) -> pd.DataFrame:
    """``/v1/forecast`` answers from the log against the weekly sales that have arrived since (per SKU and
    region, ``ALL`` being the SKU's total; origin: the day the forecast was served)."""
    import json

    from features.demand import ALL_REGIONS, demand_series
    from monitoring.outcomes import forecast_outcomes

    records = log.of("forecast")
    if records.empty:
        return pd.DataFrame()
    outputs = records["output"].map(json.loads)
    quantiles = outputs.map(lambda o: o.get("quantiles") or {})
    if not all(q in quantiles.iloc[0] for q in ("p10", "p50", "p90")):
        log.notes.append("logged forecasts lack p10/p50/p90: forecast outcomes not judged")
        return pd.DataFrame()
    series = records["subject"].str.split("|", n=1, expand=True)
    forecasts = pd.DataFrame({
        "origin": pd.to_datetime(records["logged_at"], utc=True).dt.tz_localize(None).dt.floor("D"),
        "model_version": records["model_version"].astype("str"), "sku": series[0], "region": series[1],
        "week": pd.to_datetime(outputs.map(lambda o: o.get("period_start"))),
        **{q: quantiles.map(lambda d, q=q: d.get(q)).astype("float64") for q in ("p10", "p50", "p90")},
    }).drop_duplicates(["origin", "model_version", "sku", "region", "week"], keep="last")
    skus = sorted(forecasts["sku"].unique())
    actuals = pd.concat([demand_series(orders, freq="W", skus=skus).assign(region=ALL_REGIONS),
                         demand_series(orders, freq="W", skus=skus, by_region=True)], ignore_index=True)
    return forecast_outcomes(forecasts, actuals.rename(columns={"period_start": "week"}))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return [{k: (None if not isinstance(v, list) and pd.isna(v) else v) for k, v in row.items()}
            for row in out.to_dict("records")]


def _num(value: object) -> str:
    return "" if value is None else f"{value:.3f}"
