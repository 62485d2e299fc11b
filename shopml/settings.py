"""One validated settings object for the whole product.

Values come, highest priority first, from keyword arguments, environment variables prefixed ``SHOPML_``
(``SHOPML_DATA_HOME``, ``SHOPML_SEED``, ...), a TOML file (``SHOPML_CONFIG`` or ``./shopml.toml`` when it
exists), and the defaults below. Nothing is read or created at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV_VAR = "SHOPML_CONFIG"
DEFAULT_CONFIG_FILE = Path("shopml.toml")


class ApiKeySetting(BaseModel):
    """One API key of the service: a name for logs, the SHA-256 hex digest of the key, and its roles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., min_length=1, max_length=100)
    sha256: str = Field(..., pattern=r"^[0-9a-f]{64}$", description="hashlib.sha256(key.encode()).hexdigest()")
    roles: tuple[Literal["storefront", "marketing", "logistics", "admin"], ...] = Field(..., min_length=1)


DEMO_API_KEYS: tuple[dict[str, object], ...] = (
    # SHA-256 of the documented demo keys "demo-<role>-key" (docs/serving.md); only hashes live in settings.
    {"name": "demo-storefront", "roles": ("storefront",),
     "sha256": "64084db3581b61a39984249dbe669dfb1233118846168bab3408cbe203ffa8de"},
    {"name": "demo-marketing", "roles": ("marketing",),
     "sha256": "166f95c5cd45515b971d5706eafcddb550de756192dac3ff0516fae5d879b7aa"},
    {"name": "demo-logistics", "roles": ("logistics",),
     "sha256": "db8136c3198a1289fa312e2818a7337016b7fab6b930929dc827339df769ff7f"},
    {"name": "demo-admin", "roles": ("admin",),
     "sha256": "ac5bb3526d3be432ba19fb1fc0712d350c160bd2169cd24401c9fcaeaac2d860"},
)


class RateLimitSetting(BaseModel):
    """A per-key token bucket: requests per second and burst (see serving.ratelimit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_second: float = Field(..., gt=0, le=1_000_000)
    burst: int = Field(..., ge=1, le=10_000_000)


DEFAULT_RATE_LIMITS: dict[str, RateLimitSetting] = {
    "storefront": RateLimitSetting(per_second=5000, burst=10_000),
    "marketing": RateLimitSetting(per_second=2000, burst=4000),
    "logistics": RateLimitSetting(per_second=200, burst=400),
    "admin": RateLimitSetting(per_second=500, burst=1000),
}
"""Per-key limits by role, per worker process: high enough for the benches (docs/security.md)."""


class Settings(BaseSettings):
    """Where shopml keeps its files, which MLflow it talks to, and how it seeds randomness."""

    model_config = SettingsConfigDict(env_prefix="SHOPML_", extra="forbid", validate_default=True)

    data_home: Path = Field(Path(".shopml"), description="Folder for data, features, models and reports.")
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; default: a SQLite database inside the data home."
    )
    seed: int = Field(42, ge=0, description="Seed for every random choice (generator, models, solvers).")
    engine: Literal["pandas", "spark"] = Field(
        "pandas", description="Engine of the batch commands (features build, score audiences, forecast): pandas "
        "in this process, or Apache Spark at ``spark_master`` (see docs/scale.md).",
    )
    spark_master: str = Field(
        "local[*]", min_length=1, description="Spark master of the spark engine: local[*], local[N], spark://HOST:PORT, "
        "yarn or k8s://https://HOST:PORT (under spark-submit, the master spark-submit was given wins).",
    )
    spark_partitions: int = Field(
        0, ge=0, le=100_000, description="Entity partitions (hash buckets of customer ids or SKUs) of a spark job; "
        "0 picks about one per 500,000 order lines, at least two per core.",
    )
    serve_host: str = Field("127.0.0.1", description="Interface the service binds to.")
    serve_port: int = Field(3000, ge=1, le=65535, description="Port the service listens on.")
    serve_workers: int = Field(1, ge=1, le=64, description="Service worker processes.")
    serve_threads: int = Field(4, ge=1, le=256, description="Threads per worker for blocking endpoints.")
    serve_api_keys: list[ApiKeySetting] = Field(
        default_factory=lambda: [ApiKeySetting(**key) for key in DEMO_API_KEYS],
        description="Bearer keys of the service, stored as SHA-256 hex digests with their roles; the default "
        "holds the demo keys (see docs/serving.md), replace them outside a demo.",
    )
    demo_mode: bool = Field(
        True, description="Accept the documented demo keys (demo-<role>-key, by their digests) wherever they are "
        "configured; set false outside a demo (the service warns when it serves beyond loopback with them).",
    )
    serve_rate_limits: dict[Literal["storefront", "marketing", "logistics", "admin"], RateLimitSetting] = Field(
        default_factory=dict, description="Per-key token buckets by role ({role: {per_second, burst}}, per worker "
        "process); roles not listed keep DEFAULT_RATE_LIMITS; a key with several roles gets the largest.",
    )
    privacy_secret: SecretStr | None = Field(
        None, description="Secret of the customer-id pseudonyms (at least 16 characters; env "
        "SHOPML_PRIVACY_SECRET). Default: the file privacy_secret_file, else <data_home>/secrets/pseudonyms.key, "
        "created on first use. Changing it is a procedure (docs/security.md, 'Rotating the secret').",
    )
    privacy_secret_file: Path | None = Field(
        None, description="File holding the pseudonym secret (e.g. a mounted secret), used when privacy_secret "
        "is not set.",
    )
    keys_rotation_grace_hours: float = Field(
        24.0, ge=0, le=24 * 365, description="How long the old key keeps working after `shopml keys rotate`.",
    )
    serve_max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576, description="Largest request body.")
    serve_poll_seconds: float = Field(
        0.0, ge=0, le=86_400, description="Poll the registry aliases this often and reload new champions (0: never)."
    )
    registry_timeout_seconds: int = Field(
        5, ge=1, le=600, description="Timeout of one call to a remote MLflow registry (connect or read)."
    )
    registry_retries: int = Field(1, ge=0, le=10, description="Retries of a failed call to a remote MLflow registry.")
    serve_load_wait_seconds: float = Field(
        10.0, gt=0, le=3600, description="How long start-up and reload wait for the registry before serving the "
        "last-good local copies (the registry load goes on in the background).",
    )
    serve_retry_seconds: float = Field(
        15.0, gt=0, le=3600, description="While a model is served from its local copy (or not loaded), retry the "
        "registry this often.",
    )
    serve_shutdown_seconds: float = Field(
        10.0, gt=0, le=600, description="Grace period after SIGTERM: requests in flight finish, then the process "
        "exits whatever is still running.",
    )
    prediction_log: bool = Field(
        True, description="Record every prediction the service answers under <data_home>/predictions (pseudonymous "
        "customer keys), for outcome tracking.",
    )
    prediction_log_days: int = Field(30, ge=1, le=3650, description="Days of prediction log kept.")
    prediction_log_buffer: int = Field(
        100_000, ge=1000, le=10_000_000, description="Records buffered between two writes (5 s); beyond it the "
        "oldest are dropped and counted, the request never waits.",
    )
    events_max_sessions: int = Field(
        100_000, ge=100, le=10_000_000, description="Sessions whose recent storefront events are kept in memory "
        "(least recently used beyond it are forgotten).",
    )
    events_per_session: int = Field(
        50, ge=1, le=1000, description="Most recent events kept per session (older ones are forgotten)."
    )
    events_window_seconds: float = Field(
        1800.0, gt=0, le=30 * 86_400, description="Events older than this no longer shape a session's "
        "recommendations.",
    )
    event_log: bool = Field(
        True, description="Append every storefront event to <data_home>/events (pseudonymous ids, the prediction "
        "log's key), for analysis and retraining.",
    )
    recommend_rules_path: Path | None = Field(
        None, description="Business rules of the recommendations (JSON, docs/recommend.md); default "
        "<data_home>/rules/recommend.json; no file: no rules.",
    )
    recommend_experiment_path: Path | None = Field(
        None, description="The recommender A/B test (JSON, docs/recommend.md): variants from the registry and their "
        "weights; default <data_home>/experiments/recommend.json; no file: the champion serves every request.",
    )
    recommend_refresh_seconds: float = Field(
        5.0, gt=0, le=3600, description="How often the service checks the rules file and the products and stock "
        "tables for changes and reloads them (off the request path).",
    )
    serve_heavy_workers: int = Field(
        1, ge=1, le=64, description="Processes for route plans and allocations (kept off the request threads)."
    )
    serve_heavy_queue: int = Field(
        4, ge=0, le=1000, description="Route plans and allocations that may wait for a busy solver process; "
        "beyond them the service answers 429 with Retry-After.",
    )

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
    def rules_path(self) -> Path:
        """The recommendation rules file (``recommend_rules_path`` or ``<data_home>/rules/recommend.json``)."""
        return self.recommend_rules_path or self.data_home / "rules" / "recommend.json"

    @property
    def experiment_path(self) -> Path:
        """The recommender experiment file (``recommend_experiment_path`` or
        ``<data_home>/experiments/recommend.json``)."""
        return self.recommend_experiment_path or self.data_home / "experiments" / "recommend.json"

    @property
    def keys_path(self) -> Path:
        """The managed API key store (``shopml keys``): ``<data_home>/keys.json``."""
        return self.data_home / "keys.json"

    def rate_limit(self, role: str) -> RateLimitSetting:
        """The per-key limit of ``role`` (``serve_rate_limits``, else the default)."""
        return self.serve_rate_limits.get(role) or DEFAULT_RATE_LIMITS[role]  # type: ignore[call-overload]

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
