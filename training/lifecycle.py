"""One training-run lifecycle for every model family: log, register, compare with the champion, promote.

A family's ``train.py`` fits and evaluates its model, describes the result as a :class:`Candidate` (the
inference object and an input example, the primary metric, parameters, lineage, metrics, plots, JSON
artifacts) and calls :func:`run_training`, which in one MLflow run of the family's experiment:

1. logs the parameters, the lineage (data fingerprint, cutoffs, feature list; tag ``evaluation_key``), the
   metrics (nested dicts flattened to ``prefix.key.subkey``), the baselines, the plots (PNG under ``plots/``)
   and the JSON artifacts;
2. logs the model and registers it under the family's name;
3. compares it with the champion on the same evaluation and moves the ``champion`` alias only when it wins
   (on the primary metric, or on the family's tiebreak when the primary one is as good), or when ``force`` (:func:`training.registry.register_and_promote`; the run's ``promotion.*`` tags say why);

and returns one :class:`TrainOutcome`. What differs between families (what to fit, which metric, which plots)
stays in their ``train.py``; the sequence is written here once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import pandas as pd

from shopml.settings import Settings
from training.contract import ServedModel
from training.registry import Tiebreak

R = TypeVar("R")

ONLINE_RETAIL = "online-retail"
"""``--data online-retail``: the shared UCI Online Retail I file beside the project."""


@dataclass(frozen=True)
class Lineage:
    """Which data, cutoffs and features a run used, and which evaluation its metric was measured on.

    Two versions are compared on their metric only when their ``evaluation_key`` is equal (same data
    fingerprint, same cutoffs or origins, same horizon): a different evaluation is never compared blindly.
    """

    fingerprint: str
    evaluation_key: str
    cutoffs: Mapping[str, str] = field(default_factory=dict)
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A fitted and evaluated model, described for :func:`run_training`.

    Parameters
    ----------
    model_name, experiment, run_name
        The registered model (one of :mod:`training.names`), the MLflow experiment and the run's name.
    model, example
        The inference object to log and a few rows of its input (for the signature and input example).
    metric, value, higher_is_better
        The primary metric that decides promotion and the new model's value on ``lineage.evaluation_key``.
    metrics, baselines
        Nested dicts of numbers, logged as ``<metrics_prefix>.*`` and ``baselines.*`` (non-numbers skipped).
    diagnostics
        More nested numbers logged as they are named (``calibration_fold.*``, ``candidates.*`` ...).
    figures
        Plot name -> function returning a matplotlib figure; drawn inside the run, logged as PNG, closed.
    artifacts
        File name (``"x.json"``) -> JSON-serialisable data.
    rescore
        Optional: the champion's metric on *this* evaluation, given its ``models:/`` URI, for when the
        champion was evaluated differently (see :func:`training.registry.register_and_promote`); a mapping
        of metrics by name when there is a ``tiebreak``.
    tiebreak
        Optional: the second metric that promotes a version as good as the champion on the primary one,
        within a tolerance (:class:`training.registry.Tiebreak`).
    """

    model_name: str
    experiment: str
    run_name: str
    model: ServedModel
    example: pd.DataFrame
    metric: str
    value: float
    lineage: Lineage
    higher_is_better: bool = True
    params: Mapping[str, object] = field(default_factory=dict)
    metrics: Mapping[str, object] = field(default_factory=dict)
    metrics_prefix: str = "evaluation"
    baselines: Mapping[str, object] = field(default_factory=dict)
    diagnostics: Mapping[str, object] = field(default_factory=dict)
    figures: Mapping[str, Callable[[], Any]] = field(default_factory=dict)
    artifacts: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    rescore: Callable[[str], float | Mapping[str, float]] | None = None
    tiebreak: Tiebreak | None = None


@dataclass(frozen=True)
class TrainOutcome(Generic[R]):
    """What a training run did: the registered version, whether it became champion and why, the metrics it
    logged, and the family's own result (``result``: the fitted model and its evaluation)."""

    model_name: str
    run_id: str
    version: str
    promoted: bool
    reason: str
    metric: str
    value: float
    metrics: Mapping[str, object]
    baselines: Mapping[str, object]
    result: R
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: ``churn v3 (roc_auc 0.8123): promoted: first version: no champion yet``."""
        word = "promoted" if self.promoted else "not promoted"
        return f"{self.model_name} v{self.version} ({self.metric} {self.value:.4f}): {word}: {self.reason}"


def run_training(settings: Settings, candidate: Candidate, result: R, *, force: bool = False,
                 started: float | None = None) -> TrainOutcome[R]:
    """Log ``candidate`` in one MLflow run, register it and promote it if it wins (or ``force``).

    ``result`` is the family's own fit result, handed back in :attr:`TrainOutcome.result`; ``started`` (a
    ``time.perf_counter()`` reading) makes :attr:`TrainOutcome.seconds` include the fitting before this call.
    """
    import mlflow

    from training.registry import register_and_promote
    from training.tracking import (
        configure_mlflow,
        log_data_lineage,
        log_figure,
        log_metrics_flat,
        training_run,
    )

    started = time.perf_counter() if started is None else started
    client = configure_mlflow(settings)
    lineage = candidate.lineage
    with training_run(settings, candidate.experiment, candidate.run_name, dict(candidate.tags)) as run:
        mlflow.set_tag("evaluation_key", lineage.evaluation_key)
        log_data_lineage(lineage.fingerprint, dict(lineage.cutoffs), list(lineage.features))
        if candidate.params:
            mlflow.log_params({key: str(value) for key, value in candidate.params.items()})
        log_metrics_flat({candidate.metrics_prefix: candidate.metrics, "baselines": candidate.baselines,
                          **candidate.diagnostics})
        mlflow.log_metric(candidate.metric, float(candidate.value))
        for name, data in candidate.artifacts.items():
            mlflow.log_dict(data, name)
        for name, draw in candidate.figures.items():
            log_figure(draw(), name)
        uri = log_model(candidate.model, example=candidate.example)
        decision = register_and_promote(
            client, model_name=candidate.model_name, model_uri=uri, run_id=run.info.run_id,
            metric=candidate.metric, value=candidate.value, evaluation_key=lineage.evaluation_key,
            higher_is_better=candidate.higher_is_better, force=force, rescore=candidate.rescore,
            tiebreak=candidate.tiebreak, audit_to=settings,
        )
    return TrainOutcome(
        model_name=candidate.model_name, run_id=run.info.run_id, version=decision.version,
        promoted=decision.promoted, reason=decision.reason, metric=candidate.metric, value=float(candidate.value),
        metrics=candidate.metrics, baselines=candidate.baselines, result=result,
        seconds=time.perf_counter() - started,
    )


def log_model(inference_object: ServedModel, *, example: pd.DataFrame) -> str:
    """Log ``inference_object`` in the active run and return its model URI (the one place models are logged:
    self-contained, see :mod:`training.packaging`)."""
    from training.packaging import log_model as log_self_contained

    return log_self_contained(inference_object, example=example)


def load_training_tables(settings: Settings, data: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The tables a training command reads: canonical ``orders`` and ``products``.

    ``data`` is ``None`` or ``"raw"`` (the tables in ``settings.raw_dir``), ``"online-retail"`` (the shared
    Online Retail I file) or any file or folder :mod:`features.loaders` reads.
    """
    if data is None or str(data) == "raw":
        from features.store import load_tables

        return load_tables(settings.raw_dir, ("orders", "products"))
    from features.loaders import load

    path = online_retail_path() if str(data) == ONLINE_RETAIL else Path(data)
    return load(path).tables


def data_source(settings: Settings, data: str | Path | None = None) -> str:
    """A short label of where the training tables came from (the raw folder's manifest source, or the path)."""
    if data is None or str(data) == "raw":
        from features.store import read_manifest

        return str(read_manifest(settings.raw_dir).get("source", "raw"))
    return str(online_retail_path() if str(data) == ONLINE_RETAIL else data)


def online_retail_path() -> Path:
    """Online Retail I in the workplace's shared data (``../shared/data`` beside the project)."""
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail" / "online_retail_I.csv.gz"
