"""``shopml report customers``: one self-contained HTML page marketing can open and forward.

It shows the champions' evaluation plots (read back from their MLflow runs), the monthly cohort retention
heatmap, and the size and predicted value of every lifecycle segment as of the scoring date. Images are
embedded as base64 PNG so the file stands alone.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shopml.settings import Settings

CHAMPION_PLOTS = {
    "churn": ("calibration_curve", "cumulative_gain", "feature_importance"),
    "customer_value": ("value_by_decile", "cumulative_gain", "feature_importance"),
}


@dataclass(frozen=True)
class ReportSection:
    title: str
    body: str


def customer_report(settings: Settings, output: Path | None = None, as_of: pd.Timestamp | None = None) -> Path:
    """Write the customer report and return its path (default ``reports/customers-DATE.html``)."""
    from features.store import load_tables
    from training.customers.audiences import score_audience
    from training.customers.cohorts import cohort_retention, retention_heatmap

    audience = score_audience(settings, as_of=as_of)  # raises NotTrainedError naming the command when untrained
    orders = load_tables(settings.raw_dir, ("orders",))["orders"]
    orders = orders.loc[orders["ordered_at"] < audience.as_of]
    sections = [
        ReportSection("Lifecycle segments", _segments_table(audience.scores)),
        ReportSection("Cohort retention", _img(retention_heatmap(cohort_retention(orders)))),
    ]
    for model, version in audience.versions.items():
        images = _champion_images(settings, model)
        sections.append(ReportSection(f"{model} v{version}", "".join(images) or "<p>no plots logged</p>"))
    path = output or settings.reports_dir / f"customers-{audience.as_of:%Y-%m-%d}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    title = f"Customers as of {audience.as_of:%Y-%m-%d}: {audience.scored:,} scored"
    path.write_text(_page(title, sections), encoding="utf-8")
    return path


def _segments_table(scores: pd.DataFrame) -> str:
    from training.customers.segments import SEGMENTS

    grouped = scores.groupby("segment").agg(
        customers=("customer_id", "size"), churn=("churn_probability", "mean"),
        mean_value=("predicted_value", "mean"), total_value=("predicted_value", "sum"),
    ).reindex(list(SEGMENTS)).fillna(0)
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{int(r.customers):,}</td><td>{r.churn:.1%}</td>"
        f"<td>{r.mean_value:,.1f}</td><td>{r.total_value:,.0f}</td></tr>"
        for name, r in grouped.iterrows()
    )
    head = "<tr><th>segment</th><th>customers</th><th>mean churn risk</th><th>mean predicted value</th>" \
           "<th>total predicted value</th></tr>"
    return f"<table>{head}{rows}</table>"


def _champion_images(settings: Settings, model: str) -> list[str]:
    """The champion run's PNG plots as <img> tags (missing plots are skipped, not an error)."""
    import mlflow

    from training.names import CHAMPION_ALIAS
    from training.tracking import configure_mlflow

    client = configure_mlflow(settings)
    run_id = client.get_model_version_by_alias(model, CHAMPION_ALIAS).run_id
    images = [_run_summary(client.get_run(run_id))]
    for name in CHAMPION_PLOTS.get(model, ()):
        try:
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=f"plots/{name}.png")
        except Exception:  # noqa: BLE001 - an older run may lack a plot; the report still renders
            continue
        data = base64.b64encode(Path(local).read_bytes()).decode()
        images.append(f'<img alt="{name}" src="data:image/png;base64,{data}">')
    return images


SUMMARY_METRICS = {"evaluation.roc_auc": "ROC-AUC", "evaluation.ece": "ECE", "evaluation.brier": "Brier",
                   "evaluation.normalized_gini": "normalized Gini", "evaluation.spearman": "Spearman"}


def _run_summary(run) -> str:
    """The champion's evaluation figures, and for churn how its probabilities were calibrated."""
    metrics = run.data.metrics
    parts = [f"{label} {metrics[key]:.3f}" for key, label in SUMMARY_METRICS.items() if key in metrics]
    cutoff = run.data.params.get("cutoff_evaluation")
    if cutoff:
        parts.append(f"evaluated at {cutoff}")
    if "calibration" in run.data.tags:
        parts.append(f"calibration: {run.data.tags['calibration']}")
    return f"<p>{html.escape('; '.join(parts))}</p>"


def _img(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _page(title: str, sections: list[ReportSection]) -> str:
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}img{max-width:100%;margin:.5em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}"
             "td:first-child,th:first-child{text-align:left}")
    body = "".join(f"<h2>{html.escape(s.title)}</h2>{s.body}" for s in sections)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
