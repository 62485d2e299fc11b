"""Package facades that import their modules on first use.

A facade (``from experiments import evaluate``) is convenient for callers, but importing it eagerly imports
every module of the package: the service's start and the heavy lane's solver processes would pay seconds of
pandas, scipy and OR-Tools imports for the one request model they need. :func:`lazy_exports` gives a package a
module ``__getattr__`` (PEP 562) that imports a name's home module only when the name is first read.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """``__getattr__`` for ``package``: ``homes`` maps each exported name to ``"module"`` or ``"module:attr"``."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = home.partition(":")
        value = getattr(import_module(module), attribute or name)
        globals_of_package = import_module(package).__dict__
        globals_of_package[name] = value  # the next read is a plain attribute lookup
        return value

    return __getattr__
