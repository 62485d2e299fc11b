"""The CLI end to end in a subprocess: real exit codes, one-line errors, and the demo pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

SHOPML = [sys.executable, "-m", "cli"]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env["SHOPML_DATA_HOME"] = str(cwd / "home")
    return subprocess.run([*SHOPML, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_generate_then_build_features(tmp_path: Path):
    generated = run(["data", "generate", "--customers", "150", "--products", "40", "--days", "200"], tmp_path)
    assert generated.returncode == 0, generated.stderr
    orders = pd.read_parquet(tmp_path / "home" / "data" / "orders.parquet")
    assert orders["customer_id"].dropna().nunique() <= 150
    built = run(["features", "build", "--cutoff", str((orders["ordered_at"].min() + pd.Timedelta(days=120)).date())], tmp_path)
    assert built.returncode == 0, built.stderr
    assert "customers" in built.stdout
    assert len(list((tmp_path / "home" / "features").glob("cutoff=*/customers.parquet"))) == 1


def test_user_mistakes_exit_2_with_one_line_and_no_traceback(tmp_path: Path):
    for args, expected in (
        (["features", "build"], "shopml data generate"),
        (["data", "load", str(tmp_path / "missing.csv")], "No such file"),
        (["data", "load", str(tmp_path), "--format", "xlsx"], "--format must be one of"),
    ):
        result = run(args, tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr and "Traceback" not in result.stderr


def test_bad_option_values_are_usage_errors(tmp_path: Path):
    result = run(["features", "build", "--horizon", "0"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_exit_codes_from_commands_survive_the_entry_point(monkeypatch):
    """A command ending with ``typer.Exit(3)`` must exit 3 (click returns it instead of raising)."""
    import pytest
    import typer

    from cli import app, main

    @app.command("exit-three")
    def _exit_three() -> None:
        raise typer.Exit(3)

    monkeypatch.setattr(sys, "argv", ["shopml", "exit-three"])
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        app.registered_commands.pop()
    assert exited.value.code == 3
