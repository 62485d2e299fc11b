"""The storefront's live state: sessions, the event log, and the live recommender with its compiled rules.

:class:`Storefront` is owned by :class:`serving.runtime.ServingRuntime`. Everything slow happens off the request
path: when the recommender (re)loads, and every ``recommend_refresh_seconds`` when the rules file or the raw
tables (``products``, ``stock``, ``warehouses``, ``regions``) changed, a :class:`LiveState` is built in a
background thread (the products table read, content vectors fitted, neighbour arrays and rule masks computed) and
swapped in with one assignment. A request only reads the current state.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from serving.events import EventLog, SessionStore
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
        self.state: LiveState | None = None
        self.error: str | None = None
        self._rules = RulesFile()
        self._rules_version: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._current: tuple[str, Recommender] | None = None

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.events is not None:
            self.events.start()
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="shopml-storefront", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.events is not None:
            self.events.stop()

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

    def refresh(self, force: bool = False) -> bool:
        """Rebuild the live state when the model, the rules file or the tables changed; True when rebuilt."""
        with self._lock:
            current = self._current
            if current is None:
                return False
            version, model = current
            sources = self._sources()
            state = self.state
            if not force and state is not None and state.model_version == version and state.sources == sources:
                return False
            rules = self._read_rules(sources[1])
            tables = self._tables()
            live = LiveRecommender(model, tables.get("products"))
            compiled = CompiledRules(rules, live, tables)
            self.state = LiveState(version, sources, live, compiled)
            if compiled.notes:
                logger.warning("recommendation rules: %s", "; ".join(compiled.notes))
            logger.info("storefront state for recommender %s: %d items (%d new), rules %s", version, live.n_items,
                        live.n_cold, "from " + str(self.settings.rules_path) if sources[1] else "none")
            return True

    def _read_rules(self, rules_version: float | None) -> RulesFile:
        if rules_version == self._rules_version:
            return self._rules
        path: Path = self.settings.rules_path
        try:
            self._rules = read_rules(path)
            self.error = None
        except Exception as exc:  # noqa: BLE001 - a bad file keeps the rules in force; the note says why
            from serving.errors import validation_details

            detail = "; ".join(f"{d['field']}: {d['message']}" for d in validation_details(exc)) \
                if hasattr(exc, "errors") else str(exc)
            self.error = f"rules file {path} refused ({detail}); the previous rules stay in force"
            logger.error(self.error)
        self._rules_version = rules_version
        return self._rules

    def _tables(self) -> dict[str, pd.DataFrame]:
        raw = self.settings.raw_dir
        tables = {}
        for name in LIVE_TABLES:
            path = raw / f"{name}.parquet"
            if path.is_file():
                try:
                    tables[name] = pd.read_parquet(path)
                except Exception as exc:  # noqa: BLE001 - a table being rewritten: try again next refresh
                    logger.warning("storefront: cannot read %s: %s", path, exc)
        return tables

    def live_for(self, version: str) -> LiveState | None:
        """The live state of model ``version`` (None while it is being built)."""
        state = self.state
        return state if state is not None and state.model_version == version else None
