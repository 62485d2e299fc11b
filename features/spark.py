"""The Spark engine: the feature layer's own per-partition functions, run on Apache Spark.

Nothing here computes a feature, a score or a forecast. This module starts a session, splits a Spark
DataFrame into the same partitions as :mod:`features.partitions` (CRC-32 of the key's UTF-8 text modulo the
number of partitions, which Spark's ``crc32`` computes too) and runs a pandas function on each one with
``groupBy(partition).applyInPandas`` (or ``mapInPandas`` for a row-wise function), through
:func:`features.partitions.run_partition`, so that a malformed row fails with a message naming the partition
and the row on every engine. Callers (``features.pipeline``, ``training.batch``) pass the functions the pandas
engine calls on the whole table.

Bad input is refused before any work, with one line each (:class:`SparkUnavailableError`, :class:`LakeError`):
no Java runtime, an unreachable ``spark://`` master, a lake path that does not exist or holds another layout.
A partition failure comes back from the executors as a :class:`~features.partitions.PartitionError` (see
:func:`spark_errors`), not a JVM stack trace.

A *lake* is a folder (a local path or any Hadoop file-system URI: ``hdfs://``, ``s3a://``, ``abfss://``,
``dbfs:/``...) holding the canonical tables as ``shopml data generate`` and ``shopml data load`` write them:
``manifest.json`` and ``<table>.parquet`` (one file, or a folder of part files). See ``docs/scale.md``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pandas as pd

from features.contracts import ORDERS, PRODUCTS, TableContract
from features.partitions import PartitionError, canonical_order, run_partition
from features.schema import SPARK_TYPES
from features.store import MANIFEST
from shopml.errors import DataValidationError, ShopmlError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from shopml.settings import Settings

log = logging.getLogger(__name__)

PARTITION = "_shopml_partition"
"""Column holding a row's partition (bucket) number while a Spark job runs; never written."""
LINES_PER_PARTITION = 500_000
"""Order lines per partition when ``spark_partitions`` is 0 (automatic): a partition is one pandas frame in one
Python worker, so this bounds a worker's memory (see docs/scale.md, "Sizing partitions")."""
MIN_JAVA = 17

_LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
appender.console.type = Console
appender.console.name = stderr
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.executor.name = org.apache.spark.executor.Executor
logger.executor.level = off
logger.tasks.name = org.apache.spark.scheduler.TaskSetManager
logger.tasks.level = off
logger.utils.name = org.apache.spark.util.Utils
logger.utils.level = error
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
"""
"""Log4j 2 configuration of a JVM this process starts: warnings stay, but a failed task is reported once, by
:func:`spark_errors` (Spark would print the executor's stack trace for each attempt)."""


class SparkUnavailableError(ShopmlError):
    """The Spark engine cannot start here: no PySpark, no Java, or a master that cannot be reached."""


class LakeError(DataValidationError):
    """A lake path that does not exist, or holds something other than the canonical tables."""


# ----------------------------------------------------------------------------- the session
def find_java() -> str:
    """The ``java`` Spark will start (``$JAVA_HOME/bin/java``, else the one on ``PATH``), checked to be 17+."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not (java.is_file() and os.access(java, os.X_OK)):
            raise SparkUnavailableError(
                f"the spark engine needs Java {MIN_JAVA} or later, and JAVA_HOME={home} has no bin/java: point "
                f"JAVA_HOME at a JDK (e.g. /usr/lib/jvm/java-17-openjdk-amd64), unset it, or use --engine pandas."
            )
        where = f"JAVA_HOME={home}"
    else:
        found = shutil.which("java")
        if found is None:
            raise SparkUnavailableError(
                f"the spark engine needs Java {MIN_JAVA} or later and finds no java on PATH nor JAVA_HOME: install "
                f"one (e.g. apt-get install openjdk-17-jre-headless) or use --engine pandas."
            )
        java, where = Path(found), "PATH"
    major = _java_major(java)
    if major is not None and major < MIN_JAVA:
        raise SparkUnavailableError(f"{java} (from {where}) is Java {major}; Spark 4 needs Java {MIN_JAVA} or "
                                    "later: install a newer JDK and point JAVA_HOME at it, or use --engine pandas.")
    return str(java)


def _java_major(java: Path) -> int | None:
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SparkUnavailableError(f"{java} does not run ({exc}); repair the Java runtime or use --engine pandas.") from exc
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


MASTER = re.compile(r"^(local(\[(\*|\d+)(,\s*\d+)?\])?|local-cluster\[.+\]|spark://.+|yarn|k8s://.+|mesos://.+)$")


def check_master(master: str, timeout: float = 5.0) -> None:
    """Refuse a master Spark does not know, and a ``spark://`` master no host of which accepts a connection
    (Spark itself would retry for a minute and then print a stack trace)."""
    if not MASTER.match(master):
        raise SparkUnavailableError(
            f"spark master {master!r} is not one Spark knows; use local[*], local[N], spark://HOST:PORT, yarn or "
            "k8s://https://HOST:PORT (SHOPML_SPARK_MASTER)."
        )
    if not master.startswith("spark://"):
        return
    problems = []
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host or address, int(port or 7077)), timeout=timeout):
                return
        except (OSError, ValueError) as exc:
            problems.append(f"{address}: {getattr(exc, 'strerror', None) or exc}")
    raise SparkUnavailableError(
        f"spark master {master} is unreachable ({'; '.join(problems)}): start it, or set SHOPML_SPARK_MASTER to a "
        "master that runs (local[*] for this machine)."
    )


def is_local(master: str | None) -> bool:
    return master is None or master.startswith("local")


def under_spark_submit() -> bool:
    """True inside ``spark-submit`` (which has started the JVM and chosen the master already)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def start_spark(master: str | None = "local[*]", *, app_name: str = "shopml",
                preload: Sequence[str] = ("features.pipeline",)) -> SparkSession:
    """A Spark session at ``master`` (None: the one ``spark-submit`` was given), checked before it starts.

    Local masters run the executors' Python as this interpreter (``PYSPARK_PYTHON``); a cluster's executors
    use their own (set ``PYSPARK_PYTHON`` to an environment with shopml's wheel, see ``docs/scale.md``).
    ``preload`` names the modules the job's functions live in: each executor's Python daemon imports them once
    (:mod:`features.spark_worker`) instead of every worker importing them again. Settings take effect when
    the session is created (a running session is returned as it is).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailableError("the spark engine needs PySpark: `uv sync --extra spark` (or `pip install "
                                    "shopml[spark]`), or use --engine pandas.") from exc
    active = SparkSession.getActiveSession()
    if active is not None:  # a notebook's or a Databricks job's session, or one this process started
        return active
    launching = not under_spark_submit()
    if launching:
        find_java()
    if master is not None:
        check_master(master)
    if is_local(master):
        os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    else:
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    settings = {
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",  # shop time is naive (timestamp_ntz); nothing is shifted
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.debug.maxToStringFields": "1000",  # the demand tables' plans are wide
        "spark.python.daemon.module": "features.spark_worker",
        "spark.executorEnv.SHOPML_SPARK_PRELOAD": ",".join(preload),
    }
    if master is not None:
        builder = builder.master(master)
    if is_local(master):
        cores = os.cpu_count() or 2
        settings |= {"spark.sql.shuffle.partitions": str(max(2, 2 * cores)), "spark.ui.enabled": "false"}
    if launching:
        settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={_log4j_file().as_uri()}"
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - any failure to start is the environment's, said in one line
        raise SparkUnavailableError(f"Spark did not start at {master or 'the spark-submit master'}: "
                                    f"{_first_line(exc)}; see docs/scale.md or use --engine pandas.") from exc
    log.info("Spark %s at %s, default parallelism %d", spark.version, spark.sparkContext.master,
             spark.sparkContext.defaultParallelism)
    return spark


@contextmanager
def spark_session(settings: Settings, preload: Sequence[str] = ("features.pipeline",)) -> Iterator[SparkSession]:
    """A session at ``settings.spark_master`` for one batch command, stopped at the end; a session that was
    already running (a notebook's, a Databricks job's, ``spark-submit``'s) is used as it is and left running."""
    explicit = "spark_master" in settings.model_fields_set
    master = settings.spark_master if explicit or not under_spark_submit() else None
    try:
        from pyspark.sql import SparkSession

        owned = SparkSession.getActiveSession() is None and not under_spark_submit()
    except ImportError:  # start_spark says what to install
        owned = True
    spark = start_spark(master, preload=preload)
    try:
        yield spark
    finally:
        if owned:
            spark.stop()


def _log4j_file() -> Path:
    path = Path(tempfile.gettempdir()) / "shopml-spark-log4j2.properties"
    if not path.is_file() or path.read_text() != _LOG4J:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(_LOG4J)
        os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- running partitions
def partition_count(spark: SparkSession, lines: int, requested: int = 0) -> int:
    """``requested``, or about one partition per :data:`LINES_PER_PARTITION` lines and at least two per core."""
    if requested:
        return requested
    return max(2 * spark.sparkContext.defaultParallelism, -(-lines // LINES_PER_PARTITION))


def partitioned(frame: DataFrame, key: str, n_partitions: int) -> DataFrame:
    """``frame``'s rows with a ``key``, with their partition (:func:`features.partitions.partition_of`'s number)
    in :data:`PARTITION`, hash-distributed by it and kept (``persist``): every function of the same key then
    runs on the same shuffle. Rows with a null key belong to no entity and are left out, as ``split_by`` does."""
    from pyspark.sql import functions as F

    bucket = F.pmod(F.crc32(F.col(key).cast("binary")), F.lit(n_partitions))
    return frame.where(F.col(key).isNotNull()).withColumn(PARTITION, bucket).repartition(n_partitions, PARTITION).persist()


def apply_by_partition(
    frame: DataFrame, function: Callable[[pd.DataFrame], pd.DataFrame], *, key: str, n_partitions: int,
    schema: str, what: str, contract: TableContract | None = None,
) -> DataFrame:
    """``function`` on each partition of ``frame`` (from :func:`partitioned`): ``groupBy(partition)
    .applyInPandas``. ``contract`` restores the input's pandas dtypes first (Arrow hands over nanosecond
    timestamps); a failure names the partition and the row (:func:`~features.partitions.run_partition`)."""
    shared = frame.sparkSession.sparkContext.broadcast(Shared(function))  # loaded once per executor process

    def run(part: pd.DataFrame) -> pd.DataFrame:
        number = int(part[PARTITION].iloc[0])
        rows = canonical_order(part.drop(columns=PARTITION))  # the pandas engine's row order
        body = shared.value.value if contract is None else _after_cast(contract, shared.value.value)
        return run_partition(body, rows, what=what, key=key, partition=number, n_partitions=n_partitions)

    return frame.groupBy(PARTITION).applyInPandas(run, schema)


def map_partitions(
    frame: DataFrame, function: Callable[[pd.DataFrame], pd.DataFrame], *, key: str, schema: str, what: str,
) -> DataFrame:
    """``function`` on each Arrow batch of each partition of ``frame`` (``mapInPandas``), for a function of
    independent rows (scoring customers, forecasting SKUs): no shuffle. A failure names the partition and row."""
    shared = frame.sparkSession.sparkContext.broadcast(Shared(function))

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from pyspark import TaskContext

        context = TaskContext.get()
        number = context.partitionId() if context is not None else 0
        for batch in batches:
            if len(batch):
                yield run_partition(shared.value.value, batch, what=what, key=key, partition=number, n_partitions=None)

    return frame.mapInPandas(run, schema)


class Shared:
    """A value for ``SparkContext.broadcast`` that may be a closure or hold one (pickled with cloudpickle, as
    Spark pickles UDFs): each executor process unpickles it once, on first use, and keeps it."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __reduce__(self):
        from pyspark import cloudpickle

        return _unpickle_shared, (cloudpickle.dumps(self.value),)


def _unpickle_shared(data: bytes) -> Shared:
    import pickle

    return Shared(pickle.loads(data))


def _after_cast(contract: TableContract, function: Callable[[pd.DataFrame], pd.DataFrame]):
    def body(part: pd.DataFrame) -> pd.DataFrame:
        return function(contract.cast(part))

    return body


def spark_schema(frame: pd.DataFrame) -> str:
    """A Spark DDL schema for ``frame``'s columns (the output of a function that declares no feature set)."""
    def spark_type(dtype) -> str:
        if pd.api.types.is_string_dtype(dtype):
            return "string"
        if pd.api.types.is_datetime64_dtype(dtype):
            return "timestamp_ntz"
        return SPARK_TYPES[str(dtype)]

    return ", ".join(f"`{name}` {spark_type(frame[name].dtype)}" for name in frame.columns)


PARTITION_FAILURE = re.compile(r"^(?:[\w.]+\.)?PartitionError: (.+)$", re.MULTILINE)


@contextmanager
def spark_errors() -> Iterator[None]:
    """Turn a partition's failure on an executor back into the :class:`PartitionError` it raised (one line);
    any other failure keeps its exception and traceback (a bug, or the cluster's)."""
    try:
        with warnings.catch_warnings():  # toPandas warns about Arrow before re-raising the executor's error
            warnings.simplefilter("ignore", UserWarning)
            yield
    except Exception as exc:
        found = PARTITION_FAILURE.findall(str(exc))
        if found:
            raise PartitionError(found[-1].strip()) from None
        raise


def collect(frame: DataFrame) -> pd.DataFrame:
    """``frame`` as pandas on the driver (through Arrow), with partition failures as :class:`PartitionError`."""
    with spark_errors():
        return frame.toPandas()


def _first_line(exc: BaseException, width: int = 300) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= width else text[: width - 3] + "..."


# ----------------------------------------------------------------------------- files on any Hadoop file system
def is_remote(uri: str) -> bool:
    """True for a URI with a scheme other than ``file`` (``hdfs://``, ``s3a://``...); paths are local."""
    scheme = urlparse(str(uri)).scheme
    return len(scheme) > 1 and scheme != "file"


def local_path(uri: str) -> Path:
    """The local path of a path or ``file:`` URI."""
    return Path(urlparse(uri).path) if str(uri).startswith("file:") else Path(uri)


def join(base: str, *names: str) -> str:
    return "/".join([str(base).rstrip("/"), *names])


class HadoopFiles:
    """The few file operations a build needs (exists, read, write, rename, delete), on the file system of a
    path or URI as Spark's executors see it.

    PySpark has no public file-system API; this goes through the session's JVM (``SparkSession._jvm``), the
    usual bridge, kept to this class.
    """

    def __init__(self, spark: SparkSession, uri: str) -> None:
        self._spark = spark
        self._path = spark._jvm.org.apache.hadoop.fs.Path  # type: ignore[union-attr]
        self._fs = self._path(str(uri)).getFileSystem(spark._jsc.hadoopConfiguration())  # type: ignore[union-attr]

    def exists(self, uri: str) -> bool:
        return bool(self._fs.exists(self._path(uri)))

    def is_dir(self, uri: str) -> bool:
        return bool(self._fs.getFileStatus(self._path(uri)).isDirectory()) if self.exists(uri) else False

    def read_text(self, uri: str) -> str:
        if not is_remote(uri):  # a local file needs no Spark job
            return local_path(uri).read_text(encoding="utf-8")
        return str(self._spark.read.text(uri, wholetext=True).first()[0])

    def write_text(self, uri: str, text: str) -> None:
        stream = self._fs.create(self._path(uri), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def delete(self, uri: str) -> None:
        if self.exists(uri):
            self._fs.delete(self._path(uri), True)

    def rename(self, source: str, target: str) -> None:
        if not self._fs.rename(self._path(source), self._path(target)):
            raise ShopmlError(f"could not rename {source} to {target}; check the permissions of its folder.")


# ----------------------------------------------------------------------------- the lake
@dataclass
class Lake:
    """The canonical tables at a lake path: ``orders`` as a Spark DataFrame in contract order and types,
    ``products`` (a small lookup) as pandas, and the lake's manifest (source, rows, fingerprints)."""

    uri: str
    manifest: dict[str, object]
    orders: DataFrame
    products: pd.DataFrame | None

    @property
    def fingerprint(self) -> str:
        """The orders' fingerprint as the lake's writer recorded it (``features.store.fingerprint``)."""
        return str(self.manifest["tables"]["orders"]["fingerprint"])  # type: ignore[index]


LAYOUT = (f"expected the canonical tables as `shopml data generate` or `shopml data load` write them "
          f"({MANIFEST} and orders.parquet, with products.parquet for the catalogue features)")


def check_local_lake(uri: str) -> None:
    """Refuse a local lake path that does not exist or lacks the layout, before a Spark session starts."""
    if is_remote(uri):
        return
    path = local_path(uri)
    if not path.exists():
        raise LakeError(f"lake {uri} does not exist; check the path (relative to {Path.cwd()}) or write the "
                        "tables there with `shopml data generate` or `shopml data load`.")
    missing = [name for name in (MANIFEST, "orders.parquet") if not (path / name).exists()]
    if missing:
        raise LakeError(f"lake {uri} holds another layout (no {', '.join(missing)}); {LAYOUT}.")


def read_lake(spark: SparkSession, uri: str) -> Lake:
    """The lake at ``uri`` (a path or Hadoop URI), its layout and the orders' columns checked (:class:`LakeError`)."""
    check_local_lake(uri)
    files = HadoopFiles(spark, uri)
    if not files.exists(uri):
        raise LakeError(f"lake {uri} does not exist; check the URI and the credentials Spark uses for it.")
    if not files.exists(join(uri, MANIFEST)):
        raise LakeError(f"lake {uri} holds another layout (no {MANIFEST}); {LAYOUT}.")
    try:
        manifest = json.loads(files.read_text(join(uri, MANIFEST)))
        fingerprint = manifest["tables"]["orders"]["fingerprint"]
    except (ValueError, KeyError, TypeError) as exc:
        raise LakeError(f"lake {uri}: {MANIFEST} does not list the orders table with its fingerprint ({exc!r}); "
                        f"{LAYOUT}.") from exc
    if not fingerprint:
        raise LakeError(f"lake {uri}: {MANIFEST} lists no fingerprint of the orders; {LAYOUT}.")
    orders = _read_table(spark, files, uri, ORDERS)
    products = None
    if "products" in manifest["tables"]:
        products = PRODUCTS.cast(collect(_read_table(spark, files, uri, PRODUCTS)))
    return Lake(uri, manifest, orders, products)


_COMPATIBLE = {"str": ("string",), "int64": ("bigint", "int", "smallint", "tinyint"),
               "float64": ("double", "float", "bigint", "int", "decimal"), "datetime64[us]": ("timestamp_ntz", "timestamp")}


def _read_table(spark: SparkSession, files: HadoopFiles, uri: str, contract: TableContract) -> DataFrame:
    """``<uri>/<table>.parquet`` with the contract's columns, in order, as Spark types the pandas dtypes map to."""
    from pyspark.sql import functions as F

    path = join(uri, f"{contract.name}.parquet")
    if not files.exists(path):
        raise LakeError(f"lake {uri} holds another layout (no {contract.name}.parquet); {LAYOUT}.")
    try:
        frame = spark.read.parquet(path)
    except Exception as exc:  # noqa: BLE001 - an unreadable table is the lake's problem, said in one line
        raise LakeError(f"lake {uri}: {contract.name}.parquet is not readable Parquet ({_first_line(exc)}).") from exc
    types = dict(frame.dtypes)
    missing = [c for c in contract.column_names if c not in types]
    if missing:
        raise LakeError(f"lake {uri}: {contract.name}.parquet has no column(s) {', '.join(missing)} (it has "
                        f"{', '.join(types)}); {LAYOUT}.")
    wrong = [f"{c.name} is {types[c.name]}" for c in contract.columns
             if not types[c.name].startswith(_COMPATIBLE[c.dtype])]
    if wrong:
        raise LakeError(f"lake {uri}: {contract.name}.parquet: {'; '.join(wrong)}, not the contract's types "
                        f"({', '.join(f'{c.name} {c.dtype}' for c in contract.columns)}); rewrite it with "
                        "`shopml data load`.")
    return frame.select(*[F.col(c.name).cast(SPARK_TYPES[c.dtype]).alias(c.name) for c in contract.columns])
