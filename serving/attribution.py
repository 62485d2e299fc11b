"""From the exposure and event logs to one row per unit of a recommender experiment.

Rules (``docs/recommend.md``, "Online A/B tests of recommenders"):

* a **unit** is what the service assigned: a customer id, or the session id of a request without one, as its
  pseudonym in the exposure log (:mod:`serving.experiment`). Its variant is the one it was exposed to; a unit
  logged under two variants of one experiment (the file's salt or weights were changed while it ran) cannot be
  attributed and is left out, counted in :attr:`Attribution.mixed_units`;
* an **event** (``POST /v1/events``, :mod:`serving.events`) belongs to a customer unit when it names that
  customer, and to a session unit when it names that session (an event with both belongs to both, and a unit is
  only ever one of them);
* it is **attributed** to the unit when it happened (its ``at``) no earlier than the unit's first exposure and
  at most ``attribution_hours`` after it; earlier and later events are not counted (a unit exposed recently has
  the part of its window that has passed);
* a **click** is a ``view`` or ``add_to_cart`` event, a **purchase** a ``purchase`` event.

Columns of the rows: ``unit_id`` (the pseudonym), ``unit_kind``, ``variant``, ``first_exposed`` (UTC), ``day``
(date of the first exposure, for ``shopml experiment monitor``), ``exposures``, ``clicks``, ``purchases``,
``clicked`` and ``converted`` (0/1). The experiment's metrics name these columns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serving.events import EVENT_COLUMNS
from serving.experiment import read_exposures
from serving.parquet_log import read_partitions

logger = logging.getLogger(__name__)

CLICKS = ("view", "add_to_cart")
PURCHASES = ("purchase",)
ROW_COLUMNS = ("unit_id", "unit_kind", "variant", "first_exposed", "day", "exposures", "clicks", "purchases",
               "clicked", "converted")


@dataclass
class Attribution:
    """Per-unit rows of one experiment and what was counted or left out on the way."""

    experiment: str
    rows: pd.DataFrame
    attribution_hours: float
    exposures: int = 0
    events_attributed: int = 0
    mixed_units: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        per_variant = self.rows["variant"].value_counts().sort_index().to_dict() if len(self.rows) else {}
        text = (f"{self.experiment}: {len(self.rows)} exposed units {per_variant} from {self.exposures} exposures; "
                f"{self.events_attributed} events attributed within {self.attribution_hours:g} h of a unit's first "
                "exposure")
        if self.mixed_units:
            text += f"; {self.mixed_units} unit(s) seen in two variants left out"
        return text


def attribute(exposures: pd.DataFrame, events: pd.DataFrame, experiment: str,
              attribution_hours: float) -> Attribution:
    """One row per exposed unit of ``experiment`` with its attributed clicks and purchases (module docstring)."""
    exposed = exposures[exposures["experiment"] == experiment]
    result = Attribution(experiment, pd.DataFrame(columns=list(ROW_COLUMNS)), attribution_hours,
                         exposures=len(exposed))
    if exposed.empty:
        return result
    grouped = exposed.groupby(["unit_kind", "unit"], sort=False)
    units = grouped.agg(first_exposed=("logged_at", "min"), exposures=("logged_at", "size"),
                        variants=("variant", "nunique"), variant=("variant", "first")).reset_index()
    mixed = units["variants"] > 1
    result.mixed_units = int(mixed.sum())
    if result.mixed_units:
        logger.warning("%s: %d unit(s) exposed to two variants are left out", experiment, result.mixed_units)
    units = units.loc[~mixed].drop(columns="variants").reset_index(drop=True)
    counts = _attributed(units, events, pd.Timedelta(hours=attribution_hours))
    result.events_attributed = int(counts.to_numpy().sum())
    units = units.join(counts, how="left").fillna({"clicks": 0, "purchases": 0})
    rows = pd.DataFrame({
        "unit_id": units["unit"].astype(str),
        "unit_kind": units["unit_kind"].astype(str),
        "variant": units["variant"].astype(str),
        "first_exposed": units["first_exposed"],
        "day": units["first_exposed"].dt.date.astype(str),
        "exposures": units["exposures"].astype("int64"),
        "clicks": units["clicks"].astype("int64"),
        "purchases": units["purchases"].astype("int64"),
    })
    rows["clicked"] = (rows["clicks"] > 0).astype("int64")
    rows["converted"] = (rows["purchases"] > 0).astype("int64")
    result.rows = rows
    return result


def _attributed(units: pd.DataFrame, events: pd.DataFrame, window: pd.Timedelta) -> pd.DataFrame:
    """Clicks and purchases per row of ``units`` (index aligned) within its window."""
    counts = pd.DataFrame({"clicks": np.zeros(len(units), "int64"), "purchases": np.zeros(len(units), "int64")},
                         index=units.index)
    if events.empty:
        return counts
    keyed = pd.concat([
        pd.DataFrame({"unit_kind": "customer", "unit": events["customer"], "type": events["type"], "at": events["at"]}),
        pd.DataFrame({"unit_kind": "session", "unit": events["session"], "type": events["type"], "at": events["at"]}),
    ], ignore_index=True).dropna(subset=["unit"])
    index = units[["unit_kind", "unit", "first_exposed"]].reset_index(names="row")
    joined = keyed.merge(index, on=["unit_kind", "unit"], how="inner")
    inside = (joined["at"] >= joined["first_exposed"]) & (joined["at"] <= joined["first_exposed"] + window)
    joined = joined.loc[inside]
    clicks = joined.loc[joined["type"].isin(CLICKS), "row"].value_counts()
    purchases = joined.loc[joined["type"].isin(PURCHASES), "row"].value_counts()
    counts["clicks"] = clicks.reindex(units.index, fill_value=0).to_numpy()
    counts["purchases"] = purchases.reindex(units.index, fill_value=0).to_numpy()
    return counts


def unit_rows(data_home: Path, experiment: str, attribution_hours: float) -> Attribution:
    """:func:`attribute` over the logs of ``data_home`` (``exposures/`` and ``events/``); unreadable log files
    are skipped and named in :attr:`Attribution.problems`."""
    problems: list[str] = []
    exposures = read_exposures(Path(data_home) / "exposures", problems)
    events = read_partitions(Path(data_home) / "events", EVENT_COLUMNS, problems)
    result = attribute(_utc(exposures, "logged_at"), _utc(events, "at"), experiment, attribution_hours)
    result.problems = problems
    return result


def _utc(frame: pd.DataFrame, column: str) -> Any:
    """``frame`` with ``column`` as UTC times (an empty log's column has no type yet)."""
    return frame.assign(**{column: pd.to_datetime(frame[column], utc=True)})
