"""Shared fixtures: an isolated data home per test, quiet MLflow/BentoML, and the optional shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.tracking_server import tracking_server  # noqa: F401  (the PostgreSQL-backed MLflow server fixture)

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

SHARED_DATA = Path(os.environ.get("SHOPML_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` beside the project; tests using it skip on a clone without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} does not exist (only in the shopml workplace)")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings whose data home (and SQLite MLflow store) live in a fresh temporary folder."""
    from shopml.settings import load_settings

    for key in list(os.environ):
        if key.startswith("SHOPML_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return load_settings(data_home=tmp_path / "home")
