"""Fit the whole recommender as of a cutoff: base models, the ranker on earlier windows, ranked lists.

:func:`fit_recommender` trains the LambdaRank ranker on ``ranker_windows`` consecutive windows of
``window_days`` that end at the cutoff (features from purchases before each window, labels from the new
items bought inside it), then refits EASE and item-kNN on everything before the cutoff, ranks every known
customer's candidates and packages the lists in a :class:`~training.recommend.predict.Recommender`.
When no window has enough data (a very short history) the ranked lists come from EASE alone and the
source says so.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from shopml.errors import DataValidationError
from training.recommend.build import build_recommender
from training.recommend.candidates import CandidateGenerator, CandidateSet, label_candidates
from training.recommend.data import TrainingData, protocol_split, training_data
from training.recommend.ease import EASE
from training.recommend.evaluate import top_k
from training.recommend.itemknn import ItemKNN
from training.recommend.predict import MAX_K, Recommender
from training.recommend.ranker import LambdaRanker, rank_candidates

log = logging.getLogger(__name__)

SOURCE_RANKER = "ranker"
SOURCE_EASE = "ease"


@dataclass(frozen=True)
class RecommenderConfig:
    """Every knob of the recommender; defaults chosen on Online Retail's 2011-10-01 validation split.

    Parameters
    ----------
    ease_lambda
        EASE's L2 penalty.
    knn_neighbours
        Neighbours kept per item in item-kNN.
    per_source
        Candidates taken from each of EASE, item-kNN and recent popularity.
    ranker_windows, window_days
        The ranker learns from this many label windows of this many days before the cutoff.
    use_ranker
        ``False`` ranks by EASE alone (faster, weaker).
    popular_days
        Fallback best-sellers count buyers over this many days before the cutoff.
    list_length
        Items stored per customer (at least ``MAX_K``, so exclusions rarely reach the fallbacks).
    """

    ease_lambda: float = 250.0
    knn_neighbours: int = 100
    per_source: int = 100
    ranker_windows: int = 4
    window_days: int = 30
    use_ranker: bool = True
    n_estimators: int = 150
    num_leaves: int = 15
    learning_rate: float = 0.03
    popular_days: int = 28
    similar_items: int = 50
    list_length: int = MAX_K
    seed: int = 42

    def __post_init__(self) -> None:
        checks = {
            "ease_lambda": self.ease_lambda > 0, "knn_neighbours": self.knn_neighbours >= 1,
            "per_source": self.per_source >= 1, "ranker_windows": self.ranker_windows >= 1,
            "window_days": self.window_days >= 1, "popular_days": self.popular_days >= 1,
            "list_length": self.list_length >= MAX_K, "n_estimators": self.n_estimators >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise DataValidationError(
                f"invalid recommender setting(s) {', '.join(bad)}: see RecommenderConfig for the allowed ranges."
            )

    def to_params(self) -> dict[str, object]:
        return asdict(self)

    def generator(self) -> CandidateGenerator:
        return CandidateGenerator(ease=EASE(self.ease_lambda), knn=ItemKNN(self.knn_neighbours),
                                  per_source=self.per_source)

    def ranker(self) -> LambdaRanker:
        return LambdaRanker(n_estimators=self.n_estimators, num_leaves=self.num_leaves,
                            learning_rate=self.learning_rate, seed=self.seed)


@dataclass
class FittedRecommender:
    """The inference object plus what produced it (for evaluation and logging)."""

    recommender: Recommender
    data: TrainingData
    generator: CandidateGenerator
    ranker: LambdaRanker | None
    windows: list[tuple[str, str, int]] = field(default_factory=list)


def ranker_training_sets(
    orders: pd.DataFrame, products: pd.DataFrame | None, cutoff: pd.Timestamp, config: RecommenderConfig
) -> tuple[list[CandidateSet], list[tuple[str, str, int]]]:
    """Labelled candidate sets for the windows before ``cutoff`` (oldest first); skips empty windows."""
    sets, windows = [], []
    for w in range(config.ranker_windows, 0, -1):
        start = cutoff - pd.Timedelta(days=w * config.window_days)
        end = start + pd.Timedelta(days=config.window_days)
        try:
            split = protocol_split(orders, start, end, products)
        except DataValidationError as exc:
            log.info("ranker window %s skipped: %s", f"{start:%Y-%m-%d}", exc)
            continue
        generator = config.generator().fit(split.train)
        candidates = generator.candidates(split.train, split.test_rows)
        candidates.labels = label_candidates(candidates, split.test_rows, split.truth)
        if candidates.labels.sum() == 0:
            continue
        sets.append(candidates)
        windows.append((f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}", int(split.n_test)))
    return sets, windows


def fit_recommender(
    orders: pd.DataFrame,
    products: pd.DataFrame | None,
    cutoff: str | pd.Timestamp | None = None,
    config: RecommenderConfig | None = None,
) -> FittedRecommender:
    """Fit on canonical orders strictly before ``cutoff`` (default: everything) and build the Recommender."""
    config = config or RecommenderConfig()
    if cutoff is None:
        cutoff = orders["ordered_at"].max() + pd.Timedelta(seconds=1)
    cutoff = pd.Timestamp(cutoff)
    ranker = None
    windows: list[tuple[str, str, int]] = []
    if config.use_ranker:
        sets, windows = ranker_training_sets(orders, products, cutoff, config)
        if sets:
            ranker = config.ranker().fit(sets)
        else:
            log.warning("no usable ranker window before %s; ranking by EASE alone", f"{cutoff:%Y-%m-%d}")
    data = training_data(orders, cutoff, products)
    generator = config.generator().fit(data)
    items, scores = rank_all(data, generator, ranker, config.list_length)
    recommender = build_recommender(
        data, items, scores, generator.knn.similarity_,
        model_source=SOURCE_RANKER if ranker is not None else SOURCE_EASE,
        popular_days=config.popular_days, neighbours=config.similar_items, list_length=config.list_length,
        info={"ranker_windows": len(windows)},
    )
    return FittedRecommender(recommender, data, generator, ranker, windows)


def rank_all(
    data: TrainingData, generator: CandidateGenerator, ranker: LambdaRanker | None, length: int,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Ranked item columns and scores ``(len(rows), length)`` (``-1`` pads) for customer ``rows``."""
    rows = np.arange(data.n_customers) if rows is None else rows
    if ranker is None:
        bought = data.interactions.counts[rows].toarray() > 0
        scores = generator.ease.score(data, rows)
        items = top_k(scores, length, bought)
        return items, np.where(items >= 0, np.take_along_axis(scores, np.maximum(items, 0), axis=1), 0.0)
    candidates = generator.candidates(data, rows)
    predicted = ranker.predict(candidates.features) if len(candidates.rows) else np.zeros(0, "float32")
    return rank_candidates(candidates, predicted, len(rows), length)
