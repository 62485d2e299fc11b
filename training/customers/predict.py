"""Score customers: churn probability, predicted value, P(alive), expected orders and lifecycle segment.

:class:`CustomerScorer` joins the churn and value champions. Its input is the ``customers.parquet`` written
by ``features.pipeline.build_features`` (``customer_id`` + :data:`features.customers.CUSTOMER_FEATURES`);
the work is numpy and LightGBM on one matrix, so a million customers score in seconds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from shopml.errors import DataValidationError
from training.contract import Params, ServedModel
from training.customers.churn import ChurnModel
from training.customers.encoding import check_feature_table
from training.customers.segments import SEGMENTS, SegmentRules, assign_segments
from training.customers.value import ValueModel
from training.names import CHURN, CUSTOMER_VALUE

log = logging.getLogger(__name__)

SCORE_DTYPES = {"customer_id": "str", "churn_probability": "float64", "predicted_value": "float64",
                "p_alive": "float64", "expected_orders": "float64", "segment": "str"}
"""The columns of :meth:`CustomerScorer.score` and their dtypes (a batch engine's output schema)."""
SCORE_COLUMNS = tuple(SCORE_DTYPES)


class CustomerScorer(ServedModel):
    """Churn and value models plus the segment rules; ``score`` returns one row per input customer.

    Built from two registered models (``churn`` and ``customer_value``), each with its own champion.
    """

    segments = SEGMENTS
    registry_names = (CHURN, CUSTOMER_VALUE)

    def __init__(self, churn: ChurnModel, value: ValueModel, rules: SegmentRules | None = None,
                 high_value_threshold: float | None = None) -> None:
        self.churn = churn
        self.value = value
        self.rules = rules or SegmentRules()
        threshold = high_value_threshold if high_value_threshold is not None else value.info.get("high_value_threshold")
        self.high_value_threshold = float(threshold) if threshold is not None else float("inf")

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        """Scores in the input's row order; raises when the table lacks feature columns or has no rows."""
        if len(features) == 0:
            raise DataValidationError("no customers to score: the feature table is empty.")
        check_feature_table(features)
        if "customer_id" not in features.columns:
            features = features.reset_index()
            if "customer_id" not in features.columns:
                raise DataValidationError("the feature table has no customer_id column (nor index).")
        # The population models are derived once and shared when both models carry the same ones (they do
        # when trained together); P(alive) and expected orders come from the same columns.
        lifetime = self.churn.encoder.lifetime
        derived = lifetime.derive(features)
        shared = derived if self.value.encoder.lifetime == lifetime else None
        churn = self.churn.predict_proba_matrix(self.churn.encoder.matrix(features, derived))
        value = self.value.predict_matrix(self.value.encoder.matrix(features, shared))
        segment = assign_segments(
            days_since_last_order=features["days_since_last_order"].to_numpy("float64"),
            days_since_first_order=features["days_since_first_order"].to_numpy("float64"),
            orders_90d=features["orders_90d"].to_numpy("float64"),
            orders_trend_90d=features["orders_trend_90d"].to_numpy("float64"),
            churn_probability=churn, predicted_value=value, high_value_threshold=self.high_value_threshold,
            rules=self.rules,
        )
        return pd.DataFrame({
            "customer_id": features["customer_id"].to_numpy(),
            "churn_probability": churn,
            "predicted_value": value,
            "p_alive": derived["p_alive"].to_numpy(),
            "expected_orders": derived["expected_orders_horizon"].to_numpy(),
            "segment": segment,
        })

    def predict(self, frame: pd.DataFrame, params: Params | None = None) -> pd.DataFrame:
        """:meth:`score` (the contract's name)."""
        return self.score(frame)

    @property
    def metadata(self) -> dict[str, object]:
        return {"churn": self.churn.metadata, "value": self.value.metadata, "rules": self.rules.to_dict(),
                "high_value_threshold": self.high_value_threshold}

    @classmethod
    def load_registered(cls, folders: Mapping[str, Path]) -> CustomerScorer:
        """The scorer of the registered ``churn`` and ``customer_value`` models (default segment rules)."""
        return cls(ChurnModel.load(folders[CHURN]), ValueModel.load(folders[CUSTOMER_VALUE]))

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        self.churn.save(directory / "churn")
        self.value.save(directory / "value")
        meta = {"rules": self.rules.to_dict(), "high_value_threshold": self.high_value_threshold}
        (directory / "scorer.json").write_text(json.dumps(meta, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> CustomerScorer:
        directory = Path(directory)
        meta = json.loads((directory / "scorer.json").read_text())
        return cls(ChurnModel.load(directory / "churn"), ValueModel.load(directory / "value"),
                   SegmentRules(**meta["rules"]), meta["high_value_threshold"])


def filter_audience(scores: pd.DataFrame, *, segment: str | None = None, min_value: float | None = None,
                    min_churn: float | None = None, top: int | None = None) -> pd.DataFrame:
    """Customers in ``segment`` with value >= ``min_value`` (and churn >= ``min_churn``), the ``top`` N by
    predicted value. An empty result is returned as an empty frame (the CLI says so)."""
    from training.customers.segments import check_segment

    keep = np.ones(len(scores), dtype=bool)
    if segment is not None:
        keep &= (scores["segment"] == check_segment(segment)).to_numpy()
    if min_value is not None:
        keep &= (scores["predicted_value"] >= min_value).to_numpy()
    if min_churn is not None:
        keep &= (scores["churn_probability"] >= min_churn).to_numpy()
    if top is not None and top <= 0:
        raise DataValidationError(f"--top must be a positive number of customers, got {top}.")
    out = scores.loc[keep].sort_values(["predicted_value", "customer_id"], ascending=[False, True], kind="stable")
    return out.head(top).reset_index(drop=True) if top is not None else out.reset_index(drop=True)
