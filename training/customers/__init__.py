"""Customer models: churn risk, customer value, BG/NBD + Gamma-Gamma, lifecycle segments and audiences.

Public API::

    from training.customers import CustomerScorer, SEGMENTS
    from training.registry import load_champion
    scorer, versions = load_champion(CustomerScorer, settings)  # both champions (churn, customer_value)
    scores = scorer.score(customers_parquet_frame)  # customer_id, churn_probability, predicted_value, ...
"""

from training.customers.bgnbd import BGNBD, BGNBDParams
from training.customers.churn import ChurnModel, ChurnParams, fit_churn
from training.customers.data import CustomerData, CutoffPlan, build_customer_data, plan_cutoffs
from training.customers.gamma_gamma import GammaGamma, GammaGammaParams
from training.customers.lifetime import LifetimeModel
from training.customers.predict import SCORE_COLUMNS, CustomerScorer, filter_audience
from training.customers.segments import SEGMENTS, SegmentRules
from training.customers.train import TrainConfig, prepare, train_churn, train_value
from training.customers.value import ValueModel, ValueParams, fit_value

__all__ = [
    "BGNBD", "BGNBDParams", "ChurnModel", "ChurnParams", "CustomerData", "CustomerScorer", "CutoffPlan",
    "GammaGamma", "GammaGammaParams", "LifetimeModel", "SCORE_COLUMNS", "SEGMENTS", "SegmentRules", "TrainConfig",
    "ValueModel", "ValueParams", "build_customer_data", "filter_audience", "fit_churn", "fit_value",
    "plan_cutoffs", "prepare", "train_churn", "train_value",
]
