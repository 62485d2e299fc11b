"""Feature-set declarations: the checker, the docs page generated from them, and the Spark schema."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features import FEATURE_SETS
from features.schema import Column, FeatureSet, features_markdown
from shopml.errors import DataValidationError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "features.md"
TOY = FeatureSet("toy", (Column("id", "str", "entity"),), "id", (Column("n", "int64", "count"),),
                 (Column("y", "float64", "label"),))


def test_check_accepts_the_declared_frame_and_names_what_differs():
    frame = pd.DataFrame({"id": pd.Series(["a"], dtype="str"), "n": [1]})
    assert TOY.check(frame) is frame
    with pytest.raises(DataValidationError, match=r"missing \['y'\]"):
        TOY.check(frame, with_labels=True)
    with pytest.raises(DataValidationError, match="n is float64, declared int64"):
        TOY.check(frame.astype({"n": "float64"}))
    with pytest.raises(DataValidationError, match=r"unexpected \['extra'\]"):
        TOY.check(frame.assign(extra=1))


def test_every_set_is_declared_once_with_unique_columns_and_a_spark_schema():
    assert len({s.name for s in FEATURE_SETS}) == len(FEATURE_SETS)
    for feature_set in FEATURE_SETS:
        names = [c.name for c in feature_set.columns(with_labels=True)]
        assert len(names) == len(set(names)), feature_set.name
        assert feature_set.partition_key in feature_set.key_names
        assert all(c.meaning for c in feature_set.columns(with_labels=True)), feature_set.name
        assert feature_set.spark_ddl(with_labels=True).count(",") == len(names) - 1


def test_docs_page_matches_the_declarations():
    """docs/features.md is generated; regenerate it with `shopml features schema --markdown > docs/features.md`."""
    assert DOCS.read_text() == features_markdown(FEATURE_SETS)
