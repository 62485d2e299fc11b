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


def test_error_messages_keep_their_bracketed_examples(tmp_path: Path):
    """Rich markup must not eat ``[...]`` in a message: the CDNOW error's examples reach the user intact."""
    bad = tmp_path / "cdnow.txt"
    bad.write_text("customer date cds dollars\n00001 19970101 1 11.77\n00002 1997x112 1 12.00\n")
    result = run(["data", "load", str(bad), "--format", "cdnow"], tmp_path)
    assert result.returncode == 2
    assert "line 3 ('1997x112')" in " ".join(result.stderr.split()), result.stderr


def test_bad_option_values_are_usage_errors(tmp_path: Path):
    result = run(["features", "build", "--horizon", "0"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def exit_code_of(command, monkeypatch) -> int:
    """Register ``command`` for one call, run the console entry point on it, and return its exit code."""
    import pytest

    from cli import app, main

    app.command("temporary-command")(command)
    monkeypatch.setattr(sys, "argv", ["shopml", "temporary-command"])
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        app.registered_commands.pop()
    return exited.value.code


def test_exit_codes_from_commands_survive_the_entry_point(monkeypatch):
    """A command ending with ``typer.Exit(3)`` must exit 3 (click returns it instead of raising)."""
    import typer

    def exit_three() -> None:
        raise typer.Exit(3)

    assert exit_code_of(exit_three, monkeypatch) == 3


def test_error_text_is_printed_verbatim(monkeypatch, capsys):
    """A message with ``[...]`` (example rows, lists of names) is not read as Rich markup and swallowed."""
    from shopml.errors import ShopmlError

    def fail() -> None:
        raise ShopmlError("bad rows [np.int64(3)] in [customer_id]")

    assert exit_code_of(fail, monkeypatch) == 2
    assert "bad rows [np.int64(3)] in [customer_id]" in capsys.readouterr().err


def test_running_out_of_memory_is_one_line_pointing_at_spark(monkeypatch, capsys):
    """pandas' engine at 50M lines dies in pyarrow (``ArrowMemoryError``); the user gets the way out, not a
    traceback."""
    import pyarrow.lib

    def fail() -> None:
        raise pyarrow.lib.ArrowMemoryError("malloc of size 4194304 failed")

    assert exit_code_of(fail, monkeypatch) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "out of memory (malloc of size 4194304 failed)" in err
    assert "--engine spark" in err
    assert "Traceback" not in err
