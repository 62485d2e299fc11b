"""``--engine`` and ``--lake``, the options the batch commands share (features build, score audiences, forecast).

The engine is a setting (``SHOPML_ENGINE``, default pandas; Spark's master is ``SHOPML_SPARK_MASTER``), which
the option overrides for one command. With Spark, everything a user can get wrong is checked before a session
starts (a lake path, a champion, Java, the master), so each mistake is one line and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from shopml.settings import Settings

EngineOption = Annotated[Literal["pandas", "spark"] | None, typer.Option(
    "--engine", help="pandas (this process) or spark (at SHOPML_SPARK_MASTER, default local[*]); default: "
    "SHOPML_ENGINE, else pandas. See docs/scale.md.",
)]
LakeOption = Annotated[str | None, typer.Option(
    "--lake", help="Folder of canonical tables to read (manifest.json, orders.parquet, products.parquet); with "
    "--engine spark also any Hadoop URI (hdfs://, s3a://, abfss://...). Default: the data home's tables.",
)]


def engine_settings(engine: str | None) -> Settings:
    """The settings with ``--engine`` applied (None keeps ``SHOPML_ENGINE``)."""
    from shopml.settings import load_settings

    return load_settings(**({"engine": engine} if engine else {}))


def lake_of(settings: Settings, lake: str | None) -> str:
    """The lake to read, checked as far as it can be without Spark: it exists and holds the canonical layout
    (a local path), and the pandas engine gets a local one."""
    from features.spark import check_local_lake, is_remote
    from shopml.errors import ShopmlError

    uri = lake or str(settings.raw_dir)
    if settings.engine == "pandas" and is_remote(uri):
        raise ShopmlError(f"--lake {uri}: the pandas engine reads local folders; use --engine spark for a Hadoop URI.")
    if lake is not None or settings.engine == "spark":
        check_local_lake(uri)
    return uri


@contextmanager
def spark_for(settings: Settings, *modules: ModuleType) -> Iterator[SparkSession]:
    """A Spark session for one command (started under a status line, stopped at the end); ``modules`` hold the
    functions the command runs on Spark (the executors import them once, :mod:`features.spark_worker`)."""
    from cli._console import console
    from features.spark import spark_session

    status = console.status(f"starting Spark at {settings.spark_master}")
    status.start()
    try:
        with spark_session(settings, preload=[module.__name__ for module in modules]) as spark:
            status.stop()
            yield spark
    finally:
        status.stop()
