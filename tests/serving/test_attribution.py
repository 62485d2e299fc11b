"""Exposures and events to per-unit rows: the attribution window, the unit's kind, units seen in two variants,
the experiment file's validation, and the vectorised join against a slow oracle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from serving.attribution import attribute, unit_rows
from serving.events import EventLog
from serving.experiment import Arm, Choice, ExposureLog, RecommenderExperimentFile, read_exposures

T0 = pd.Timestamp("2026-12-01 12:00", tz="UTC")


def exposure(unit: str, variant: str, minutes: float, kind: str = "customer", experiment: str = "x") -> dict:
    return {"logged_at": T0 + pd.Timedelta(minutes=minutes), "experiment": experiment, "variant": variant,
            "model_version": "1", "unit_kind": kind, "unit": unit}


def event(kind: str, minutes: float, customer: str | None = None, session: str | None = None) -> dict:
    at = T0 + pd.Timedelta(minutes=minutes)
    return {"logged_at": at, "at": at, "type": kind, "sku": "P1", "customer": customer, "session": session}


def test_the_window_the_kind_and_mixed_units():
    exposures = pd.DataFrame([
        exposure("c1", "a", 0), exposure("c1", "a", 60),
        exposure("s1", "control", 0, kind="session"),
        exposure("m1", "a", 0), exposure("m1", "b", 5),
        exposure("c2", "b", 0, experiment="another"),
    ])
    events = pd.DataFrame([
        event("view", -1, customer="c1"),                 # before the first exposure: not counted
        event("view", 10, customer="c1"),                 # counted
        event("add_to_cart", 24 * 60, customer="c1"),     # the window's last instant: counted
        event("purchase", 24 * 60 + 1, customer="c1"),    # after the window: not counted
        event("purchase", 120, customer="c9", session="s1"),  # the session unit's, whoever the customer is
        event("purchase", 30, session="c1"),              # a session that happens to be called c1: not the customer
        event("purchase", 30, customer="m1"),             # a unit in two variants: left out
    ])
    result = attribute(exposures, events, "x", attribution_hours=24)
    rows = result.rows.set_index("unit_id")
    assert sorted(rows.index) == ["c1", "s1"] and result.mixed_units == 1 and result.exposures == 5
    assert rows.loc["c1", ["variant", "exposures", "clicks", "purchases", "clicked", "converted"]].tolist() == \
        ["a", 2, 2, 0, 1, 0]
    assert rows.loc["s1", ["variant", "unit_kind", "clicks", "purchases", "converted"]].tolist() == \
        ["control", "session", 0, 1, 1]
    assert result.events_attributed == 3 and rows.loc["c1", "day"] == "2026-12-01"
    assert "2 exposed units" in result.summary() and "two variants" in result.summary()


def test_the_join_agrees_with_a_slow_oracle():
    rng = np.random.default_rng(0)
    units = [(kind, f"u{i}") for i, kind in enumerate(rng.choice(["customer", "session"], 60))]
    exposures = pd.DataFrame([
        exposure(unit, ["a", "b"][i % 2], float(rng.uniform(0, 600)), kind=kind)
        for i, (kind, unit) in enumerate(units) for _ in range(int(rng.integers(1, 4)))
    ])
    events = pd.DataFrame([
        event(str(rng.choice(["view", "add_to_cart", "purchase"])), float(rng.uniform(-100, 2400)),
              customer=f"u{rng.integers(70)}" if rng.random() < 0.7 else None,
              session=f"u{rng.integers(70)}" if rng.random() < 0.5 else None)
        for _ in range(800)
    ])
    hours = 10.0
    rows = attribute(exposures, events, "x", hours).rows.set_index("unit_id")
    for kind, unit in units:
        first = exposures.loc[exposures["unit"] == unit, "logged_at"].min()
        clicks = purchases = 0
        for e in events.itertuples():
            mine = (e.customer if kind == "customer" else e.session) == unit
            if mine and first <= e.at <= first + pd.Timedelta(hours=hours):
                clicks += e.type in ("view", "add_to_cart")
                purchases += e.type == "purchase"
        assert (rows.loc[unit, "clicks"], rows.loc[unit, "purchases"]) == (clicks, purchases), unit


def test_logs_on_disk_are_joined_under_one_key(tmp_path):
    exposures = ExposureLog(tmp_path / "exposures", key=b"k" * 32)
    events = EventLog(tmp_path / "events", key=b"k" * 32)
    arm = Arm("b", "2", None)
    exposures.record(Choice("x", "b", arm, "customer", "C1"), "2")
    exposures.record(Choice("x", "b", arm, "session", "S1"), "2")
    import time

    now = time.time() + 1
    events.record(now, "purchase", "P1", "C1", None)
    events.record(now, "view", "P1", None, "S1")
    exposures.flush(), events.flush()
    logged = read_exposures(tmp_path / "exposures")
    assert "C1" not in set(logged["unit"]) and set(logged["unit_kind"]) == {"customer", "session"}
    rows = unit_rows(tmp_path, "x", 24).rows.set_index("unit_kind")
    assert rows.loc["customer", "converted"] == 1 and rows.loc["session", "clicked"] == 1
    assert unit_rows(tmp_path, "other", 24).rows.empty


@pytest.mark.parametrize(("change", "message"), [
    ({"variants": [{"name": "a", "alias": "champion", "weight": 1.0, "control": True}]}, "at least 2"),
    ({"variants": [{"name": "a", "alias": "champion", "weight": 0.5, "control": True},
                   {"name": "b", "alias": "champion", "version": "3", "weight": 0.5}]}, "exactly one of"),
    ({"variants": [{"name": "a", "alias": "champion", "weight": 0.5},
                   {"name": "b", "version": "3", "weight": 0.5}]}, "control"),
    ({"variants": [{"name": "a", "alias": "champion", "weight": 0.5, "control": True},
                   {"name": "b", "version": "3", "weight": 0.6}]}, "sum to 1.1"),
    ({"variants": [{"name": "a", "alias": "champion", "weight": 0.5, "control": True},
                   {"name": "b", "version": "v3", "weight": 0.5}]}, "variants.1.version"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_experiment_file_names_the_problem(change, message):
    good = {"experiment": "x", "variants": [{"name": "a", "alias": "champion", "weight": 0.5, "control": True},
                                            {"name": "b", "version": "3", "weight": 0.5}]}
    RecommenderExperimentFile.model_validate_json(json.dumps(good))
    with pytest.raises(ValidationError) as caught:
        RecommenderExperimentFile.model_validate_json(json.dumps({**good, **change}))
    text = str(caught.value) + " ".join(".".join(map(str, e["loc"])) for e in caught.value.errors())
    assert message in text, text
