"""Promotions in the audit trail: the automatic decision of ``register_and_promote`` and the manual
``set_champion``, with their reason, in the registry's data home."""

from __future__ import annotations

from types import SimpleNamespace

import mlflow

from shopml.audit import AuditLog
from training.registry import register_and_promote, set_champion


class FakeClient:
    """Just enough of an MlflowClient (a SQLite store inside ``home``) for the registry's decisions."""

    def __init__(self, home):
        self.tracking_uri = f"sqlite:///{home / 'mlflow.db'}"
        self.champion: str | None = None
        self.tags: dict[tuple[str, str], dict[str, str]] = {}

    def set_model_version_tag(self, name, version, key, value):
        self.tags.setdefault((name, str(version)), {})[key] = value

    def get_model_version_by_alias(self, name, alias):
        from mlflow.exceptions import MlflowException

        if self.champion is None:
            raise MlflowException("no alias")
        return SimpleNamespace(version=self.champion, tags=self.tags.get((name, self.champion), {}))

    def set_registered_model_alias(self, name, alias, version):
        self.champion = str(version)

    def set_tag(self, run_id, key, value):
        pass

    def get_model_version(self, name, version):
        return SimpleNamespace(version=version)


def test_promotions_are_recorded_with_their_reason(settings, monkeypatch):
    versions = iter(["1", "2"])
    monkeypatch.setattr(mlflow, "register_model", lambda uri, name: SimpleNamespace(version=next(versions)))
    client = FakeClient(settings.data_home)
    kwargs = dict(model_name="churn", model_uri="runs:/r/model", run_id="r", metric="auc", evaluation_key="e")
    register_and_promote(client, value=0.7, **kwargs)
    register_and_promote(client, value=0.6, **kwargs)  # worse: registered, not promoted
    assert set_champion(client, "churn", "2", "rollback drill") == "1"

    trail = AuditLog.of(settings)
    records = list(trail.records())
    assert [(r["action"], r["details"]["version"]) for r in records] == [
        ("model.promote", "1"), ("model.register", "2"), ("model.promote", "2")]
    assert records[0]["details"]["reason"] == "first version: no champion yet"
    assert "does not beat champion v1" in records[1]["details"]["reason"]
    assert records[2]["details"] == {"model": "churn", "version": "2", "promoted": True, "previous": "1",
                                     "reason": "rollback drill (set by hand)"}
    assert all(r["actor"].startswith("cli:") for r in records) and trail.verify().ok

    elsewhere = settings.data_home.parent / "elsewhere"
    set_champion(client, "churn", "1", "back", audit_to=elsewhere)  # a remote registry: the caller says where
    assert [r["details"]["version"] for r in AuditLog.of(elsewhere).records()] == ["1"]


def test_a_remote_registry_of_other_settings_is_not_guessed_at(settings, monkeypatch, caplog):
    monkeypatch.setenv("SHOPML_DATA_HOME", str(settings.data_home))
    client = FakeClient(settings.data_home)
    client.tracking_uri = "http://registry.example:5000"
    set_champion(client, "churn", "1", "drill")
    assert "not in the audit trail" in caplog.text and not AuditLog.of(settings).path.exists()
    monkeypatch.setenv("SHOPML_MLFLOW_TRACKING_URI", client.tracking_uri)  # the settings' own registry
    set_champion(client, "churn", "1", "drill")
    assert [r["action"] for r in AuditLog.of(settings).records()] == ["model.promote"]
