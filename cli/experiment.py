"""``shopml experiment``: evaluate A/B tests, size new ones, and assign units to variants."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from cli._files import check_parquet, read_json

app = typer.Typer(help="Evaluate A/B tests, size new ones, and assign units to variants.", no_args_is_help=True)


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{100 * value:+.2f}%" if percent else f"{value:.4g}"


@app.command()
def evaluate(
    spec: Path | None = typer.Argument(  # noqa: B008
        None, help="Experiment spec (JSON): variants, metrics, settings, optional data. With --from-logs it may be "
        "left out: the recommender experiment file's variants and metrics are used."),
    raw: Path | None = typer.Option(None, "--raw", help="Parquet file of per-unit rows instead of spec data."),  # noqa: B008
    from_logs: str | None = typer.Option(
        None, "--from-logs", help="Evaluate this recommender experiment from the service's exposure and event logs "
        "in the data home (docs/recommend.md) instead of --raw."),
    attribution_hours: float | None = typer.Option(
        None, min=0.001, help="With --from-logs: events count from a unit's first exposure to this many hours "
        "later (default: the experiment file's attribution_hours, else 24)."),
    save_rows: Path | None = typer.Option(  # noqa: B008
        None, "--save-rows", help="With --from-logs: also write the per-unit rows to this Parquet file."),
    unit_column: str = typer.Option("unit_id", help="Unit id column of --raw."),
    variant_column: str = typer.Option("variant", help="Variant column of --raw."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a forest plot of the lifts to this PNG."),  # noqa: B008
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON instead of a table."),
) -> None:
    """Evaluate an experiment and print its lifts, checks and decision."""
    from rich.console import Console
    from rich.table import Table

    from experiments import ExperimentSpec, evaluate, forest_plot
    from experiments.errors import ExperimentError

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 150))
    if from_logs is not None:
        if raw is not None:
            raise ExperimentError("give --raw or --from-logs, not both")
        experiment, rows = _rows_from_logs(from_logs, spec, attribution_hours, save_rows,
                                           Console(stderr=True) if as_json else console)
        unit_column, variant_column = "unit_id", "variant"
    elif spec is None:
        raise ExperimentError("give an experiment spec (JSON), or --from-logs EXPERIMENT for a recommender test")
    else:
        experiment = ExperimentSpec.model_validate(read_json(spec, "experiment spec"))
        rows = check_parquet(raw, "--raw") if raw is not None else None
    result = evaluate(
        experiment, rows=rows, unit_column=unit_column, variant_column=variant_column
    )
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
        return
    s = result.settings
    mode = "sequential (always valid)" if s.sequential else "fixed horizon"
    table = Table(title=f"{result.name}: {mode}, {s.test}, alpha {s.alpha}, {s.correction} correction, {s.relative_interval} relative CI")
    for column in ("metric", "arm", "control", "treatment", "rel. lift", "rel. CI", "abs. CI", "p", "adj. p", "P(win)", "verdict"):
        table.add_column(column, justify="left" if column in ("metric", "arm", "verdict") else "right")
    for c in result.comparisons:
        verdict = c.outcome if c.role == "goal" else f"guardrail {c.guardrail}"
        colour = {"win": "green", "held": "green", "loss": "red", "failed": "red"}.get(c.outcome if c.role == "goal" else c.guardrail, "")
        table.add_row(
            c.metric + (" (CUPED)" if c.cuped_variance_reduction is not None else ""),
            c.arm,
            _fmt(c.control_mean),
            _fmt(c.treatment_mean),
            _fmt(c.relative_lift, percent=True),
            f"[{_fmt(c.relative_lower, True)}, {_fmt(c.relative_upper, True)}]",
            f"[{_fmt(c.absolute_lower)}, {_fmt(c.absolute_upper)}]",
            _fmt(c.p_value),
            _fmt(c.adjusted_p_value),
            _fmt(c.bayesian.chance_to_win if c.bayesian else None),
            f"[{colour}]{verdict}[/]" if colour else verdict,
        )
    console.print(table)
    srm = result.srm
    if srm.p_value != srm.p_value:  # NaN: fewer than two arms with a weight, nothing to compare
        console.print("sample ratio check: not run (fewer than two arms with a weight; see the warnings)")
    else:
        console.print(f"sample ratio check: p = {srm.p_value:.3g} ({'MISMATCH, not trustworthy' if srm.flagged else 'ok'})")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    d = result.decision
    console.print(f"[bold]decision: {d.recommendation}{' ' + d.arm if d.arm else ''}[/]")
    for reason in d.reasons:
        console.print(f"  {reason}", highlight=False)
    if plot is not None:
        forest_plot(result, plot)
        console.print(f"forest plot written to {plot}")


def _rows_from_logs(name: str, spec: Path | None, hours: float | None, save_rows: Path | None, console):
    """The spec and the per-unit rows of recommender experiment ``name`` from the data home's logs."""
    from experiments import ExperimentSpec
    from experiments.errors import ExperimentError
    from serving.attribution import unit_rows
    from serving.experiment import read_experiment
    from shopml.settings import load_settings

    settings = load_settings()
    path = settings.experiment_path
    file = read_experiment(path)
    current = file if file is not None and file.experiment == name else None
    if spec is not None:
        experiment = ExperimentSpec.model_validate(read_json(spec, "experiment spec"))
    elif current is not None:
        experiment = current.experiment_spec()
    else:
        running = f"it names {file.experiment!r}" if file is not None else "there is none"
        raise ExperimentError(f"experiment {name!r} is not the one in {path} ({running}); give its spec (JSON with "
                              "its variants and metrics) as the first argument")
    hours = hours or (current.attribution_hours if current is not None else 24.0)
    attribution = unit_rows(settings.data_home, name, hours)
    for problem in attribution.problems:
        console.print(f"[yellow]warning:[/] {problem}", highlight=False)
    if attribution.rows.empty:
        raise ExperimentError(f"no exposures of experiment {name!r} in {settings.data_home / 'exposures'} "
                              f"({attribution.exposures} logged); is it running (GET /v1/models), and has the "
                              "service written its log (every 5 s)?")
    console.print(attribution.summary(), highlight=False)
    if save_rows is not None:
        attribution.rows.to_parquet(save_rows, index=False)
        console.print(f"per-unit rows written to {save_rows}", highlight=False)
    return experiment, attribution.rows


@app.command()
def size(
    metric_type: str = typer.Option("proportion", "--type", help="proportion, mean, ratio or quantile."),
    baseline: float = typer.Option(..., help="Control mean (the conversion rate for a proportion)."),
    unit_sd: float | None = typer.Option(None, help="Per-unit standard deviation (not for proportions)."),
    mde: float | None = typer.Option(None, help="Relative effect to detect (0.05 = 5%)."),
    total_units: int | None = typer.Option(None, help="Instead of --mde: the units you have; prints the MDE."),
    alpha: float = typer.Option(0.05, help="False positive rate of the test (two-sided unless --one-sided)."),
    power: float = typer.Option(0.8, help="Chance to detect an effect of the MDE when it is there."),
    arms: int = typer.Option(2, help="Number of arms including control, equal weights."),
    one_sided: bool = typer.Option(False, "--one-sided", help="Test only for an improvement."),
    cuped_r2: float = typer.Option(0.0, help="Squared correlation of metric and pre-period covariate."),
    sequential: bool = typer.Option(False, "--sequential", help="Plan for always-valid (peeking-safe) testing."),
    daily_units: float | None = typer.Option(None, help="New units per day, for the duration."),
) -> None:
    """Sample size (or minimum detectable effect) and duration of a new experiment."""
    from rich.console import Console

    from experiments import PlanRequest, minimum_detectable_effect, plan_sample_size
    from experiments.errors import ExperimentError

    if (mde is None) == (total_units is None):
        raise ExperimentError("give exactly one of --mde (to get a sample size) or --total-units (to get the MDE)")
    request = PlanRequest(
        metric_type=metric_type, baseline=baseline, unit_sd=unit_sd, mde=mde, alpha=alpha, power=power,
        weights=[1 / arms] * arms, test="one-sided" if one_sided else "two-sided", cuped_r2=cuped_r2,
        sequential=sequential, daily_units=daily_units,
    )
    plan = plan_sample_size(request) if total_units is None else minimum_detectable_effect(total_units, request)
    Console().print(str(plan), highlight=False)


@app.command()
def assign(
    experiment: str = typer.Argument(..., help="Experiment name (part of the hash key)."),
    unit_ids: list[str] = typer.Argument(..., help="One or more unit ids."),  # noqa: B008
    variants: str = typer.Option("control:0.5,treatment:0.5", help="name:weight pairs, comma separated."),
    salt: str = typer.Option("", help="Salt; change it to reshuffle this experiment's units."),
    traffic: float = typer.Option(1.0, help="Share of units that enter the experiment."),
    holdout: str | None = typer.Option(None, help="Holdout name shared across experiments."),
    holdout_fraction: float = typer.Option(0.0, help="Share of all units in the holdout."),
) -> None:
    """Print the variant of each unit (deterministic: the same answer in every process)."""
    from experiments import AssignmentSpec
    from experiments import assign as assign_unit
    from experiments.errors import ExperimentError

    try:
        pairs = [(name.strip(), float(weight)) for name, weight in (item.split(":") for item in variants.split(","))]
    except ValueError as exc:
        raise ExperimentError(f"--variants must look like 'control:0.5,treatment:0.5', got {variants!r}") from exc
    spec = AssignmentSpec(
        experiment=experiment,
        variants=[{"name": n, "weight": w} for n, w in pairs],
        salt=salt,
        traffic=traffic,
        holdout={"name": holdout, "fraction": holdout_fraction} if holdout else None,
    )
    for unit_id in unit_ids:
        a = assign_unit(spec, unit_id)
        typer.echo(f"{unit_id}\t{a.variant if a.variant is not None else '-'}\t{a.reason}")


@app.command()
def cupac(
    rows: Path = typer.Argument(..., help="Parquet file of per-unit experiment rows (unit ids are customer ids)."),  # noqa: B008
    out: Path = typer.Option(  # noqa: B008 - --out was its first spelling; -o/--output as in every other command
        ..., "--output", "-o", "--out", help="Where to write the rows with the covariate column (Parquet)."
    ),
    features: Path | None = typer.Option(  # noqa: B008
        None, help="customers.parquet as of the experiment's start (default: the latest `shopml features build`)."
    ),
    unit_column: str = typer.Option("unit_id", help="Unit id column of ROWS."),
    prediction: str = typer.Option("predicted_value", help="Scorer column to use: predicted_value or churn_probability."),
    column: str | None = typer.Option(None, help="Name of the new column (default: the prediction's name)."),
    fill_value: float = typer.Option(0.0, help="Covariate of units without pre-period features."),
) -> None:
    """Add a CUPAC covariate: the champion customer model's prediction for each unit, as of the experiment's start."""
    import pandas as pd

    from experiments import cupac as cupac_module
    from features.pipeline import latest_feature_dir
    from shopml.errors import DataValidationError
    from shopml.settings import load_settings

    settings = load_settings()
    check_parquet(rows, "ROWS")
    features_path = features or latest_feature_dir(settings.features_dir) / "customers.parquet"
    if features is None and not features_path.exists():
        raise DataValidationError(f"{features_path} not found; run `shopml features build --cutoff START` first")
    check_parquet(features_path, "--features")
    scorer, versions = load_customer_scorer(settings)
    frame, report = cupac_module.customer_value_covariate(
        pd.read_parquet(rows), scorer, pd.read_parquet(features_path), unit_column=unit_column,
        prediction=prediction, column=column or prediction, fill_value=fill_value,
    )
    frame.to_parquet(out, index=False)
    typer.echo(
        f"wrote {out}: column {report.column!r} for {report.scored} scored units and {report.filled} without "
        f"pre-period features (set to {report.fill_value:g}); models {versions}; features {features_path}"
    )



def load_customer_scorer(settings):
    """The champion customer scorer and its versions (``NotTrainedError`` names the train command)."""
    from training.customers import CustomerScorer
    from training.registry import load_champion

    return load_champion(CustomerScorer, settings)


@app.command()
def monitor(
    spec: Path = typer.Argument(..., help="Experiment spec (JSON) with settings.sequential = true."),  # noqa: B008
    raw: Path = typer.Option(..., "--raw", help="Parquet file of per-unit rows with a period column."),  # noqa: B008
    period_column: str = typer.Option("day", help="Column of --raw with the period of each unit's first exposure."),
    metric: str | None = typer.Option(None, help="Metric to follow (default: the first goal)."),
    arm: str | None = typer.Option(None, help="Treatment arm to follow (default: the first)."),
    unit_column: str = typer.Option("unit_id", help="Unit id column of --raw."),
    variant_column: str = typer.Option("variant", help="Variant column of --raw."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the effect and its always-valid interval over time."),  # noqa: B008
) -> None:
    """Look at a sequential test after every period: lift, always-valid interval, p-value and decision."""
    from experiments import ExperimentSpec, evaluate_over_time, sequential_plot
    from experiments.errors import ExperimentError

    experiment = ExperimentSpec.model_validate(read_json(spec, "experiment spec"))
    check_parquet(raw, "--raw")
    if not experiment.settings.sequential:
        raise ExperimentError(
            "monitoring after every period needs \"settings\": {\"sequential\": true}; a fixed-horizon test read "
            "repeatedly inflates false positives"
        )
    goals = [m.name for m in experiment.metrics if m.role == "goal"] or [experiment.metrics[0].name]
    metric = metric or goals[0]
    arm = arm or experiment.treatments[0]
    history = evaluate_over_time(experiment, raw, period_column, unit_column=unit_column, variant_column=variant_column)
    typer.echo(f"{experiment.name}: {metric} in {arm} vs {experiment.control}, always-valid {1 - experiment.settings.alpha:.0%} intervals")
    typer.echo("period\tunits\tabs. lift\tinterval\tp\tdecision")
    for period, result in history:
        c = result.comparison(metric, arm)
        typer.echo(
            f"{period}\t{c.n_control + c.n_treatment}\t{_fmt(c.absolute_lift)}\t"
            f"[{_fmt(c.absolute_lower)}, {_fmt(c.absolute_upper)}]\t{_fmt(c.p_value)}\t{result.decision.recommendation}"
        )
    if plot is not None:
        sequential_plot(history, metric, arm, plot)
        typer.echo(f"plot written to {plot}")
