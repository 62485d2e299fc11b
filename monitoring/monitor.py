"""The monitor's verdict and report: which thresholds a run crossed, as JSON and as an HTML page.

``shopml monitor`` gathers drift (:mod:`monitoring.drift`), outcomes (:mod:`monitoring.outcomes`) and the KPI
alerts into one report dict; :func:`verdict` lists the thresholds it crosses (a scheduler alerts on the exit
status), :func:`write_monitor_report` writes it. Thresholds (:class:`MonitorThresholds`) are documented in
``docs/monitoring.md``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class MonitorThresholds:
    """When a monitor run alerts.

    * a model output (churn probability, predicted value, segment) drifts (:class:`DriftSettings`), a column
      of the order stream does (country, unit price, quantity of the last 7 days' sale lines), or at least
      ``min_drifted_features`` input features do (cumulative features excepted; one drifting feature among
      twenty is common and rarely matters);
    * the newest scored churn cohort's ROC-AUC is more than ``auc_drop`` below the champion's own evaluation
      AUC, or its ECE is above ``max_ece``.
    """

    min_drifted_features: int = 3
    auc_drop: float = 0.05
    max_ece: float = 0.10


def verdict(report: dict[str, Any], thresholds: MonitorThresholds | None = None) -> list[str]:
    """One line per crossed threshold (empty: all is well)."""
    thresholds = thresholds or MonitorThresholds()
    lines = []
    drift = report.get("drift") or {}
    outputs = (drift.get("predictions") or {}).get("drifted") or []
    if outputs:
        lines.append(f"model outputs drifted: {', '.join(outputs)}")
    orders = (drift.get("orders") or {}).get("drifted") or []
    if orders:
        lines.append(f"the order stream drifted: {', '.join(orders)} of the last 7 days' sale lines")
    features = (drift.get("features") or {}).get("drifted") or []
    if len(features) >= thresholds.min_drifted_features:
        lines.append(f"{len(features)} features drifted (threshold {thresholds.min_drifted_features}): "
                     + ", ".join(features[:8]) + (" ..." if len(features) > 8 else ""))
    latest = (report.get("outcomes") or {}).get("churn_latest")
    reference_auc = (report.get("champion") or {}).get("evaluation_roc_auc")
    if latest and latest.get("roc_auc") is not None:
        if reference_auc is not None and latest["roc_auc"] < reference_auc - thresholds.auc_drop:
            lines.append(f"churn ROC-AUC {latest['roc_auc']:.3f} on the cohort scored {latest['scored_at']} is more "
                         f"than {thresholds.auc_drop} below the champion's evaluation ({reference_auc:.3f})")
        if latest.get("ece") is not None and latest["ece"] > thresholds.max_ece:
            lines.append(f"churn ECE {latest['ece']:.3f} on the cohort scored {latest['scored_at']} is above "
                         f"{thresholds.max_ece}")
    return lines


def thresholds_dict(thresholds: MonitorThresholds | None = None) -> dict[str, float]:
    return asdict(thresholds or MonitorThresholds())


def write_monitor_report(report: dict[str, Any], path: str | Path) -> Path:
    """``.json`` (the report as it is) or ``.html`` (tables and plots), written atomically."""
    path = Path(path)
    text = (json.dumps(report, indent=1, default=str) + "\n" if path.suffix.lower() == ".json"
            else _html(report))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(text)
    os.replace(staging, path)
    return path


def _html(report: dict[str, Any]) -> str:
    esc = html.escape
    parts = [f"<h1>shopml monitor as of {esc(str(report.get('as_of')))}</h1>"]
    alerts = report.get("verdict") or []
    parts.append("<h2>Verdict</h2>" + ("<p>all thresholds respected</p>" if not alerts
                                        else "<ul>" + "".join(f"<li>{esc(a)}</li>" for a in alerts) + "</ul>"))
    for note in report.get("notes") or []:
        parts.append(f"<p class=note>{esc(note)}</p>")
    drift = report.get("drift") or {}
    for name in ("predictions", "orders", "features"):
        table = drift.get(name)
        if table:
            frame = pd.DataFrame(table["columns"])
            parts.append(f"<h2>Drift: {name}</h2>" + _figure(_psi_plot(frame, name))
                         + frame[["column", "status", "psi", "test", "p_value", "reference_mean", "current_mean"]]
                         .to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep=""))
    outcomes = report.get("outcomes") or {}
    churn = pd.DataFrame(outcomes.get("churn") or [])
    if not churn.empty:
        parts.append("<h2>Churn and value outcomes per scoring date and version</h2>")
        if "roc_auc" in churn:
            parts.append(_figure(_outcome_plot(churn)))
        shown = [c for c in ("scored_at", "model_version", "customers", "status", "churn_rate",
                             "mean_churn_probability", "roc_auc", "ece", "value_gini") if c in churn]
        parts.append(churn[shown].to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep=""))
    for key, title in (("recommendations", "Recommendation hit rate"), ("forecasts", "Forecast WAPE and coverage")):
        frame = pd.DataFrame(outcomes.get(key) or [])
        if not frame.empty:
            parts.append(f"<h2>{title}</h2>" + frame.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep=""))
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}.note{color:#555}")
    return f"<!doctype html><html><head><meta charset=utf-8><title>shopml monitor</title><style>{style}</style>" \
           f"</head><body>{''.join(parts)}</body></html>\n"


def _psi_plot(frame: pd.DataFrame, name: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    judged = frame.dropna(subset=["psi"]).sort_values("psi")
    fig, ax = plt.subplots(figsize=(8, max(2.0, 0.25 * len(judged) + 1)))
    colours = judged["status"].map({"drift": "#c0392b", "moderate": "#e67e22"}).fillna("#7f8c8d")
    ax.barh(judged["column"], judged["psi"], color=colours)
    for level in (0.1, 0.25):
        ax.axvline(level, color="#333", linestyle=":", linewidth=1)
    ax.set_xlabel("population stability index (0.1 moderate, 0.25 drift)")
    ax.set_title(f"{name}: training reference vs current population")
    fig.tight_layout()
    return fig


def _outcome_plot(churn: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = churn.dropna(subset=["roc_auc"])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for version, group in scored.groupby("model_version"):
        axes[0].plot(pd.to_datetime(group["scored_at"]), group["roc_auc"], marker="o", label=str(version))
        axes[1].plot(pd.to_datetime(group["scored_at"]), group["ece"], marker="o", label=str(version))
    axes[0].set_title("ROC-AUC by scoring date")
    axes[1].set_title("ECE by scoring date")
    axes[0].legend(title="version", fontsize=7)
    last = scored.iloc[-1] if not scored.empty else None
    if last is not None and isinstance(last.get("reliability"), list):
        curve = pd.DataFrame(last["reliability"])
        axes[2].plot([0, 1], [0, 1], color="#999", linestyle=":")
        axes[2].plot(curve["predicted"], curve["observed"], marker="o")
        axes[2].set_title(f"reliability, cohort {pd.Timestamp(last['scored_at']):%Y-%m-%d}")
        axes[2].set_xlabel("predicted churn")
        axes[2].set_ylabel("observed churn")
    for ax in axes[:2]:
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.tight_layout()
    return fig


def _figure(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return f"<img alt=plot src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'>"
