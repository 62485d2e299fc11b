"""Declared feature sets: every column a feature function returns, with its dtype and meaning.

A :class:`FeatureSet` is the one place a set's columns are written down. The feature function returns
exactly these columns (``check`` raises otherwise), the pipeline's manifest and ``docs/features.md`` list
them, and a batch engine reads the output schema from here. ``partition_key`` names the entity column a set
may be computed by: the orders of a group of entities in, those entities' rows out.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from shopml.errors import DataValidationError

SPARK_TYPES = {"str": "string", "float64": "double", "int64": "bigint", "int32": "int", "float32": "float",
               "bool": "boolean", "datetime64[us]": "timestamp_ntz"}
"""Spark SQL type of each declared dtype. Timestamps are naive shop time, hence ``timestamp_ntz`` (Spark's
``timestamp`` would shift them by the session's time zone and come back time-zone aware)."""


@dataclass(frozen=True)
class Column:
    """One output column: its name, pandas dtype (``str`` for strings) and what it means."""

    name: str
    dtype: str
    meaning: str


@dataclass(frozen=True)
class FeatureSet:
    """The columns of one entity's features, in output order.

    Parameters
    ----------
    name
        The set's name (``customers``, ``interactions``, ``demand``): its table name in a feature build.
    keys
        Columns that identify a row (an entity, possibly with a period).
    partition_key
        The entity column the set may be partitioned by (its orders grouped by this column).
    features, labels
        Feature columns, then label columns (labels only when a horizon is asked for).
    """

    name: str
    keys: tuple[Column, ...]
    partition_key: str
    features: tuple[Column, ...]
    labels: tuple[Column, ...] = ()

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    @property
    def label_names(self) -> list[str]:
        return [c.name for c in self.labels]

    @property
    def key_names(self) -> list[str]:
        return [c.name for c in self.keys]

    def columns(self, with_labels: bool = False) -> tuple[Column, ...]:
        return (*self.keys, *self.features, *(self.labels if with_labels else ()))

    def check(self, frame: pd.DataFrame, with_labels: bool = False) -> pd.DataFrame:
        """``frame`` when it has exactly the declared columns in order with their dtypes; else an error naming them."""
        expected = self.columns(with_labels)
        names = [c.name for c in expected]
        if list(frame.columns) != names:
            missing = [n for n in names if n not in frame.columns]
            extra = [n for n in frame.columns if n not in names]
            raise DataValidationError(
                f"feature set {self.name!r}: columns differ from the declaration (missing {missing}, unexpected "
                f"{extra}); update features.{self.name}'s declaration and its function together."
            )
        wrong = [f"{c.name} is {frame[c.name].dtype}, declared {c.dtype}" for c in expected
                 if not _dtype_matches(frame[c.name].dtype, c.dtype)]
        if wrong:
            raise DataValidationError(f"feature set {self.name!r}: " + "; ".join(wrong))
        return frame

    def spark_ddl(self, with_labels: bool = False) -> str:
        """The output schema as a Spark DDL string (for ``applyInPandas``)."""
        return ", ".join(f"{c.name} {SPARK_TYPES[c.dtype]}" for c in self.columns(with_labels))

    def to_markdown(self, with_labels: bool = True) -> str:
        """A table of the set's columns (name, dtype, meaning) for the docs."""
        rows = ["| column | dtype | meaning |", "|---|---|---|"]
        for kind, cols in (("key", self.keys), ("feature", self.features), ("label", self.labels if with_labels else ())):
            rows += [f"| `{c.name}` | {c.dtype} | {c.meaning}{' (key)' if kind == 'key' else ''}"
                     f"{' (label)' if kind == 'label' else ''} |" for c in cols]
        return "\n".join(rows)


def features_markdown(sets: list[FeatureSet] | tuple[FeatureSet, ...]) -> str:
    """docs/features.md: one table per declared feature set."""
    parts = [
        "# Feature sets\n",
        "Generated from the declarations in `features/` by `shopml features schema --markdown > docs/features.md`",
        "(a test fails when this page and the code disagree). Every set is computed as of a cutoff from the order",
        "lines strictly before it, by one function of one partition of entities; see [architecture](architecture.md).\n",
        "`shopml features build [--cutoff DATE] [--horizon DAYS] [--engine pandas|spark] [--lake PATH|URI] "
        "[--out PATH|URI]`",
        "writes every set under `cutoff=DATE/` with a manifest. The pandas engine (the default) calls each set's",
        "function once on the whole table in one process; `--engine spark` (or `SHOPML_ENGINE=spark`) calls the same",
        "functions through `groupBy(partition).applyInPandas`, one hash partition of customers (or SKUs) at a time,",
        "and writes the same rows and manifest as Parquet part files; see [scale](scale.md).\n",
    ]
    for feature_set in sets:
        parts.append(f"## `{feature_set.name}`: one row per {', '.join(feature_set.key_names)}\n")
        parts.append(f"Partitioned by `{feature_set.partition_key}`.\n")
        parts.append(feature_set.to_markdown() + "\n")
    return "\n".join(parts)


def _dtype_matches(actual, declared: str) -> bool:
    if declared == "str":
        return pd.api.types.is_string_dtype(actual)
    if declared.startswith("datetime64"):
        return pd.api.types.is_datetime64_dtype(actual)
    return str(actual) == declared
