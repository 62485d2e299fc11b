"""Spark's Python daemon, with the modules a job will run imported before it forks its workers.

Each Python worker Spark starts is a fork of one daemon per executor. PySpark's daemon imports almost nothing,
so every new worker imports pandas, pyarrow and the feature and model code again (seconds each, more with
LightGBM and scikit-learn). This daemon imports the modules named in ``SHOPML_SPARK_PRELOAD`` (set by
:func:`features.spark.start_spark` through ``spark.executorEnv``) first; the workers inherit them. A module that
fails to import is skipped here (a worker that needs it reports the error).
"""

from __future__ import annotations

import importlib
import os

PRELOAD = "SHOPML_SPARK_PRELOAD"


def preload() -> list[str]:
    loaded = []
    for name in filter(None, (n.strip() for n in os.environ.get(PRELOAD, "").split(","))):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - the worker that needs the module reports its error
            continue
        loaded.append(name)
    return loaded


if __name__ == "__main__":
    preload()
    from pyspark import daemon

    daemon.manager()
