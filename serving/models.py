"""The models the service serves: champion loading, a last-good local copy, and reload without downtime.

Each served model is a :class:`~training.contract.ServedModel` family named here in code (:data:`CUSTOMERS`,
:data:`RECOMMENDER`, :data:`FORECAST`) and loaded with :func:`training.registry.load_champion`. After a
successful load a copy is saved (the family's ``save``) under ``<data_home>/serving/last_good/<name>/``. When the
registry cannot be reached (or lost the champion) the copy is served instead (the family's ``load``) and
``/readyz`` and ``/v1/models`` say so (``source = "local-copy"``). :meth:`ModelStore.reload` loads new objects
first and then swaps one reference, so requests in flight finish on the old object and none is dropped.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar, cast, overload

from serving.errors import ModelNotLoadedError
from shopml.errors import NotTrainedError
from shopml.settings import Settings
from training.contract import ServedModel
from training.customers.predict import CustomerScorer
from training.forecast.predict import Forecaster
from training.recommend.predict import Recommender
from training.registry import TRAIN_COMMANDS, load_champion

logger = logging.getLogger(__name__)

LOCAL_COPY = "local-copy"
REGISTRY = "registry"

M = TypeVar("M", bound=ServedModel)
M_co = TypeVar("M_co", bound=ServedModel, covariant=True)


@dataclass(frozen=True)
class ModelSpec(Generic[M_co]):
    """A served model: its name in the service and the family class that is loaded and saved."""

    name: str
    family: type[M_co]

    @property
    def registry_names(self) -> tuple[str, ...]:
        return self.family.registry_names

    @property
    def train_hint(self) -> str:
        """The command(s) that train its registered models."""
        return " && ".join(TRAIN_COMMANDS[name] for name in self.registry_names)


CUSTOMERS = ModelSpec("customers", CustomerScorer)
"""Churn and customer value champions together (scores and audiences)."""
RECOMMENDER = ModelSpec("recommender", Recommender)
FORECAST = ModelSpec("forecast", Forecaster)


def default_specs() -> tuple[ModelSpec[ServedModel], ...]:
    """The three served models."""
    return (CUSTOMERS, RECOMMENDER, FORECAST)


@dataclass(frozen=True)
class LoadedModel(Generic[M_co]):
    """One loaded inference object and where it came from; replaced as a whole on reload."""

    name: str
    obj: M_co
    version: str
    versions: dict[str, str]
    source: str
    loaded_at: str
    note: str | None = None


@dataclass
class ModelStatus:
    name: str
    error: str | None = None


@dataclass
class ModelStore:
    """Holds the served models; lookups are one dict read, reloads swap whole entries."""

    settings: Settings
    specs: tuple[ModelSpec[ServedModel], ...] = field(default_factory=default_specs)
    _loaded: dict[str, LoadedModel[ServedModel]] = field(default_factory=dict)
    _errors: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    on_change: list[Callable[[LoadedModel[ServedModel]], None]] = field(default_factory=list)

    @property
    def copy_root(self) -> Path:
        return Path(self.settings.data_home) / "serving" / "last_good"

    @overload
    def get(self, name: str) -> LoadedModel[ServedModel]: ...

    @overload
    def get(self, name: ModelSpec[M]) -> LoadedModel[M]: ...

    def get(self, name: str | ModelSpec[M]) -> LoadedModel[ServedModel] | LoadedModel[M]:
        """The loaded model (by name, or by spec for its family's type), or :class:`ModelNotLoadedError` (503)
        saying how to train it."""
        key = name if isinstance(name, str) else name.name
        loaded = self._loaded.get(key)
        if loaded is None:
            spec = self._spec(key)
            reason = self._errors.get(key, "not loaded")
            raise ModelNotLoadedError(f"model {key!r} is not available ({reason}); run `{spec.train_hint}`")
        if isinstance(name, str):
            return loaded
        if not isinstance(loaded.obj, name.family):  # a spec list that disagrees with the store's
            raise ModelNotLoadedError(f"model {key!r} is a {type(loaded.obj).__name__}, not a {name.family.__name__}")
        return cast(LoadedModel[M], loaded)

    def loaded(self, name: str) -> LoadedModel[ServedModel] | None:
        return self._loaded.get(name)

    def error(self, name: str) -> str | None:
        return self._errors.get(name)

    @property
    def ready(self) -> bool:
        return all(spec.name in self._loaded for spec in self.specs)

    def load_all(self) -> None:
        """Load every model (registry first, then the local copy); failures are recorded, never raised."""
        for spec in self.specs:
            self.load(spec.name)

    def load(self, name: str) -> LoadedModel[ServedModel] | None:
        """Load ``name`` and swap it in; returns the new entry or None (the old one, if any, stays)."""
        spec = self._spec(name)
        with self._lock:
            try:
                loaded = self._from_registry(spec)
            except Exception as exc:  # noqa: BLE001 - any registry failure falls back to the local copy
                registry_error = _short(exc)
                logger.warning("model %s: registry load failed (%s)", name, registry_error)
                try:
                    loaded = self._from_copy(spec, registry_error)
                except Exception as copy_exc:  # noqa: BLE001
                    self._errors[name] = f"registry: {registry_error}; local copy: {_short(copy_exc)}"
                    return None
            self._loaded[name] = loaded
            self._errors.pop(name, None)
        logger.info("model %s version %s loaded from %s", name, loaded.version, loaded.source)
        for callback in self.on_change:
            callback(loaded)
        return loaded

    def reload(self) -> dict[str, str]:
        """Reload every model; returns the version (or the error) per model."""
        out: dict[str, str] = {}
        for spec in self.specs:
            loaded = self.load(spec.name)
            out[spec.name] = loaded.version if loaded else f"failed: {self._errors.get(spec.name)}"
        return out

    def champion_versions(self) -> dict[str, str | None]:
        """The registry's current champion version per registry name (None where it has none)."""
        from mlflow import MlflowClient

        from training.names import CHAMPION_ALIAS

        client = MlflowClient(tracking_uri=self.settings.tracking_uri, registry_uri=self.settings.tracking_uri)
        out: dict[str, str | None] = {}
        for spec in self.specs:
            for registry_name in spec.registry_names:
                try:
                    out[registry_name] = str(client.get_model_version_by_alias(registry_name, CHAMPION_ALIAS).version)
                except Exception:  # noqa: BLE001 - no champion yet
                    out[registry_name] = None
        return out

    def poll_once(self) -> list[str]:
        """Reload the models whose champion alias moved since they were loaded; returns their names."""
        current = self.champion_versions()
        changed = []
        for spec in self.specs:
            loaded = self._loaded.get(spec.name)
            wanted = {n: current.get(n) for n in spec.registry_names}
            if any(v is None for v in wanted.values()):
                continue
            have = loaded.versions if loaded else {}
            stale = loaded is None or loaded.source != REGISTRY or have != wanted
            if stale and self.load(spec.name) is not None:
                changed.append(spec.name)
        return changed

    # --- internals ---------------------------------------------------------------------------------------------

    def _spec(self, name: str) -> ModelSpec[ServedModel]:
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def _from_registry(self, spec: ModelSpec[ServedModel]) -> LoadedModel[ServedModel]:
        champion = load_champion(spec.family, self.settings)
        loaded = LoadedModel(spec.name, champion.model, champion.version, dict(champion.versions), REGISTRY, _now())
        try:
            self._save_copy(spec, loaded)
        except Exception as exc:  # noqa: BLE001 - a failed copy must not stop serving
            logger.warning("model %s: could not save the local copy (%s)", spec.name, _short(exc))
        return loaded

    def _save_copy(self, spec: ModelSpec[ServedModel], loaded: LoadedModel[ServedModel]) -> None:
        target = self.copy_root / spec.name
        meta_path = target / "serving.json"
        if meta_path.is_file() and json.loads(meta_path.read_text()).get("version") == loaded.version:
            return
        staging = self.copy_root / f".{spec.name}.staging"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        loaded.obj.save(staging / "model")
        (staging / "serving.json").write_text(
            json.dumps({"version": loaded.version, "versions": loaded.versions, "saved_at": _now()})
        )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)

    def _from_copy(self, spec: ModelSpec[ServedModel], registry_error: str) -> LoadedModel[ServedModel]:
        target = self.copy_root / spec.name
        meta_path = target / "serving.json"
        if not meta_path.is_file():
            raise NotTrainedError(f"no local copy in {target}")
        meta = json.loads(meta_path.read_text())
        obj = spec.family.load(target / "model")
        note = f"registry unavailable ({registry_error}); serving the last good local copy saved {meta['saved_at']}"
        return LoadedModel(spec.name, obj, meta["version"], meta.get("versions", {}), LOCAL_COPY, _now(), note)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text[:300]
