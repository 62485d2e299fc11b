"""Model training: churn, customer value, recommendations and demand forecasts, tracked in MLflow.

The facade::

    from training import CustomerScorer, Recommender, Forecaster, load_champion
    scorer, versions = load_champion(CustomerScorer, settings)   # any ServedModel family, from the registry
    outcome = train_churn(settings, prepare_customers(tables))     # one lifecycle: log, register, promote

Every served family implements :class:`ServedModel` (``training.contract``); every training run goes through
:func:`training.lifecycle.run_training`. The model areas ``training.customers``, ``training.recommend`` and
``training.forecast`` use the same stage modules: ``data``, the model modules, ``predict`` and ``train``.
"""

from typing import TYPE_CHECKING

from shopml.lazy import lazy_exports

if TYPE_CHECKING:
    from training.contract import Champion, ServedModel
    from training.customers import CustomerScorer
    from training.customers.train import prepare as prepare_customers
    from training.customers.train import train_churn, train_value
    from training.forecast import Forecaster
    from training.forecast.data import prepare as prepare_forecast
    from training.forecast.train import train_forecast
    from training.lifecycle import TrainOutcome, load_training_tables
    from training.recommend import Recommender
    from training.recommend.train import train_recommender
    from training.registry import load_champion

__getattr__ = lazy_exports(__name__, {
    "Champion": "training.contract",
    "ServedModel": "training.contract",
    "CustomerScorer": "training.customers",
    "prepare_customers": "training.customers.train:prepare",
    "train_churn": "training.customers.train",
    "train_value": "training.customers.train",
    "Forecaster": "training.forecast",
    "prepare_forecast": "training.forecast.data:prepare",
    "train_forecast": "training.forecast.train",
    "TrainOutcome": "training.lifecycle",
    "load_training_tables": "training.lifecycle",
    "Recommender": "training.recommend",
    "train_recommender": "training.recommend.train",
    "load_champion": "training.registry",
})

__all__ = [
    "Champion", "CustomerScorer", "Forecaster", "Recommender", "ServedModel", "TrainOutcome", "load_champion",
    "load_training_tables", "prepare_customers", "prepare_forecast", "train_churn", "train_forecast",
    "train_recommender", "train_value",
]
