"""One validated settings object for the whole product.

Values come, highest priority first, from keyword arguments, environment variables prefixed ``SHOPML_``
(``SHOPML_DATA_HOME``, ``SHOPML_SEED``, ...), a TOML file (``SHOPML_CONFIG`` or ``./shopml.toml`` when it
exists), and the defaults below. Nothing is read or created at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV_VAR = "SHOPML_CONFIG"
DEFAULT_CONFIG_FILE = Path("shopml.toml")


class Settings(BaseSettings):
    """Where shopml keeps its files, which MLflow it talks to, and how it seeds randomness."""

    model_config = SettingsConfigDict(env_prefix="SHOPML_", extra="forbid", validate_default=True)

    data_home: Path = Field(Path(".shopml"), description="Folder for data, features, models and reports.")
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; default: a SQLite database inside the data home."
    )
    seed: int = Field(42, ge=0, description="Seed for every random choice (generator, models, solvers).")
    serve_host: str = Field("127.0.0.1", description="Interface the service binds to.")
    serve_port: int = Field(3000, ge=1, le=65535, description="Port the service listens on.")
    serve_workers: int = Field(1, ge=1, le=64, description="Service worker processes.")

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI in use (the SQLite default is inside the data home)."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.data_home / 'mlflow.db').resolve()}"

    @property
    def raw_dir(self) -> Path:
        """Canonical tables written by ``shopml data generate`` and ``shopml data load``."""
        return self.data_home / "data"

    @property
    def features_dir(self) -> Path:
        """Feature tables and their manifests."""
        return self.data_home / "features"

    @property
    def reports_dir(self) -> Path:
        """HTML reports and plots for people to look at."""
        return self.data_home / "reports"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


def _config_file() -> Path | None:
    explicit = os.environ.get(CONFIG_ENV_VAR)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            from shopml.errors import ShopmlError

            raise ShopmlError(f"{CONFIG_ENV_VAR}={explicit} does not name a file; unset it or point it at a TOML file.")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(**overrides: object) -> Settings:
    """Read the settings from overrides, the environment and the optional TOML file."""
    return Settings(**overrides)
