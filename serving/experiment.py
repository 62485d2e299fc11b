"""Recommenders A/B-tested online: the experiment file, the per-request assignment and the exposure log.

The experiment is data: ``settings.experiment_path`` (``<data_home>/experiments/recommend.json`` by default; no
file, no experiment). It names the experiment, its variants (each a registry alias or version of the
``recommender`` model, with a weight; exactly one is the control) and how the logs are analysed::

    {
      "experiment": "recs-2026-12",
      "variants": [
        {"name": "champion", "alias": "champion", "weight": 0.5, "control": true},
        {"name": "ease-v7", "version": "7", "weight": 0.5}
      ],
      "attribution_hours": 24
    }

The service reads the file at start and whenever it changes (:class:`serving.storefront.Storefront`, off the
request path), loads every challenger model from the registry and builds its live state (rules, stock, session
blending, exactly as for the champion). A variant with ``"alias": "champion"`` serves whatever champion the
service has loaded. A file that fails validation, or names a model the registry does not have, pauses the
experiment: every request gets the champion, no exposure is logged, and ``GET /v1/models`` (the recommender's
``note``) says why.

Per request (:meth:`RecommendExperiment.choose`, a SHA-256 and a comparison: microseconds, nothing cached): the
unit is the request's ``customer_id``, else its ``session_id`` (a request with neither is not in the test);
:func:`experiments.assign` places it deterministically (the same unit sees the same variant in every process
and after every restart, as long as the experiment's name, salt and weights stay). Units outside the traffic
share or in the holdout get the champion and are not logged.

Every answer served under the experiment is an **exposure**, appended by :class:`ExposureLog` to
``<data_home>/exposures/date=YYYY-MM-DD/part-*.parquet`` (the prediction log's buffered writer, the prediction
log's pseudonymisation key, so exposures join the event log): when, experiment, variant, model version, unit
kind (``customer`` or ``session``) and the unit's pseudonym. :mod:`serving.attribution` turns exposures and
events into one row per unit for ``shopml experiment evaluate --from-logs``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from experiments.assignment import AssignmentSpec, HoldoutSpec, assign
from experiments.metrics import MetricSpec
from experiments.spec import AnalysisSettings, ExperimentSpec
from serving.parquet_log import BufferedParquetLog, read_partitions, utc_times

if TYPE_CHECKING:
    from shopml.settings import Settings
    from training.recommend.predict import Recommender

logger = logging.getLogger(__name__)

EXPOSURE_COLUMNS = ("logged_at", "experiment", "variant", "model_version", "unit_kind", "unit")
"""One exposure: when the answer was served (UTC), the experiment, the variant, the model version that answered,
the unit's kind (``customer`` or ``session``) and its pseudonymous id."""

DEFAULT_METRICS = (
    MetricSpec(name="conversion", type="proportion", column="converted"),
    MetricSpec(name="click_rate", type="proportion", column="clicked"),
)
"""Goals when the file names none: share of exposed units that bought, and that clicked (viewed or added to the
cart), within the attribution window."""


class ExperimentModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecommenderVariant(ExperimentModel):
    """One arm: a recommender from the registry, by alias or by version, and its share of the units."""

    name: str = Field(min_length=1, max_length=100)
    alias: str | None = Field(None, min_length=1, max_length=100, description="A registry alias (champion, ...).")
    version: str | None = Field(None, pattern=r"^[0-9]{1,9}$", description="A registry version number.")
    weight: float = Field(gt=0, le=1, allow_inf_nan=False)
    control: bool = False

    @model_validator(mode="after")
    def _one_model(self) -> RecommenderVariant:
        if (self.alias is None) == (self.version is None):
            raise ValueError(f"variant {self.name!r}: give exactly one of \"alias\" or \"version\"")
        return self

    @property
    def model(self) -> str:
        """``alias champion`` or ``version 7``, for messages."""
        return f"alias {self.alias}" if self.alias is not None else f"version {self.version}"


class RecommenderExperimentFile(ExperimentModel):
    """The recommender experiment (see the module docstring); validated when read, unknown keys refused."""

    experiment: str = Field(min_length=1, max_length=200)
    variants: list[RecommenderVariant] = Field(min_length=2, max_length=20)
    salt: str = Field("", max_length=100)
    traffic: float = Field(1.0, gt=0, le=1, allow_inf_nan=False)
    holdout: HoldoutSpec | None = None
    attribution_hours: float = Field(
        24.0, gt=0, le=24 * 90, allow_inf_nan=False,
        description="Events of a unit count for its variant from its first exposure to this many hours later.")
    metrics: list[MetricSpec] = Field(default_factory=lambda: list(DEFAULT_METRICS), min_length=1, max_length=20)
    settings: AnalysisSettings = Field(default_factory=AnalysisSettings)
    planned_units: int | None = Field(None, gt=0, le=10**12)

    @model_validator(mode="after")
    def _consistent(self) -> RecommenderExperimentFile:
        controls = [v.name for v in self.variants if v.control]
        if len(controls) != 1:
            raise ValueError(f"exactly one variant must have \"control\": true, found {len(controls)}")
        self.assignment  # noqa: B018 - the engine's own checks: weights sum to 1, unique names, no '|'
        return self

    @property
    def assignment(self) -> AssignmentSpec:
        """The engine's assignment spec of this experiment."""
        return AssignmentSpec(experiment=self.experiment, salt=self.salt, traffic=self.traffic, holdout=self.holdout,
                              variants=[{"name": v.name, "weight": v.weight} for v in self.variants])

    @property
    def control(self) -> str:
        return next(v.name for v in self.variants if v.control)

    def experiment_spec(self) -> ExperimentSpec:
        """The engine's spec for analysing the per-unit rows of :func:`serving.attribution.unit_rows`."""
        return ExperimentSpec(name=self.experiment,
                              variants=[{"name": v.name, "weight": v.weight, "control": v.control}
                                        for v in self.variants],
                              metrics=self.metrics, settings=self.settings, planned_units=self.planned_units)


def read_experiment(path: Path) -> RecommenderExperimentFile | None:
    """The experiment in ``path`` (None when there is no file); a ``pydantic.ValidationError`` names the field."""
    path = Path(path)
    if not path.is_file():
        return None
    return RecommenderExperimentFile.model_validate_json(path.read_bytes())


@dataclass(frozen=True)
class Arm:
    """What serves one variant: its registry version and model (None: the champion the service has loaded)."""

    variant: str
    version: str | None
    model: Recommender | None

    def serving(self, champion: Recommender, champion_version: str) -> tuple[Recommender, str]:
        """The model and version that answer this variant's requests."""
        if self.model is None or self.version is None:
            return champion, champion_version
        return self.model, self.version


@dataclass(frozen=True)
class Choice:
    """The variant a request was assigned to and the unit it was assigned as."""

    experiment: str
    variant: str
    arm: Arm
    unit_kind: str
    unit_id: str


class RecommendExperiment:
    """The running experiment (or none): its validated file, its arms, and the per-request assignment."""

    def __init__(self, file: RecommenderExperimentFile | None = None, arms: dict[str, Arm] | None = None):
        self.file = file
        self.arms = arms or {}
        self.spec = file.assignment if file is not None else None

    @property
    def running(self) -> bool:
        return self.spec is not None

    def choose(self, customer_id: str | None, session_id: str | None) -> Choice | None:
        """The variant of the request's unit (customer id, else session id); None when no experiment runs, the
        request names nobody, or the unit is outside the traffic share or in the holdout."""
        spec = self.spec
        if spec is None:
            return None
        if customer_id is not None:
            kind, unit = "customer", customer_id
        elif session_id is not None:
            kind, unit = "session", session_id
        else:
            return None
        variant = assign(spec, unit).variant
        if variant is None:
            return None
        return Choice(spec.experiment, variant, self.arms[variant], kind, unit)

    def describe(self, champion_version: str | None) -> str:
        """One line for ``GET /v1/models``: the experiment and what serves each variant."""
        if self.file is None:
            return "no recommender experiment"
        parts = []
        for v in self.file.variants:
            arm = self.arms[v.name]
            version = arm.version if arm.version is not None else champion_version
            parts.append(f"{v.name}{' (control)' if v.control else ''} = {v.model}, v{version}, {v.weight:g}")
        return f"recommender experiment {self.file.experiment!r} running: " + "; ".join(parts)


def load_arms(file: RecommenderExperimentFile, settings: Settings) -> dict[str, Arm]:
    """Every variant's model from the registry (the champion alias is left to the service's own champion).

    Raises an exception naming the variant and its model when one cannot be loaded."""
    from training.names import CHAMPION_ALIAS
    from training.recommend.predict import Recommender
    from training.registry import load_champion, load_version

    arms = {}
    for v in file.variants:
        try:
            if v.alias == CHAMPION_ALIAS:
                arms[v.name] = Arm(v.name, None, None)
            elif v.alias is not None:
                model, versions = load_champion(Recommender, settings, alias=v.alias)
                arms[v.name] = Arm(v.name, versions[Recommender.registry_names[0]], model)
            else:
                version = str(v.version)
                model = load_version(Recommender, settings, {Recommender.registry_names[0]: version})
                arms[v.name] = Arm(v.name, version, model)
        except Exception as exc:  # noqa: BLE001 - any failure pauses the experiment with this message
            first = str(exc).splitlines()[0][:300] if str(exc) else ""
            raise ExperimentLoadError(f"variant {v.name!r} ({v.model} of the recommender): cannot be loaded "
                                      f"({type(exc).__name__}: {first})") from exc
    return arms


class ExperimentLoadError(RuntimeError):
    """A variant's model could not be loaded; the experiment is paused."""


class ExposureLog(BufferedParquetLog):
    """Exposures buffered in memory and written to day partitions by a daemon thread.

    :meth:`record` keeps the raw unit id in the buffer (a tuple append, nothing else on the request path); the
    pseudonym is computed when the buffer is written.
    """

    columns = EXPOSURE_COLUMNS
    thread_name = "shopml-exposure-log"
    subject_field = 5  # the unit, still the data home's id in the buffer (what ``forget`` is matched against)

    def record(self, choice: Choice, version: str) -> None:
        """Append one exposure (a tuple append; on the request path)."""
        self.append((time.time(), choice.experiment, choice.variant, version, choice.unit_kind, choice.unit_id))

    def to_table(self, rows: Sequence[tuple]) -> Any:
        import pyarrow as pa

        return pa.table({
            "logged_at": utc_times(rows),
            "experiment": [r[1] for r in rows],
            "variant": [r[2] for r in rows],
            "model_version": [r[3] for r in rows],
            "unit_kind": [r[4] for r in rows],
            "unit": pa.array([self.subject(r[5]) for r in rows], pa.string()),
        })


def read_exposures(root: Path, problems: list[str] | None = None):
    """Every logged exposure under ``root`` (``<data_home>/exposures``) as a pandas frame."""
    return read_partitions(root, EXPOSURE_COLUMNS, problems)
