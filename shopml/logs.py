"""Logging set-up for the front doors: libraries only log through ``logging.getLogger(__name__)``.

The CLI calls :func:`configure_logging` once per invocation; ``-v`` shows shopml's progress lines and
MLflow's own INFO lines, which otherwise drown the summary tables.
"""

from __future__ import annotations

import logging
import os
import warnings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

MLFLOW_HINTS = ("Add type hints", "An input example was not provided", "Hint: Inferred schema")
"""MLflow schema hints silenced without ``-v``. MLflow's ``log_model`` re-enables UserWarnings inside itself
(``filter_user_warnings_once``), so its "Add type hints" notice can still show once."""


def configure_logging(verbose: bool = False) -> None:
    """INFO with ``verbose``, else WARNING, and MLflow quiet unless asked."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format=FORMAT)
    if not verbose:
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
        for hint in MLFLOW_HINTS:
            warnings.filterwarnings("ignore", message=f".*{hint}")
