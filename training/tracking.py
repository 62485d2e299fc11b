"""MLflow set-up and the logging primitives of a training run (used by :mod:`training.lifecycle`).

The tracking URI comes from :class:`shopml.settings.Settings` (SQLite in the data home by default; an
``mlflow server`` URI works the same). Nothing talks to MLflow at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shopml.settings import Settings


def configure_mlflow(settings: Settings):
    """Point MLflow at the settings' tracking URI and return a client for the registry."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    from mlflow import MlflowClient

    if settings.tracking_uri.startswith("sqlite:///"):
        Path(settings.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


@contextmanager
def training_run(settings: Settings, experiment: str, run_name: str, tags: dict[str, str] | None = None) -> Iterator[Any]:
    """Start an MLflow run in ``experiment``; yields the active run."""
    import mlflow

    client = configure_mlflow(settings)
    if client.get_experiment_by_name(experiment) is None and settings.tracking_uri.startswith("sqlite:///"):
        # MLflow's default artifact root for a SQLite store is ./mlruns in the working directory: keep a run's
        # artifacts beside its database in the data home instead (a tracking server chooses its own root).
        root = Path(settings.tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts" / experiment
        client.create_experiment(experiment, artifact_location=root.resolve().as_uri())
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name, tags=tags or {}) as run:
        yield run


def log_data_lineage(fingerprint: str, cutoffs: dict[str, str], features: list[str]) -> None:
    """Record which data, which cutoffs and which features a run used (params and a JSON artifact)."""
    import mlflow

    mlflow.log_param("data_fingerprint", fingerprint)
    for name, value in cutoffs.items():
        mlflow.log_param(f"cutoff_{name}", value)
    mlflow.log_param("n_features", len(features))
    mlflow.log_dict({"fingerprint": fingerprint, "cutoffs": cutoffs, "features": features}, "lineage.json")


def log_figure(figure, name: str) -> None:
    """Log a matplotlib figure as a PNG artifact under ``plots/`` and close it."""
    import matplotlib.pyplot as plt
    import mlflow

    mlflow.log_figure(figure, f"plots/{name}.png")
    plt.close(figure)


def log_metrics_flat(metrics: dict[str, Any], prefix: str = "") -> None:
    """Log a nested dict of numbers as ``prefix.key.subkey`` metrics (non-numbers are skipped)."""
    import mlflow

    flat: dict[str, float] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, int | float) and not isinstance(node, bool):
            flat[path.replace("@", "_at_")] = float(node)

    walk(metrics, prefix)
    mlflow.log_metrics(flat)
