"""The storefront's live state: sessions, the event log, the live recommender with its compiled rules, and the
recommender experiment with its challengers and exposure log.

:class:`Storefront` is owned by :class:`serving.runtime.ServingRuntime`. Everything slow happens off the request
path: when the recommender (re)loads, and every ``recommend_refresh_seconds`` when the rules file or the raw
tables (``products``, ``stock``, ``warehouses``, ``regions``) changed, a :class:`LiveState` is built in a
background thread (the products table read, content vectors fitted, neighbour arrays and rule masks computed) and
swapped in with one assignment. The experiment file (:mod:`serving.experiment`) is checked at the same pace: when
it changes its challenger models are loaded from the registry and each gets its own :class:`LiveState`, built and
refreshed like the champion's. A request only reads the current state.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from serving.events import EventLog, SessionStore
from serving.experiment import (
    ExperimentLoadError,
    ExposureLog,
    RecommendExperiment,
    load_arms,
    read_experiment,
)
from serving.parquet_log import log_key
from serving.rules import CompiledRules, RulesFile, read_rules
from shopml.settings import Settings
from training.recommend.live import LiveRecommender
from training.recommend.predict import Recommender

logger = logging.getLogger(__name__)

LIVE_TABLES = ("products", "stock", "warehouses", "regions")


@dataclass(frozen=True)
class LiveState:
    """What one request reads: the live recommender of one model version and its rules."""

    model_version: str
    sources: tuple
    live: LiveRecommender
    rules: CompiledRules


class Storefront:
    """Sessions, the event log and the live recommendation state of the service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sessions = SessionStore(settings.events_max_sessions, settings.events_per_session,
                                     settings.events_window_seconds)
        self.events: EventLog | None = None
        if settings.event_log:
            self.events = EventLog(settings.data_home / "events", settings.prediction_log_buffer,
                                   keep_days=settings.prediction_log_days,
                                   key=log_key(settings.data_home / "predictions"))
        self.exposures = ExposureLog(settings.data_home / "exposures", settings.prediction_log_buffer,
                                     keep_days=settings.prediction_log_days,
                                     key=log_key(settings.data_home / "predictions"))
        self.state: LiveState | None = None
        self.challenger_states: dict[str, LiveState] = {}
        self.experiment = RecommendExperiment()
        self.rules_error: str | None = None
        self.experiment_error: str | None = None
        self._experiment_version: object = _UNREAD
        self._experiment_tried = 0.0
        self._experiment_retry = False
        self._experiment_lock = threading.Lock()
        self._rules = RulesFile()
        self._rules_version: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._current: tuple[str, Recommender] | None = None
        self._table_cache: tuple[object, dict[str, pd.DataFrame]] | None = None

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.events is not None:
            self.events.start()
        self.exposures.start()
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="shopml-storefront", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.events is not None:
            self.events.stop()
        self.exposures.stop()

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.recommend_refresh_seconds):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the watcher must never die
                logger.exception("storefront refresh failed")

    def model_loaded(self, version: str, model: Recommender) -> None:
        """A recommender was (re)loaded: build its live state now (called in the loading thread)."""
        self._current = (version, model)
        self.refresh(force=True)

    # --- state -----------------------------------------------------------------------------------------------

    def _sources(self) -> tuple:
        raw = self.settings.raw_dir
        manifests = sorted(raw.glob("*.json")) if raw.is_dir() else []
        data_version = max((m.stat().st_mtime_ns for m in manifests), default=0)
        path = self.settings.rules_path
        rules_version = path.stat().st_mtime_ns if path.is_file() else None
        return (data_version, rules_version)

    @property
    def error(self) -> str | None:
        """What is wrong with the rules file or the experiment file (None when nothing is)."""
        errors = [e for e in (self.rules_error, self.experiment_error) if e]
        return "; ".join(errors) if errors else None

    @property
    def note(self) -> str | None:
        """For ``GET /v1/models``: what is wrong (:attr:`error`) and the experiment that is running."""
        experiment = self.experiment
        running = experiment.describe(self.state.model_version if self.state else None) if experiment.running else None
        parts = [p for p in (self.error, running) if p]
        return "; ".join(parts) if parts else None

    def refresh(self, force: bool = False) -> bool:
        """Rebuild the live state when the model, the rules file or the tables changed, and the challengers'
        when the experiment file or the tables changed; True when the champion's state was rebuilt."""
        loaded = self._refresh_experiment()
        with self._lock:
            current = self._current
            sources = self._sources()
            tables: dict[str, pd.DataFrame] | None = None
            rebuilt = False
            if current is not None:
                version, model = current
                state = self.state
                if force or state is None or state.model_version != version or state.sources != sources:
                    tables = self._tables(sources[0])
                    self.state = self._build(version, model, sources, tables, reuse=None if force else state)
                    rebuilt = True
            champion = self.state.model_version if self.state is not None else None
            experiment = loaded or self.experiment
            states = {}
            for arm in experiment.arms.values():
                if arm.version is None or arm.model is None or arm.version == champion:
                    continue
                state = self.challenger_states.get(arm.version)
                if state is None or state.sources != sources:
                    tables = self._tables(sources[0]) if tables is None else tables
                    state = self._build(arm.version, arm.model, sources, tables, reuse=state)
                states[arm.version] = state
            self.challenger_states = states
            self.experiment = experiment  # after its challengers' states: a request never waits for one
            return rebuilt

    def _build(self, version: str, model: Recommender, sources: tuple, tables: dict[str, pd.DataFrame],
               reuse: LiveState | None = None) -> LiveState:
        """The live state of ``model``; ``reuse``'s live recommender is kept when only the rules file changed.

        The live recommender (content vectors, neighbour arrays, customer categories) depends on the model and the
        tables only; building it holds the GIL (7.2 ms for the demo shop's 5,000 customers and 600 items,
        ``bench/serving_parts.py``; more for a larger shop), which every request in flight waited for when a rules
        edit rebuilt it.
        """
        rules = self._read_rules(sources[1])
        if reuse is not None and reuse.live.base is model and reuse.sources[0] == sources[0]:
            live = reuse.live  # the same model and tables: only the rules changed
        else:
            live = LiveRecommender(model, tables.get("products"))
        compiled = CompiledRules(rules, live, tables)
        if compiled.notes:
            logger.warning("recommendation rules: %s", "; ".join(compiled.notes))
        logger.info("storefront state for recommender %s: %d items (%d new), rules %s", version, live.n_items,
                    live.n_cold, "from " + str(self.settings.rules_path) if sources[1] else "none")
        return LiveState(version, sources, live, compiled)

    def _refresh_experiment(self) -> RecommendExperiment | None:
        """The experiment of the file with its challengers loaded when the file changed (or, after a failure,
        every ``serve_retry_seconds``), else None; a bad file or a model that cannot be loaded pauses the
        experiment (an empty :class:`RecommendExperiment`)."""
        import time

        path: Path = self.settings.experiment_path
        version = path.stat().st_mtime_ns if path.is_file() else None
        retry = self._experiment_retry and \
            time.monotonic() - self._experiment_tried >= self.settings.serve_retry_seconds
        if version == self._experiment_version and not retry:
            return None
        with self._experiment_lock:
            self._experiment_tried = time.monotonic()
            try:
                file = read_experiment(path)
                experiment = RecommendExperiment(file, load_arms(file, self.settings) if file is not None else None)
                self.experiment_error, self._experiment_retry = None, False
            except Exception as exc:  # noqa: BLE001 - a bad file or model pauses the experiment; the note says why
                from serving.errors import validation_details

                detail = "; ".join(f"{d['field']}: {d['message']}" for d in validation_details(exc)) \
                    if hasattr(exc, "errors") else str(exc)
                experiment = RecommendExperiment()
                self.experiment_error = (f"experiment file {path} not applied ({detail}); the experiment is paused "
                                         "and the champion serves every request")
                logger.error(self.experiment_error)
                self._experiment_retry = isinstance(exc, ExperimentLoadError)  # the registry may come back
            self._experiment_version = version
        if experiment.running:
            logger.info("%s", experiment.describe(self.state.model_version if self.state else None))
        return experiment

    def _read_rules(self, rules_version: float | None) -> RulesFile:
        if rules_version == self._rules_version:
            return self._rules
        path: Path = self.settings.rules_path
        try:
            self._rules = read_rules(path)
            self.rules_error = None
        except Exception as exc:  # noqa: BLE001 - a bad file keeps the rules in force; the note says why
            from serving.errors import validation_details

            detail = "; ".join(f"{d['field']}: {d['message']}" for d in validation_details(exc)) \
                if hasattr(exc, "errors") else str(exc)
            self.rules_error = f"rules file {path} refused ({detail}); the previous rules stay in force"
            logger.error(self.rules_error)
        self._rules_version = rules_version
        return self._rules

    def _tables(self, data_version: object) -> dict[str, pd.DataFrame]:
        """The live tables as of ``data_version`` (read again only when the data changed, or a read failed)."""
        cached = self._table_cache
        if cached is not None and cached[0] == data_version:
            return cached[1]
        raw = self.settings.raw_dir
        tables = {}
        complete = True
        for name in LIVE_TABLES:
            path = raw / f"{name}.parquet"
            if path.is_file():
                try:
                    tables[name] = pd.read_parquet(path)
                except Exception as exc:  # noqa: BLE001 - a table being rewritten: try again next refresh
                    logger.warning("storefront: cannot read %s: %s", path, exc)
                    complete = False
        self._table_cache = (data_version, tables) if complete else None
        return tables

    def live_for(self, version: str) -> LiveState | None:
        """The live state of model ``version``, the champion's or a challenger's (None while it is being built)."""
        state = self.state
        if state is not None and state.model_version == version:
            return state
        return self.challenger_states.get(version)


_UNREAD = object()
