"""Deterministic variant assignment: the same unit always sees the same variant, in any process or version.

``u = int(sha256("{experiment}|{salt}|{unit_id}")[:8]) / 2^64`` is uniform on [0, 1). Variant ``i`` owns the
range ``[W_i, W_i + traffic * w_i)`` with ``W_i`` the cumulative weight before it, so raising ``traffic``
only adds units and never moves one between variants (as in GrowthBook's bucket ranges). A holdout draws its
own hash from ``"holdout|{name}|{salt}|{unit_id}"``: it does not depend on the experiment, so one holdout
keeps the same units out of every experiment that names it. Changing an experiment's salt reshuffles its
units independently of every other experiment.

SHA-256 and the key format are part of the contract: they must never change, or running experiments would
reassign their units. Unit ids are hashed as ``str(unit_id)``, so ``42`` and ``"42"`` are the same unit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from experiments.errors import ExperimentError

_SCALE = float(2**64)


class HoldoutSpec(BaseModel):
    """Units kept out of every experiment that names this holdout."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    fraction: float = Field(gt=0, lt=1)
    salt: str = ""


class AssignmentVariant(BaseModel):
    """A variant and its weight."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    weight: float = Field(gt=0, le=1)


class AssignmentSpec(BaseModel):
    """How units are split in one experiment."""

    model_config = ConfigDict(extra="forbid")

    experiment: str = Field(min_length=1, max_length=200)
    variants: list[AssignmentVariant] = Field(min_length=1, max_length=20)
    salt: str = ""
    traffic: float = Field(1.0, gt=0, le=1, description="Share of eligible units that enter the experiment.")
    holdout: HoldoutSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AssignmentSpec:
        total = sum(v.weight for v in self.variants)
        if abs(total - 1) > 1e-9:
            raise ValueError(f"variant weights sum to {total:.9g}, not 1; rescale them")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        for label, text in (("experiment", self.experiment), ("salt", self.salt)):
            if "|" in text:
                raise ValueError(f"{label} must not contain '|', which separates the hash key's parts")
        return self


@dataclass(frozen=True)
class Assignment:
    """The variant a unit sees (None when it is not in the experiment), why, and its hash position."""

    variant: str | None
    reason: str  # assigned | holdout | traffic
    bucket: float


def bucket(*parts: object) -> float:
    """Uniform [0, 1) position of a unit from the SHA-256 of ``"|".join(parts)``."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def _ranges(spec: AssignmentSpec) -> tuple[np.ndarray, np.ndarray]:
    weights = np.array([v.weight for v in spec.variants])
    starts = np.concatenate([[0.0], np.cumsum(weights)[:-1]])
    return starts, starts + weights * spec.traffic


def assign(spec: AssignmentSpec | dict, unit_id: object) -> Assignment:
    """The variant of ``unit_id`` in ``spec``'s experiment (see the module docstring)."""
    if not isinstance(spec, AssignmentSpec):
        spec = AssignmentSpec.model_validate(spec)
    if unit_id is None or str(unit_id) == "":
        raise ExperimentError("unit_id must not be empty")
    u = bucket(spec.experiment, spec.salt, unit_id)
    if spec.holdout is not None and bucket("holdout", spec.holdout.name, spec.holdout.salt, unit_id) < spec.holdout.fraction:
        return Assignment(None, "holdout", u)
    starts, ends = _ranges(spec)
    for variant, start, end in zip(spec.variants, starts, ends, strict=True):
        if start <= u < end:
            return Assignment(variant.name, "assigned", u)
    return Assignment(None, "traffic", u)


def assign_many(spec: AssignmentSpec | dict, unit_ids) -> np.ndarray:
    """Variants of many units as an object array (None where a unit is not in the experiment)."""
    if not isinstance(spec, AssignmentSpec):
        spec = AssignmentSpec.model_validate(spec)
    unit_ids = list(unit_ids)
    u = np.fromiter((bucket(spec.experiment, spec.salt, i) for i in unit_ids), dtype=float, count=len(unit_ids))
    starts, ends = _ranges(spec)
    out = np.full(u.size, None, dtype=object)
    for variant, start, end in zip(spec.variants, starts, ends, strict=True):
        out[(u >= start) & (u < end)] = variant.name
    if spec.holdout is not None:
        h = spec.holdout
        held = np.fromiter((bucket("holdout", h.name, h.salt, i) for i in unit_ids), dtype=float) < h.fraction
        out[held] = None
    return out
