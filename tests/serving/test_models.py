"""The model store on the session's registry: loading, local copies, alias polling and reload by swap."""

from __future__ import annotations

import json

import pytest

from serving.errors import ModelNotLoadedError
from serving.models import LOCAL_COPY, REGISTRY, ModelStore


@pytest.fixture(scope="module")
def store(shop):
    from shopml.settings import load_settings

    store = ModelStore(load_settings(data_home=shop.home))
    store.load_all()
    return store


def test_loaded_models_match_what_was_trained(store, shop):
    for spec in store.specs:
        loaded = store.loaded(spec.name)
        assert (loaded is not None) == (shop.trained[spec.name] == "ok"), (spec.name, store.error(spec.name))
        if loaded is None:
            with pytest.raises(ModelNotLoadedError, match="shopml train"):
                store.get(spec.name)
            continue
        assert loaded.source == REGISTRY
        assert set(loaded.versions) == set(spec.registry_names)
        meta = json.loads((store.copy_root / spec.name / "serving.json").read_text())
        assert meta["version"] == loaded.version


def test_poll_reloads_nothing_when_aliases_did_not_move(store):
    before = {spec.name: store.loaded(spec.name) for spec in store.specs}
    assert store.poll_once() == []
    assert all(store.loaded(name) is obj for name, obj in before.items())


def test_reload_swaps_whole_entries_and_old_references_keep_working(store, shop):
    if shop.trained.get("recommender") != "ok":
        pytest.skip("recommender not trained")
    old = store.get("recommender")
    customer = str(old.obj.customer_ids[0])
    expected = [r.sku for r in old.obj.recommend(customer, k=5)]
    versions = store.reload()
    new = store.get("recommender")
    assert versions["recommender"] == old.version and new is not old
    assert [r.sku for r in old.obj.recommend(customer, k=5)] == expected  # in-flight requests finish on old
    assert [r.sku for r in new.obj.recommend(customer, k=5)] == expected


def test_unreachable_registry_falls_back_to_the_copy(store, shop, tmp_path):
    from shopml.settings import load_settings

    broken = load_settings(data_home=shop.home, mlflow_tracking_uri=f"sqlite:///{tmp_path}/no/such/dir/m.db")
    fallback = ModelStore(broken)
    fallback.load_all()
    for spec in store.specs:
        if store.loaded(spec.name) is None:
            continue
        loaded = fallback.get(spec.name)
        assert loaded.source == LOCAL_COPY and "registry unavailable" in loaded.note
        assert loaded.version == store.get(spec.name).version
