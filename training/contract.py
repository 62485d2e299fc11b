"""The served-model contract: what every model the registry holds and the service serves provides.

A served model is one plain Python object (no MLflow inside) that

- names the registered model(s) it is built from (:attr:`ServedModel.registry_names`),
- predicts a DataFrame with named columns from a DataFrame (:meth:`ServedModel.predict`),
- saves itself to a folder and loads from one (:meth:`ServedModel.save` / :meth:`ServedModel.load`): that folder
  is the artifact of the registered MLflow model (see :mod:`training.packaging`) and the service's last-good copy,
- describes itself in a few JSON-able fields (:attr:`ServedModel.metadata`).

The churn and value models, the customer scorer (both champions together), the recommender and the forecaster
implement it by subclassing :class:`ServedModel`, so mypy checks each against it. ``load_champion`` in
:mod:`training.registry` returns a :class:`Champion` of any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NamedTuple, Protocol, Self, TypeVar

if TYPE_CHECKING:
    import pandas as pd

Params = Mapping[str, Any]
"""Inference parameters (MLflow ``params``), e.g. ``{"horizon": 4}`` for the forecaster."""


class ServedModel(Protocol):
    """One model family's inference object. Subclass it; override what the defaults do not fit."""

    registry_names: ClassVar[tuple[str, ...]]
    """The registered model names this object is built from (one, or several for a composite)."""

    optional_inputs: ClassVar[tuple[str, ...]] = ()
    """Input columns :meth:`predict` uses when present; every other input column is required and used."""

    def predict(self, frame: pd.DataFrame, params: Params | None = None) -> pd.DataFrame:
        """Named output columns for the rows of ``frame`` (the registered model's pyfunc ``predict``)."""
        ...

    def default_params(self) -> dict[str, object]:
        """The ``params`` :meth:`predict` accepts, with their defaults (the signature's param schema)."""
        return {}

    @property
    def metadata(self) -> dict[str, object]:
        """A few JSON-able facts about the object (shown by the service and stored with the model)."""
        ...

    def save(self, directory: str | Path) -> Path:
        """Write the object to ``directory`` (plain files: no pickles); returns the folder."""
        ...

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Read a folder written by :meth:`save`."""
        ...

    @classmethod
    def load_registered(cls, folders: Mapping[str, Path]) -> Self:
        """Build the object from the saved folders of its registered models, keyed by :attr:`registry_names`.

        The default loads the one folder with :meth:`load`; a composite overrides it.
        """
        (folder,) = folders.values()
        return cls.load(folder)


M = TypeVar("M", bound=ServedModel)


class Champion(NamedTuple, Generic[M]):
    """A loaded model and the registry version of each registered model it came from.

    Unpacks as ``model, versions = load_champion(...)``.
    """

    model: M
    versions: dict[str, str]

    @property
    def version(self) -> str:
        """``"3"`` for one registered model, ``"churn=3,customer_value=2"`` for a composite."""
        if len(self.versions) == 1:
            return next(iter(self.versions.values()))
        return ",".join(f"{name}={version}" for name, version in self.versions.items())


def family_name(family: type[ServedModel]) -> str:
    """``module.Class`` of a family: stored in the registered model's metadata and checked when loading."""
    return f"{family.__module__}.{family.__qualname__}"
