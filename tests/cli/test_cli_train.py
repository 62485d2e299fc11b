"""``shopml train all`` runs every sub-command with that sub-command's own defaults."""

from __future__ import annotations

import functools

import click
import pytest
import typer
from typer.testing import CliRunner

import cli.train
from cli import app


def _click_defaults(name: str) -> dict[str, object]:
    """The defaults ``shopml train NAME`` gets with no options, as click parses them (not as ``all`` reads them)."""
    command = typer.main.get_command(cli.train.app).commands[name]
    with click.Context(command) as context:
        return {p.name: p.get_default(context) for p in command.params}


@pytest.mark.parametrize("force", [False, True])
def test_train_all_follows_each_sub_commands_defaults(monkeypatch, force):
    calls = []

    def recording(command):
        @functools.wraps(command)  # keeps the signature: `all` reads the defaults from it
        def record(**kwargs):
            calls.append((command.__name__, kwargs))

        return record

    monkeypatch.setattr(cli.train, "ALL_STEPS", tuple((label, recording(c)) for label, c in cli.train.ALL_STEPS))
    result = CliRunner().invoke(app, ["train", "all", *(["--force"] if force else [])])
    assert result.exit_code == 0, result.output

    names = {"train_customers": "customers", "train_recommender": "recommender", "train_forecast": "forecast"}
    assert [name for name, _ in calls] == list(names)
    for function, kwargs in calls:
        expected = {**_click_defaults(names[function]), "force": force, "if_missing": False}
        assert kwargs == expected, function


def test_a_changed_sub_command_default_reaches_train_all(monkeypatch):
    """The property above, shown directly: change a sub-command's default and `all` passes the new one."""
    seen = {}

    def train_forecast(origins: int = typer.Option(5), force: bool = False, if_missing: bool = False) -> None:
        seen.update(origins=origins, force=force)

    monkeypatch.setattr(cli.train, "ALL_STEPS", (("demand forecast", train_forecast),))
    assert CliRunner().invoke(app, ["train", "all", "--force"]).exit_code == 0
    assert seen == {"origins": 5, "force": True}


@pytest.mark.slow
def test_training_from_the_cli_keeps_mlflow_artifacts_in_the_data_home(tmp_path):
    """Issue 15: artifacts used to land in ``$PWD/mlruns``. tests/training/test_lifecycle.py checks the
    training lifecycle; this checks the whole command, from a working directory outside the data home."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env["SHOPML_DATA_HOME"] = str(tmp_path / "home")
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    for args in (["data", "generate", "--customers", "150", "--products", "40", "--days", "200"],
                 ["train", "recommender", "--no-ranker"]):
        done = subprocess.run([sys.executable, "-m", "cli", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    assert list(cwd.iterdir()) == []  # no mlruns/, nothing else either
    assert any((tmp_path / "home" / "mlartifacts").rglob("MLmodel"))
