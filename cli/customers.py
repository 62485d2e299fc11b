"""``shopml train churn|value|customers`` and ``shopml score audiences``: customer models on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._console import console, table
from cli._engine import EngineOption, LakeOption, engine_settings, lake_of, spark_for

DATA_HELP = "Orders to train on: a file or folder features.loaders reads (default: the tables in the data home)."
CUTOFF_HELP = "Evaluation cutoff YYYY-MM-DD (default: the latest whose label window the data covers)."

DataOption = Annotated[Path | None, typer.Option("--data", help=DATA_HELP)]
CutoffOption = Annotated[str | None, typer.Option("--cutoff", help=CUTOFF_HELP)]
HorizonOption = Annotated[int, typer.Option(min=7, max=365, help="Label horizon in days.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Make new versions champion even if they do not win.")]
IfMissingOption = Annotated[bool, typer.Option("--if-missing", help="Skip models that already have a champion.")]


def _train(which: tuple[str, ...], data: Path | None, cutoff: str | None, horizon: int, force: bool,
           if_missing: bool) -> None:
    from shopml.settings import load_settings
    from training.customers.train import TrainConfig, prepare
    from training.lifecycle import load_training_tables
    from training.names import CHURN, CUSTOMER_VALUE
    from training.registry import champion_version

    settings = load_settings()
    if if_missing:
        existing = [name for name in which if champion_version(settings, name) is not None]
        if len(existing) == len(which):
            console.print(f"champion exists for {', '.join(existing)}: skipped (--if-missing)")
            return
        which = tuple(name for name in which if name not in existing)
    with console.status("reading data and building stacked cutoffs"):
        tables = load_training_tables(settings, data)
        prepared = prepare(tables, TrainConfig(evaluation_cutoff=cutoff, horizon_days=horizon))
    plan = prepared.plan
    console.print(f"training cutoffs {', '.join(f'{c:%Y-%m-%d}' for c in plan.train)}; evaluation "
                  f"{plan.evaluation:%Y-%m-%d} ({len(prepared.train):,} training rows, "
                  f"{len(prepared.evaluation):,} evaluation customers)")
    if CHURN in which:
        from training.customers.train import train_churn

        with console.status("training churn"):
            outcome = train_churn(settings, prepared, force=force)
        m, b = outcome.metrics, outcome.baselines
        console.print(table(f"churn v{outcome.version}", ["metric", "model", "baseline"], [
            ("ROC-AUC", f"{m['roc_auc']:.3f}", f"{b['recency']['roc_auc']:.3f} (recency)"),
            ("ROC-AUC BG/NBD", "", f"{b['bgnbd']['roc_auc']:.3f}"),
            ("PR-AUC", f"{m['pr_auc']:.3f}", ""), ("Brier", f"{m['brier']:.3f}", ""),
            ("ECE", f"{m['ece']:.3f}", ""), ("top-decile lift", f"{m['top_decile_lift']:.2f}", ""),
        ]))
        console.print(calibration_line(outcome.result.calibration_fold))
        console.print(f"{'promoted' if outcome.promoted else 'not promoted'}: {outcome.reason}")
    if CUSTOMER_VALUE in which:
        from training.customers.train import train_value

        with console.status("training customer value"):
            outcome = train_value(settings, prepared, force=force)
        m, b = outcome.metrics, outcome.baselines["last_90d_spend"]
        console.print(table(f"customer_value v{outcome.version} ({m['candidate']})", ["metric", "model", "last 90 days"], [
            ("normalized Gini", f"{m['normalized_gini']:.3f}", f"{b['normalized_gini']:.3f}"),
            ("Spearman", f"{m['spearman']:.3f}", f"{b['spearman']:.3f}"),
            ("MAE", f"{m['mae']:.1f}", f"{b['mae']:.1f}"),
        ]))
        console.print(f"{'promoted' if outcome.promoted else 'not promoted'}: {outcome.reason}")


def calibration_line(fold: dict[str, object]) -> str:
    """One line on how the churn probabilities were calibrated (and why, when it fell back)."""
    if fold.get("method") == "same_season":
        anchor = fold["evaluation_anchor"]
        return (f"calibration: same season a year earlier (churn rate {anchor['churn_rate']:.3f} at "
                f"{anchor['cutoff']})")
    if fold.get("method") == "bgnbd_prior":
        why = f" ({fold['fallback']})" if "fallback" in fold else ""
        return f"calibration: BG/NBD no-purchase rate {fold['target_rate']:.3f}{why}"
    return f"calibration: {fold.get('method', 'as configured')}"


def train_churn(data: DataOption = None, cutoff: CutoffOption = None, horizon: HorizonOption = 90,
                force: ForceOption = False, if_missing: IfMissingOption = False) -> None:
    """Train the churn model (LightGBM, calibrated), log it to MLflow and promote it if it wins."""
    from training.names import CHURN

    _train((CHURN,), data, cutoff, horizon, force, if_missing)


def train_value(data: DataOption = None, cutoff: CutoffOption = None, horizon: HorizonOption = 90,
                force: ForceOption = False, if_missing: IfMissingOption = False) -> None:
    """Train the customer value model (tweedie vs. two-part), log it to MLflow and promote it if it wins."""
    from training.names import CUSTOMER_VALUE

    _train((CUSTOMER_VALUE,), data, cutoff, horizon, force, if_missing)


def train_customers(data: DataOption = None, cutoff: CutoffOption = None, horizon: HorizonOption = 90,
                    force: ForceOption = False, if_missing: IfMissingOption = False) -> None:
    """Train churn and customer value on the same stacked cutoffs."""
    from training.names import CHURN, CUSTOMER_VALUE

    _train((CHURN, CUSTOMER_VALUE), data, cutoff, horizon, force, if_missing)


def audiences(
    as_of: str | None = typer.Option(None, "--as-of", help="Score as of this date, YYYY-MM-DD (default: the day after the last order)."),
    features: Path | None = typer.Option(None, "--features", help="Score this customers.parquet instead of computing features."),
    segment: str | None = typer.Option(None, "--segment", help="Keep one segment: new, active, at_risk, lapsed, high_value, reactivated."),
    min_value: float | None = typer.Option(None, "--min-value", help="Keep customers with predicted value at least this."),
    min_churn: float | None = typer.Option(None, "--min-churn", min=0.0, max=1.0, help="Keep customers with churn probability at least this."),
    top: int | None = typer.Option(None, "--top", help="Keep the N customers with the highest predicted value."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write (.csv or .parquet; default: reports/audience-DATE.parquet)."),
    real_ids: bool = typer.Option(False, "--real-ids", help="Write your own customer ids instead of the data home's "
                                  "pseudonyms (for a campaign tool; only to a file outside the data home, audited)."),
    engine: EngineOption = None,
    lake: LakeOption = None,
) -> None:
    """Score every customer (churn, value, P(alive), segment), filter, and write CSV or Parquet."""
    from shopml.errors import ShopmlError

    if output is not None and output.suffix.lower() not in (".csv", ".parquet"):
        raise ShopmlError(f"--output {output}: use a .csv or .parquet file name.")
    settings = engine_settings(engine)
    if real_ids and (output is None or output.resolve().is_relative_to(settings.data_home.resolve())):
        raise ShopmlError("--real-ids writes real customer ids: give --output a file outside the data home "
                          f"({settings.data_home}), which holds pseudonyms only.")
    spark_engine = settings.engine == "spark"
    if features is not None and not (spark_engine and features.is_dir()):  # Spark also reads a folder of parts
        from cli._files import check_parquet

        check_parquet(features, "--features")
    source = lake_of(settings, lake) if features is None else None
    # with --features the date only labels the given file; otherwise features are computed as of it (the
    # spark engine checks it against the lake's orders on Spark, without reading them here)
    if features is not None or spark_engine:
        as_of_ts = parse_date(as_of, "--as-of")
    else:
        as_of_ts = checked_as_of(settings, as_of, source)

    # training is imported after the checks above: it takes seconds, and a mistake should not wait for it
    from training.customers.audiences import score_audience, write_audience
    from training.customers.segments import check_segment

    if segment is not None:
        segment = check_segment(segment)
    filters = {"segment": segment, "min_value": min_value, "min_churn": min_churn, "top": top}
    if spark_engine:
        from features import pipeline
        from training import batch
        from training.customers import CustomerScorer
        from training.registry import load_champion

        scorer, versions = load_champion(CustomerScorer, settings)  # before Spark starts: a missing champion is one line
        with spark_for(settings, pipeline, batch) as spark, console.status("scoring customers on Spark"):
            result = score_audience(settings, as_of=as_of_ts, features_path=features, scorer=scorer,
                                    versions=versions, spark=spark, lake=source, **filters)
    else:
        with console.status("scoring customers"):
            result = score_audience(settings, as_of=as_of_ts, features_path=features, lake=source, **filters)
    path = output or settings.reports_dir / f"audience-{result.as_of:%Y-%m-%d}.parquet"
    audience = result.audience
    if real_ids:
        from shopml.privacy import Edge

        edge = Edge(settings)
        callers = [edge.outward(c) for c in audience["customer_id"].astype(str)]
        audience = audience.assign(customer_id=callers)[[c is not None for c in callers]]
    write_audience(audience, path)
    from shopml.audit import cli_actor, record

    record(settings, cli_actor(), "audience.export", via="cli", rows=len(audience), scored=result.scored,
           as_of=f"{result.as_of:%Y-%m-%d}", filter={k: v for k, v in filters.items() if v is not None},
           file=str(path), models=dict(result.versions), real_ids=real_ids)
    console.print(table(f"Segments of {result.scored:,} customers as of {result.as_of:%Y-%m-%d}",
                        ["segment", "customers", "mean predicted value"], result.segment_rows()))
    console.print(f"{len(audience):,} customers written to {path} (models: churn v{result.versions['churn']}, "
                  f"customer_value v{result.versions['customer_value']})")


def parse_date(value: str | None, option: str):
    """``value`` as a timestamp (None stays None); a one-line error naming ``option`` when it is not a date."""
    import pandas as pd

    from shopml.errors import DataValidationError

    if not value:
        return None
    try:
        return pd.Timestamp(value)
    except ValueError as exc:
        raise DataValidationError(f"{option} {value!r} is not a date; use YYYY-MM-DD.") from exc


def checked_as_of(settings, as_of: str | None, lake: str | None = None):
    """``--as-of`` checked against the orders in the data home (or ``lake``) (:func:`features.pipeline.check_cutoff`),
    so that a date after the data is refused instead of scoring every customer as lapsed; None stays None."""
    from features.pipeline import check_cutoff
    from features.store import load_tables

    if not as_of:
        return None
    return check_cutoff(load_tables(Path(lake) if lake else settings.raw_dir, ("orders",))["orders"], as_of, "--as-of")
