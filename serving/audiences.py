"""The audience store: every customer's scores, computed once per model load from the feature table.

Customer scoring in the service is a lookup, not a model call: when the customer models load (or reload), the
per-customer feature table written by ``shopml features build`` (``customers.parquet`` of the latest cutoff)
is scored in one vectorised pass and kept in memory as numpy columns. Its cutoff is the ``as_of`` date of
every answer. Audiences are boolean masks over those columns, ordered by predicted value.

Ids inside are the data home's pseudonyms; the store's :class:`~shopml.privacy.Edge` turns them into the
caller's ids in every row it hands out (API answers, console previews, CSV exports) and leaves out customers
erased since the store was built (docs/security.md).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from serving.errors import ModelNotLoadedError
from shopml.privacy import Edge

logger = logging.getLogger(__name__)

SCORE_COLUMNS = ("churn_probability", "predicted_value", "p_alive", "expected_orders")


@dataclass(frozen=True)
class AudienceStore:
    """Scores of every customer in the feature table as numpy columns, with an id -> row index."""

    as_of: str
    customer_ids: np.ndarray
    columns: dict[str, np.ndarray]
    segments: np.ndarray
    model_versions: dict[str, str]
    index: dict[str, int]
    edge: Edge | None = None
    _present: list = field(default_factory=lambda: [None, None], repr=False)  # [identities, mask], recomputed

    @classmethod
    def from_scores(cls, scores, as_of: str, model_versions: dict[str, str], edge: Edge | None = None
                    ) -> AudienceStore:
        """Build from the scorer's frame (``customer_id`` + :data:`SCORE_COLUMNS` + ``segment``)."""
        ids = scores["customer_id"].astype(str).to_numpy(dtype=object)
        columns = {c: scores[c].to_numpy(dtype=float) for c in SCORE_COLUMNS}
        segments = scores["segment"].astype(str).to_numpy(dtype=object)
        order = np.argsort(-np.nan_to_num(columns["predicted_value"], nan=-np.inf), kind="stable")
        ids, segments = ids[order], segments[order]
        columns = {c: v[order] for c, v in columns.items()}
        index = {cid: i for i, cid in enumerate(ids)}
        return cls(as_of, ids, columns, segments, dict(model_versions), index, edge)

    def present(self) -> np.ndarray | None:
        """Which rows are still customers (None: all of them); recomputed when the vault changes."""
        if self.edge is None:
            return None
        identities = self.edge.identities()
        if identities is None:
            return None
        if self._present[0] is not identities:
            self._present[:] = [identities, np.fromiter((c in identities for c in self.customer_ids), bool,
                                                        count=len(self.customer_ids))]
        return self._present[1]

    def caller_id(self, inner: str) -> str | None:
        """The id callers know this customer by (None once erased)."""
        return inner if self.edge is None else self.edge.outward(inner)

    def __len__(self) -> int:
        return len(self.customer_ids)

    def rows(self, positions) -> list[dict]:
        """Customer score dicts for row positions (JSON-safe: NaN becomes None)."""
        out = []
        for i in positions:
            caller = self.caller_id(self.customer_ids[i])
            if caller is None:  # erased after the store was built
                continue
            row = {"customer_id": caller, "segment": self.segments[i]}
            for c in SCORE_COLUMNS:
                value = float(self.columns[c][i])
                row[c] = value if np.isfinite(value) else None
            out.append(row)
        return out

    def lookup(self, customer_ids: list[str]) -> tuple[list[int], list[str]]:
        """Row positions of the known ids (in request order, duplicates kept) and the unknown ids (the store's
        own ids: callers translate with the edge first)."""
        found, unknown = [], []
        present = self.present()
        for cid in customer_ids:
            i = self.index.get(cid)
            if i is None or (present is not None and not present[i]):
                unknown.append(cid)
            else:
                found.append(i)
        return found, unknown

    def select(self, segments=None, min_value=None, min_churn=None, max_churn=None, min_p_alive=None,
               top_n=None) -> np.ndarray:
        """Positions of the customers passing every filter, highest predicted value first."""
        present = self.present()
        mask = np.ones(len(self), dtype=bool) if present is None else present.copy()
        if segments:
            mask &= np.isin(self.segments, np.asarray(list(segments), dtype=object))
        if min_value is not None:
            mask &= self.columns["predicted_value"] >= min_value
        if min_churn is not None:
            mask &= self.columns["churn_probability"] >= min_churn
        if max_churn is not None:
            mask &= self.columns["churn_probability"] <= max_churn
        if min_p_alive is not None:
            mask &= self.columns["p_alive"] >= min_p_alive
        positions = np.flatnonzero(mask)
        return positions[:top_n] if top_n is not None else positions

    def to_csv(self, positions) -> str:
        """The selected customers as CSV text (header + one line per customer)."""
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        header = ["customer_id", *SCORE_COLUMNS, "segment"]
        writer.writerow(header)
        for row in self.rows(positions):
            writer.writerow([row[h] if row[h] is not None else "" for h in header])
        return buffer.getvalue()


def build_audience_store(scorer, features_home: Path, model_versions: dict[str, str], edge: Edge | None = None
                         ) -> AudienceStore:
    """Score the latest feature table with ``scorer`` (a ``CustomerScorer``) into an :class:`AudienceStore`."""
    import pandas as pd

    from features.customers import CUSTOMER_FEATURES
    from features.pipeline import MANIFEST, latest_feature_dir

    directory = latest_feature_dir(features_home)
    manifest = json.loads((directory / MANIFEST).read_text())
    as_of = str(manifest["cutoff"])[:10]
    table = pd.read_parquet(directory / "customers.parquet")
    features = table[["customer_id", *CUSTOMER_FEATURES]]
    scores = scorer.score(features)
    logger.info("scored %d customers as of %s", len(scores), as_of)
    return AudienceStore.from_scores(scores, as_of, model_versions, edge)


def require(store: AudienceStore | None) -> AudienceStore:
    if store is None:
        raise ModelNotLoadedError(
            "customer scores are not available: build features (`shopml features build`) and train the customer "
            "models (`shopml train churn && shopml train value`)"
        )
    return store
