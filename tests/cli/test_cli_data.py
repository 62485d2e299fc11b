"""``shopml data generate --if-missing`` keeps loaded data, and every date the CLI computes features as of
(``features build --cutoff``, ``score audiences --as-of``, ``report customers --as-of``) is refused, with the
valid range, when it lies outside the data. Real subprocesses: real exit codes and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

SHOPML = [sys.executable, "-m", "cli"]
TINY = ["--customers", "150", "--products", "40", "--days", "200"]


def run(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env["SHOPML_DATA_HOME"] = str(home)
    return subprocess.run([*SHOPML, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    """A data home with a tiny generated shop (read only in these tests)."""
    root = tmp_path_factory.mktemp("shop")
    generated = run(["data", "generate", *TINY], root / "home", root)
    assert generated.returncode == 0, generated.stderr
    return root / "home"


def _manifest(home: Path) -> dict:
    return json.loads((home / "data" / "manifest.json").read_text())


def test_generate_if_missing_keeps_tables_already_there(shop: Path, tmp_path: Path):
    before = _manifest(shop)
    kept = run(["data", "generate", "--if-missing", "--customers", "90", "--seed", "3"], shop, tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert "nothing generated (--if-missing)" in " ".join(kept.stdout.split())
    assert _manifest(shop) == before  # not rewritten, not even with the same content


def test_generate_if_missing_generates_into_an_empty_data_home(tmp_path: Path):
    made = run(["data", "generate", "--if-missing", *TINY], tmp_path / "home", tmp_path)
    assert made.returncode == 0, made.stderr
    assert _manifest(tmp_path / "home")["tables"]["orders"]["rows"] > 0


def test_make_run_generates_only_if_missing():
    """``make run`` after ``shopml data load`` must serve the loaded data, not a fresh demo shop."""
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    run_target = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "data generate --if-missing" in run_target


@pytest.mark.parametrize("args", [
    ["features", "build", "--cutoff", "{date}"],
    ["score", "audiences", "--as-of", "{date}"],
    ["report", "customers", "--as-of", "{date}"],
])
def test_dates_after_the_data_are_refused_with_the_valid_range(shop: Path, tmp_path: Path, args: list[str]):
    """A future date used to pass and score every customer as lapsed; each command refuses it before any
    work (no champion is needed to see the error) and writes nothing. The boundaries are tested in
    tests/features/test_pipeline.py."""
    orders = pd.read_parquet(shop / "data" / "orders.parquet", columns=["ordered_at"])["ordered_at"]
    first, last = orders.min(), orders.max()
    result = run([a.format(date="2030-01-01") for a in args], shop, tmp_path)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"{args[2]} 2030-01-01 is after the last order" in err
    assert f"orders run from {first:%Y-%m-%d} to {last:%Y-%m-%d}" in err
    assert f"to {last.floor('D') + pd.Timedelta(days=1):%Y-%m-%d} (the day after the last order" in err
    assert not (shop / "features").exists() and not (shop / "reports").exists()
