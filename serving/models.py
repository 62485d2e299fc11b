"""The models the service serves: champion loading, a last-good local copy, and reload without downtime.

Each served model is a :class:`~training.contract.ServedModel` family named here in code (:data:`CUSTOMERS`,
:data:`RECOMMENDER`, :data:`FORECAST`) and loaded with :func:`training.registry.load_champion`. After a
successful load a copy is saved (the family's ``save``) under ``<data_home>/serving/last_good/<name>/``. When the
registry cannot be reached (or lost the champion) the copy is served instead (the family's ``load``) and
``/readyz`` and ``/v1/models`` say so (``source = "local-copy"``). :meth:`ModelStore.reload` loads new objects
first and then swaps one reference, so requests in flight finish on the old object and none is dropped.

A registry that is down or slow must never hold the service: each registry load runs in its own daemon thread
and is waited for at most ``serve_load_wait_seconds``; past that the local copy is served and the registry load,
if it still finishes, is adopted when it lands. Every remote call has ``registry_timeout_seconds`` and
``registry_retries`` (set into MLflow's own HTTP settings by :func:`bound_registry_calls`). The models load
concurrently, and a reload that cannot reach the registry keeps the model it has.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar, cast, overload

from serving.errors import ModelNotLoadedError
from shopml.errors import NotTrainedError, ShopmlError
from shopml.settings import Settings
from training.contract import ServedModel
from training.registry import TRAIN_COMMANDS, load_champion

if TYPE_CHECKING:
    from training.customers.predict import CustomerScorer
    from training.forecast.predict import Forecaster
    from training.recommend.predict import Recommender

logger = logging.getLogger(__name__)

LOCAL_COPY = "local-copy"
REGISTRY = "registry"

M = TypeVar("M", bound=ServedModel)
M_co = TypeVar("M_co", bound=ServedModel, covariant=True)


@functools.cache
def _imported(path: str) -> type:
    """The class named ``"module:Class"`` (imported once: every request's model lookup checks its family)."""
    module, _, attribute = path.partition(":")
    return getattr(import_module(module), attribute)


@dataclass(frozen=True)
class ModelSpec(Generic[M_co]):
    """A served model: its name in the service and the family class that is loaded and saved.

    The family is named by ``"module:Class"`` and imported on first use, in the loader thread: importing the
    model areas (pandas, scipy, LightGBM) takes seconds that the service's start must not wait for.
    """

    name: str
    family_path: str

    @property
    def family(self) -> type[M_co]:
        return cast("type[M_co]", _imported(self.family_path))

    @property
    def registry_names(self) -> tuple[str, ...]:
        return self.family.registry_names

    @property
    def train_hint(self) -> str:
        """The command(s) that train its registered models."""
        return " && ".join(TRAIN_COMMANDS[name] for name in self.registry_names)


CUSTOMERS: ModelSpec[CustomerScorer] = ModelSpec("customers", "training.customers.predict:CustomerScorer")
"""Churn and customer value champions together (scores and audiences)."""
RECOMMENDER: ModelSpec[Recommender] = ModelSpec("recommender", "training.recommend.predict:Recommender")
FORECAST: ModelSpec[Forecaster] = ModelSpec("forecast", "training.forecast.predict:Forecaster")


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


def bound_registry_calls(settings: Settings) -> None:
    """Give every MLflow HTTP call of this process the settings' timeout and retries.

    MLflow's defaults (120 s timeout, 7 retries with exponential back-off) keep one call to an unreachable
    server going for minutes. An operator's own ``MLFLOW_HTTP_REQUEST_*`` variables win over the settings.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(settings.registry_timeout_seconds))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(settings.registry_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0.5")


@dataclass
class _RegistryAttempt:
    """One registry load running in a daemon thread; whoever waits for it may give up, the thread goes on."""

    done: threading.Event = field(default_factory=threading.Event)
    result: LoadedModel[ServedModel] | None = None
    error: str | None = None
    claimed: bool = False


@dataclass
class ModelStore:
    """Holds the served models; lookups are one dict read, reloads swap whole entries."""

    settings: Settings
    specs: tuple[ModelSpec[ServedModel], ...] = field(default_factory=default_specs)
    _loaded: dict[str, LoadedModel[ServedModel]] = field(default_factory=dict)
    _errors: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _attempts: dict[str, _RegistryAttempt] = field(default_factory=dict)
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

    @property
    def degraded(self) -> list[str]:
        """Models not served from the registry (local copy, or not loaded at all)."""
        return [spec.name for spec in self.specs
                if (loaded := self._loaded.get(spec.name)) is None or loaded.source != REGISTRY]

    def load_all(self) -> dict[str, str]:
        """Load every model at once, one thread each; returns the version (or the failure) per model.

        Each load is bounded (see :meth:`load`), so this returns within about ``serve_load_wait_seconds`` plus
        the time to read the local copies, whatever the registry does.
        """
        results: dict[str, str] = {}

        def one(name: str) -> None:
            loaded = self.load(name)
            results[name] = loaded.version if loaded else f"failed: {self._errors.get(name)}"

        threads = [threading.Thread(target=one, args=(spec.name,), name=f"shopml-load-{spec.name}", daemon=True)
                   for spec in self.specs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    def load(self, name: str) -> LoadedModel[ServedModel] | None:
        """Load ``name`` from the registry (or, failing that, its local copy) and swap it in.

        Returns the new entry, or None when nothing new was installed: a model already served is kept when the
        registry fails (a reload never replaces a registry model by an older copy); the cause is recorded for
        ``/v1/models``.
        """
        spec = self._spec(name)
        attempt = self._registry_attempt(spec)
        wait = self.settings.serve_load_wait_seconds
        attempt.done.wait(wait)
        with self._lock:  # the attempt's thread sets ``done`` under this lock: it either sees the claim or not
            attempt.claimed = True
            answered = attempt.done.is_set()
        if answered and attempt.result is not None:
            self._install(attempt.result)
            return attempt.result
        cause = attempt.error if answered else (
            f"RegistryUnavailableError: the registry at {self.settings.tracking_uri} did not answer within "
            f"{wait:g} s (still trying in the background)"
        )
        logger.warning("model %s: registry load failed (%s)", name, cause)
        if self._loaded.get(name) is not None:
            self._errors[name] = f"last registry load failed: {cause}"
            return None
        try:
            loaded = self._from_copy(spec, cause or "unknown")
        except Exception as copy_exc:  # noqa: BLE001
            self._errors[name] = f"registry: {cause}; local copy: {_short(copy_exc)}"
            logger.warning("model %s: not loaded (%s)", name, self._errors[name])
            return None
        self._install(loaded)
        return loaded

    def reload(self) -> dict[str, str]:
        """Reload every model (concurrently, bounded like :meth:`load_all`); returns version or error per model."""
        return self.load_all()

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

    def _registry_attempt(self, spec: ModelSpec[ServedModel]) -> _RegistryAttempt:
        """The running registry load of ``spec``, or a new one (never two at once for one model)."""
        with self._lock:
            attempt = self._attempts.get(spec.name)
            if attempt is not None and not attempt.done.is_set():
                return attempt
            attempt = self._attempts[spec.name] = _RegistryAttempt()

        def run() -> None:
            try:
                attempt.result = self._from_registry(spec)
            except Exception as exc:  # noqa: BLE001 - any registry failure falls back to the local copy
                attempt.error = _short(exc)
            with self._lock:
                late = attempt.claimed
                attempt.done.set()
            if late and attempt.result is not None:
                self._adopt_late(attempt.result)

        threading.Thread(target=run, name=f"shopml-registry-{spec.name}", daemon=True).start()
        return attempt

    def _adopt_late(self, loaded: LoadedModel[ServedModel]) -> None:
        """A registry load that finished after its waiter gave up replaces a local copy (never a registry model)."""
        current = self._loaded.get(loaded.name)
        if current is None or current.source != REGISTRY:
            logger.info("model %s: the registry answered late; now serving it", loaded.name)
            self._install(loaded)

    def _install(self, loaded: LoadedModel[ServedModel]) -> None:
        with self._lock:
            self._loaded[loaded.name] = loaded
            self._errors.pop(loaded.name, None)
        logger.info("model %s version %s loaded from %s", loaded.name, loaded.version, loaded.source)
        for callback in self.on_change:
            callback(loaded)

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
        (staging / "serving.json").write_text(json.dumps({
            "version": loaded.version, "versions": loaded.versions, "saved_at": _now(),
            "files": _checksums(staging / "model"),
        }))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)

    def _from_copy(self, spec: ModelSpec[ServedModel], registry_error: str) -> LoadedModel[ServedModel]:
        target = self.copy_root / spec.name
        meta_path = target / "serving.json"
        if not meta_path.is_file():
            raise NotTrainedError(f"no local copy in {target}")
        meta = json.loads(meta_path.read_text())
        _check_copy(target / "model", meta.get("files"))
        obj = spec.family.load(target / "model")
        note = f"registry unavailable ({registry_error}); serving the last good local copy saved {meta['saved_at']}"
        return LoadedModel(spec.name, obj, meta["version"], meta.get("versions", {}), LOCAL_COPY, _now(), note)


class CorruptCopyError(ShopmlError):
    """A last-good copy whose files no longer match the checksums written when it was saved."""


def _checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by path relative to it."""
    import hashlib

    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _check_copy(folder: Path, expected: dict[str, str] | None) -> None:
    """Refuse a copy that changed since it was saved, before a model library reads it.

    A truncated LightGBM model file does not always raise: LightGBM can abort the whole process while parsing
    it (``terminate called``), which would take the service down in a restart loop. Copies saved before
    checksums existed (no ``files``) are loaded as they are.
    """
    if expected is None:
        return
    actual = _checksums(folder)
    for name, digest in expected.items():
        if actual.get(name) != digest:
            state = "is missing" if name not in actual else "does not match the checksum saved with it"
            raise CorruptCopyError(f"the local copy's file {name} {state}; delete {folder.parent} (the next "
                                   "registry load saves a new copy)")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text[:300]
