"""Recommendations: popularity baselines, item-kNN, EASE, a LambdaRank re-ranker and a fast inference object.

The service uses :class:`Recommender` (``recommend``, ``similar_items``, ``recommend_batch``) loaded with
:func:`training.registry.load_champion`, wrapped in a :class:`LiveRecommender` (session blending, cold start from
:class:`ContentIndex`, rules); ``shopml train recommender`` runs :func:`train_recommender`. See docs/recommend.md.
"""

from training.recommend.content import ContentIndex
from training.recommend.data import ProtocolSplit, TrainingData, protocol_split, training_data
from training.recommend.ease import EASE
from training.recommend.evaluate import TopKMetrics, evaluate_topk
from training.recommend.fit import FittedRecommender, RecommenderConfig, fit_recommender
from training.recommend.itemknn import ItemKNN
from training.recommend.live import BlendConfig, ListRules, LiveAnswer, LiveRecommender, SessionEvent
from training.recommend.popularity import Popularity
from training.recommend.predict import MAX_K, Recommendation, Recommender, RecommendRequestError
from training.recommend.protocol import ProtocolReport, evaluate_protocol
from training.recommend.ranker import LambdaRanker


def train_recommender(settings, tables, **kwargs):
    """See :func:`training.recommend.train.train_recommender` (imported lazily: it pulls in MLflow)."""
    from training.recommend.train import train_recommender as _train

    return _train(settings, tables, **kwargs)


__all__ = [
    "EASE", "MAX_K", "BlendConfig", "ContentIndex", "FittedRecommender", "ItemKNN", "ListRules", "LiveAnswer",
    "LiveRecommender", "SessionEvent", "LambdaRanker", "Popularity", "ProtocolReport",
    "ProtocolSplit", "RecommendRequestError", "Recommendation", "Recommender", "RecommenderConfig",
    "TopKMetrics", "TrainingData", "evaluate_protocol", "evaluate_topk", "fit_recommender",
    "protocol_split", "train_recommender", "training_data",
]
