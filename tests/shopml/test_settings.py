"""Settings: defaults, environment prefix, TOML file, and no side effects."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopml.errors import ShopmlError
from shopml.settings import load_settings


def test_defaults_put_everything_in_the_data_home(settings):
    assert settings.tracking_uri == f"sqlite:///{(settings.data_home / 'mlflow.db').resolve()}"
    assert settings.features_dir == settings.data_home / "features"
    assert not settings.data_home.exists()  # reading settings creates nothing


def test_environment_overrides_toml_which_overrides_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shopml.toml").write_text('seed = 7\ndata_home = "from-toml"\n')
    assert load_settings().seed == 7 and load_settings().data_home == Path("from-toml")
    monkeypatch.setenv("SHOPML_SEED", "9")
    assert load_settings().seed == 9 and load_settings().data_home == Path("from-toml")


def test_invalid_values_and_unknown_keys_are_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPML_SERVE_PORT", "70000")
    with pytest.raises(ValueError, match="serve_port"):
        load_settings()
    monkeypatch.delenv("SHOPML_SERVE_PORT")
    (tmp_path / "shopml.toml").write_text("sede = 3\n")
    with pytest.raises(ValueError, match="sede"):
        load_settings()


def test_a_missing_config_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHOPML_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ShopmlError, match="nope.toml"):
        load_settings()
