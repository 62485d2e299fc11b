"""The served-model contract: every family implements it, one loader serves them all, versions read the same."""

from __future__ import annotations

import pytest

from shopml.errors import NotTrainedError
from training.contract import Champion, ServedModel
from training.customers import ChurnModel, CustomerScorer, ValueModel
from training.forecast import Forecaster
from training.names import ALL_MODELS, CHURN, CUSTOMER_VALUE
from training.recommend import Recommender
from training.registry import load_champion

FAMILIES = (ChurnModel, ValueModel, CustomerScorer, Recommender, Forecaster)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_every_family_implements_the_contract(family):
    assert ServedModel in family.__mro__  # explicit: mypy checks each family against the contract
    assert family.registry_names and set(family.registry_names) <= set(ALL_MODELS)
    for method in ("predict", "save", "load", "load_registered", "default_params"):
        assert callable(getattr(family, method)), method


def test_the_customer_scorer_is_built_from_both_customer_models():
    assert CustomerScorer.registry_names == (CHURN, CUSTOMER_VALUE)


def test_champion_unpacks_and_names_its_versions():
    single = Champion(object(), {"recommender": "4"})  # type: ignore[type-var]
    model, versions = single
    assert versions == {"recommender": "4"} and single.version == "4"
    both = Champion(object(), {CHURN: "3", CUSTOMER_VALUE: "2"})  # type: ignore[type-var]
    assert both.version == "churn=3,customer_value=2"


@pytest.mark.parametrize(("family", "command"), [
    (CustomerScorer, "shopml train churn"), (Recommender, "shopml train recommender"),
    (Forecaster, "shopml train forecast"), (ValueModel, "shopml train value"),
])
def test_no_champion_names_the_command_to_run(settings, family, command):
    with pytest.raises(NotTrainedError, match=command):
        load_champion(family, settings)
