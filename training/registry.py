"""Register models and move the ``champion`` alias only when a new version wins.

A new version becomes champion when it beats the current champion on the *same* evaluation: the runs'
``evaluation_key`` tags match and the primary metric is better, or, when the keys differ, the caller's
``rescore`` function re-evaluates the champion on the new evaluation. A family may name a :class:`Tiebreak`:
a second metric that promotes a version whose primary metric is within a tolerance of the champion's (as good,
within noise) when the second is better (churn: the Brier score, so a retrain that corrects the base rate
after a shift is promoted though it ranks no better). ``force`` overrides. The decision
and its reason are written to the new run (tags ``promotion.*``) and the model version (tags), and recorded in
the audit trail (:mod:`shopml.audit`, actions ``model.promote`` / ``model.register``), as is a manual promotion.
:func:`load_champion` is the one way any model family is loaded from the registry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from shopml.errors import ShopmlError
from training.contract import Champion, ServedModel
from training.names import CHAMPION_ALIAS as CHAMPION
from training.names import CHURN, CUSTOMER_VALUE, DEMAND_FORECAST, RECOMMENDER

if TYPE_CHECKING:
    from shopml.settings import Settings

M = TypeVar("M", bound=ServedModel)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tiebreak:
    """A second metric that decides when the primary one is within ``tolerance`` of the champion's.

    ``value`` is the new version's; the primary metric may be worse than the champion's by at most
    ``tolerance`` (in its own units), and this one must then be strictly better.
    """

    metric: str
    value: float
    tolerance: float
    higher_is_better: bool = False

    def __post_init__(self) -> None:
        if not self.tolerance >= 0:
            raise ValueError(f"Tiebreak tolerance={self.tolerance!r}: use a number >= 0.")


@dataclass(frozen=True)
class PromotionDecision:
    """Whether a new model version became champion, and why."""

    model_name: str
    version: str
    promoted: bool
    reason: str
    metric: str
    new_value: float
    champion_version: str | None = None
    champion_value: float | None = None


def register_and_promote(
    client,
    *,
    model_name: str,
    model_uri: str,
    run_id: str,
    metric: str,
    value: float,
    evaluation_key: str,
    higher_is_better: bool = True,
    force: bool = False,
    rescore: Callable[[str], float | Mapping[str, float]] | None = None,
    tiebreak: Tiebreak | None = None,
    audit_to: Settings | Path | None = None,
) -> PromotionDecision:
    """Register ``model_uri`` under ``model_name`` and decide whether it becomes champion.

    Parameters
    ----------
    client
        An ``mlflow.MlflowClient`` (see :func:`training.tracking.configure_mlflow`).
    metric, value
        The primary metric and the new model's value on the evaluation identified by ``evaluation_key``.
    rescore
        Called with the champion's ``models:/`` URI when its evaluation differs; returns its metric on the
        new evaluation (or metrics by name, with the tiebreak's). Without it, a champion evaluated differently
        is kept (the reason says so).
    tiebreak
        The second metric that promotes a version whose primary metric is within its tolerance
        (:class:`Tiebreak`); None: the primary metric alone decides.
    audit_to
        Settings or data home whose audit trail records the decision (default: see :func:`_audit`).
    """
    import mlflow

    version = mlflow.register_model(model_uri, model_name).version
    client.set_model_version_tag(model_name, version, "evaluation_key", evaluation_key)
    client.set_model_version_tag(model_name, version, metric, repr(float(value)))
    if tiebreak is not None:
        client.set_model_version_tag(model_name, version, tiebreak.metric, repr(float(tiebreak.value)))
    champion = _current_champion(client, model_name)
    champion_value = None
    if force:
        promoted, reason = True, "forced (--force)"
    elif champion is None:
        promoted, reason = True, "first version: no champion yet"
    else:
        names = [metric] + ([tiebreak.metric] if tiebreak is not None else [])
        scores = _champion_metrics(client, model_name, champion, names, evaluation_key, rescore)
        champion_value = scores.get(metric)
        if champion_value is None:
            promoted = False
            reason = (
                f"champion v{champion.version} was evaluated on a different evaluation and cannot be re-scored; "
                "kept (use --force to promote anyway)"
            )
        else:
            promoted, reason = promotion_rule(metric, value, higher_is_better, champion.version, champion_value, tiebreak,
                                       scores.get(tiebreak.metric) if tiebreak is not None else None)
    if promoted:
        client.set_registered_model_alias(model_name, CHAMPION, version)
    decision = PromotionDecision(
        model_name=model_name, version=str(version), promoted=promoted, reason=reason, metric=metric,
        new_value=float(value), champion_version=None if champion is None else str(champion.version),
        champion_value=champion_value,
    )
    client.set_tag(run_id, "promotion.promoted", str(promoted).lower())
    client.set_tag(run_id, "promotion.reason", reason)
    client.set_tag(run_id, "promotion.version", str(version))
    client.set_model_version_tag(model_name, version, "promotion", reason)
    log.info("%s v%s: %s", model_name, version, reason)
    _audit(client, audit_to, "model.promote" if promoted else "model.register", model=model_name, version=str(version),
           promoted=promoted, reason=reason, previous=decision.champion_version, metric=metric, value=float(value))
    return decision


def _audit(client, audit_to: Settings | Path | None, action: str, **details: object) -> None:
    """Record a registry decision in the audit trail (shopml.audit) of ``audit_to`` (settings or a data home),
    else of the registry's data home: the folder of its SQLite store (``<data_home>/mlflow.db`` by default), or
    the current settings' data home when the registry is theirs. A remote registry that is not the current
    settings' is not guessed at: the decision is logged as unrecorded (pass ``audit_to``)."""
    from shopml.audit import cli_actor, record
    from shopml.settings import load_settings

    home = audit_to
    uri = str(getattr(client, "tracking_uri", "") or "")
    if home is None and uri.startswith("sqlite:///"):
        home = Path(uri.removeprefix("sqlite:///")).parent
    if home is None:
        current = load_settings()
        if current.tracking_uri != uri:
            log.warning("%s not in the audit trail: the registry %s is not the settings' (%s); pass audit_to",
                        action, uri, current.tracking_uri)
            return
        home = current
    record(home, cli_actor(), action, **details)


def _current_champion(client, model_name: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def champion_version(settings, model_name: str) -> str | None:
    """The version carrying the ``champion`` alias, or None (``--if-missing`` asks this, without loading it)."""
    from training.tracking import configure_mlflow

    champion = _current_champion(configure_mlflow(settings), model_name)
    return None if champion is None else str(champion.version)


def promotion_rule(metric: str, value: float, higher_is_better: bool, champion_version: str, champion_value: float,
            tiebreak: Tiebreak | None, champion_tiebreak: float | None) -> tuple[bool, str]:
    """The promotion rule: better on the primary metric; or within the tiebreak's tolerance of it and better
    on the tiebreak metric. Returns (promoted, reason)."""
    better = value > champion_value if higher_is_better else value < champion_value
    versus = f"champion v{champion_version} ({champion_value:.4f})"
    if better:
        return True, f"{metric} {value:.4f} beats {versus}"
    reason = f"{metric} {value:.4f} does not beat {versus}"
    if tiebreak is None or champion_tiebreak is None:
        return False, reason
    shortfall = champion_value - value if higher_is_better else value - champion_value
    if shortfall > tiebreak.tolerance:
        return False, f"{reason}, by more than {tiebreak.tolerance:g}"
    tie_better = (tiebreak.value > champion_tiebreak if tiebreak.higher_is_better
                  else tiebreak.value < champion_tiebreak)
    word = "beats" if tie_better else "does not beat"
    return bool(tie_better), (f"{metric} {value:.4f} within {tiebreak.tolerance:g} of {versus} and "
                              f"{tiebreak.metric} {tiebreak.value:.4f} {word} its {champion_tiebreak:.4f}")


def _champion_metrics(client, model_name, champion, names: list[str], evaluation_key,
                      rescore) -> dict[str, float]:
    """The champion's ``names`` metrics on this evaluation: its tags when it was evaluated on it, else
    ``rescore``'s (a number is the primary metric); missing ones are left out."""
    tags = champion.tags or {}
    if tags.get("evaluation_key") == evaluation_key and names[0] in tags:
        return {name: float(tags[name]) for name in names if name in tags}
    if rescore is None:
        return {}
    scored = rescore(f"models:/{model_name}/{champion.version}")
    if not isinstance(scored, Mapping):
        return {names[0]: float(scored)}
    return {name: float(scored[name]) for name in names if name in scored}


def champion_summary(client, model_names: list[str]) -> list[dict[str, object]]:
    """Registered models with their champion version and its key metric tags (for ``shopml models list``)."""
    rows: list[dict[str, object]] = []
    for name in model_names:
        champion = _current_champion(client, name)
        if champion is None:
            rows.append({"model": name, "champion": None, "tags": {}})
            continue
        rows.append({"model": name, "champion": str(champion.version), "tags": dict(champion.tags or {}),
                     "run_id": champion.run_id})
    return rows


def version_history(client, model_name: str) -> list[dict[str, object]]:
    """All versions of ``model_name``, newest first, with their promotion reason and champion flag."""
    from datetime import UTC, datetime

    from mlflow.exceptions import MlflowException

    from shopml.errors import ShopmlError

    try:
        versions = client.search_model_versions(f"name='{model_name}'")
    except MlflowException as exc:
        raise ShopmlError(f"cannot read the registry for model {model_name!r}: {exc}") from exc
    if not versions:
        raise ShopmlError(f"no registered model named {model_name!r}; train it first or check the name")
    champion = _current_champion(client, model_name)
    rows = []
    for v in sorted(versions, key=lambda v: int(v.version), reverse=True):
        created = datetime.fromtimestamp(v.creation_timestamp / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
        rows.append({
            "version": str(v.version), "champion": champion is not None and str(champion.version) == str(v.version),
            "created": created, "promotion": (v.tags or {}).get("promotion", ""), "run_id": v.run_id,
        })
    return rows


def set_champion(client, model_name: str, version: str, reason: str,
                 audit_to: Settings | Path | None = None) -> str | None:
    """Move the champion alias to ``version`` by hand; returns the previous champion version (or None)."""
    from mlflow.exceptions import MlflowException

    from shopml.errors import ShopmlError

    try:
        client.get_model_version(model_name, version)
    except MlflowException as exc:
        raise ShopmlError(
            f"model {model_name!r} has no version {version}; see `shopml models history {model_name}`"
        ) from exc
    previous = _current_champion(client, model_name)
    client.set_registered_model_alias(model_name, CHAMPION, version)
    client.set_model_version_tag(model_name, version, "promotion", f"{reason} (set by hand)")
    log.info("%s: champion set to v%s by hand", model_name, version)
    _audit(client, audit_to, "model.promote", model=model_name, version=str(version), promoted=True, reason=f"{reason} (set by hand)",
           previous=None if previous is None else str(previous.version))
    return None if previous is None else str(previous.version)


TRAIN_COMMANDS = {
    CHURN: "shopml train churn",
    CUSTOMER_VALUE: "shopml train value",
    RECOMMENDER: "shopml train recommender",
    DEMAND_FORECAST: "shopml train forecast",
}


def load_champion(family: type[M], settings, alias: str = CHAMPION) -> Champion[M]:
    """The family's model built from the registry versions carrying ``alias``, and those versions.

    ``family`` is a :class:`~training.contract.ServedModel` class (``CustomerScorer``, ``Recommender``,
    ``Forecaster``, ``ChurnModel``, ``ValueModel``); its ``registry_names`` say which registered models to read.
    Each alias is resolved once and that exact version is loaded, so a promotion racing with the load cannot
    pair one version's number with another's model. Raises :class:`~shopml.errors.NotTrainedError` naming the
    command to run when a registered model has no version with the alias.

    The version's artifact folder is loaded with this checkout's ``family.load`` (the MLflow wrapper and the
    code the model carries are for other environments; see :mod:`training.packaging`).
    """
    import tempfile

    from training.tracking import configure_mlflow

    client = configure_mlflow(settings)
    versions = {name: _alias_version(client, settings, name, alias) for name in family.registry_names}
    with tempfile.TemporaryDirectory(prefix="shopml-model-") as tmp:
        folders = {name: _download_folder(name, version, Path(tmp) / name) for name, version in versions.items()}
        model = family.load_registered(folders)
    return Champion(model, versions)


def load_version(family: type[M], settings, versions: Mapping[str, str]) -> M:
    """The family's model built from exact registry versions (``{"churn": "3"}``): a past champion to
    re-score or replay, whatever the aliases say now."""
    import tempfile

    from training.tracking import configure_mlflow

    configure_mlflow(settings)
    with tempfile.TemporaryDirectory(prefix="shopml-model-") as tmp:
        folders = {name: _download_folder(name, str(version), Path(tmp) / name) for name, version in versions.items()}
        return family.load_registered(folders)


def version_params(settings, model_name: str, version: str) -> dict[str, str]:
    """The parameters of the run that produced ``model_name`` ``version`` (its lineage: ``cutoff_*``,
    ``data_fingerprint``...)."""
    from training.tracking import configure_mlflow

    client = configure_mlflow(settings)
    run_id = client.get_model_version(model_name, str(version)).run_id
    return dict(client.get_run(run_id).data.params)


class RegistryUnavailableError(ShopmlError):
    """The registry could not be asked (down, slow, refused): unlike :class:`NotTrainedError`, training will not
    help; the service serves its last-good copies meanwhile."""


_ABSENT = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND", "ENDPOINT_NOT_FOUND"})
"""MLflow error codes that mean "no such model or alias" rather than "the registry did not answer"."""


def _alias_version(client, settings, model_name: str, alias: str) -> str:
    from mlflow.exceptions import MlflowException

    from shopml.errors import NotTrainedError

    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException as exc:
        if exc.error_code not in _ABSENT:
            raise RegistryUnavailableError(
                f"the registry at {settings.tracking_uri} did not answer for {model_name!r}: "
                f"{str(exc).splitlines()[0][:200]}"
            ) from exc
        command = TRAIN_COMMANDS.get(model_name, "shopml train all")
        raise NotTrainedError(
            f"no {model_name!r} model with alias {alias!r} in {settings.tracking_uri}: run `{command}` first."
        ) from exc


def _download_folder(model_name: str, version: str, target: Path) -> Path:
    """The family's saved folder inside ``models:/NAME/VERSION`` (its only pyfunc artifact)."""
    import mlflow
    from mlflow.models import Model

    from shopml.errors import NotTrainedError

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{model_name}/{version}",
                                                     dst_path=str(target)))
    artifacts = Model.load(local).flavors.get("python_function", {}).get("artifacts") or {}
    if len(artifacts) != 1:
        raise NotTrainedError(f"{model_name} v{version} is not a shopml model (artifacts: {sorted(artifacts)}); "
                              f"retrain it with `{TRAIN_COMMANDS.get(model_name, 'shopml train all')}`.")
    (artifact,) = artifacts.values()
    return local / artifact["path"]
