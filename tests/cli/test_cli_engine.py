"""``--engine`` on the command line: a Spark feature build end to end in a subprocess, equal to the pandas build,
and every bad input of the Spark engine as one line on stderr, exit status 2, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

SHOPML = [sys.executable, "-m", "cli"]


def run(args: list[str], cwd: Path, **env: str | None) -> subprocess.CompletedProcess:
    """``shopml ARGS`` with the data home in ``cwd``; ``env`` sets (or, with None, removes) variables."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    environment |= {"SHOPML_DATA_HOME": str(cwd / "home"), "SHOPML_SPARK_MASTER": "local[2]",
                    "SHOPML_SPARK_PARTITIONS": "2"}
    for key, value in env.items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return subprocess.run([*SHOPML, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def shop_home(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("engine")
    generated = run(["data", "generate", "--customers", "150", "--products", "40", "--days", "200"], cwd)
    assert generated.returncode == 0, generated.stderr
    return cwd


def test_features_build_on_spark_writes_what_the_pandas_build_writes(shop_home: Path):
    cwd = shop_home
    orders = pd.read_parquet(cwd / "home" / "data" / "orders.parquet")
    cutoff = str((orders["ordered_at"].min() + pd.Timedelta(days=120)).date())
    on_spark = run(["features", "build", "--cutoff", cutoff, "--engine", "spark", "--out", "spark-features"], cwd)
    assert on_spark.returncode == 0, on_spark.stderr
    assert "Traceback" not in on_spark.stderr and "customers" in on_spark.stdout
    on_pandas = run(["features", "build", "--cutoff", cutoff], cwd)
    assert on_pandas.returncode == 0, on_pandas.stderr
    spark_dir = cwd / "spark-features" / f"cutoff={cutoff}"
    pandas_dir = cwd / "home" / "features" / f"cutoff={cutoff}"
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (spark_dir, pandas_dir)]
    for manifest in manifests:
        manifest.pop("built_at"), manifest.pop("engine")
    assert manifests[0] == manifests[1]
    for name in manifests[1]["tables"]:
        expected = pd.read_parquet(pandas_dir / f"{name}.parquet")
        keys = [c for c in ("customer_id", "sku", "region", "period_start") if c in expected.columns]
        got = pd.read_parquet(spark_dir / f"{name}.parquet").sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected.sort_values(keys).reset_index(drop=True), check_exact=True)


def one_line_error(code: int, stderr: str, expected: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], stderr
    return lines[0]


def in_process(args: list[str], cwd: Path, capsys, **env: str | None) -> tuple[int, str]:
    """``shopml ARGS`` through the console entry point in this process (its exit code and stderr): for the
    refusals that happen before Spark or a model is touched, without a process start each."""
    from cli import main

    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("SHOPML_")]:
            patch.delenv(key)
        patch.chdir(cwd)
        patch.setenv("SHOPML_DATA_HOME", str(cwd / "home"))
        for key, value in env.items():
            if value is None:
                patch.delenv(key, raising=False)
            else:
                patch.setenv(key, value)
        patch.setattr(sys, "argv", ["shopml", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main()
    return exited.value.code, capsys.readouterr().err


def test_no_java_is_one_line_with_exit_status_2_and_nothing_written(shop_home: Path, tmp_path: Path):
    result = run(["features", "build", "--engine", "spark", "--out", str(tmp_path / "out")], shop_home,
                 JAVA_HOME="/nonexistent")
    one_line_error(result.returncode, result.stderr, "JAVA_HOME=/nonexistent has no bin/java")
    assert not (tmp_path / "out").exists()


def test_an_unreachable_master_and_a_bad_lake_are_one_line_each(shop_home: Path, tmp_path: Path, capsys):
    other = tmp_path / "other-layout"
    other.mkdir()
    (other / "orders.csv").write_text("order_id,sku\n1,A\n")
    build = ["features", "build", "--engine", "spark", "--out", str(tmp_path / "out")]
    for env, extra, expected in (
        ({"JAVA_HOME": None, "PATH": str(tmp_path)}, [], "finds no java on PATH"),
        ({"SHOPML_SPARK_MASTER": "spark://127.0.0.1:9"}, [], "spark master spark://127.0.0.1:9 is unreachable"),
        ({"SHOPML_SPARK_MASTER": "spark-cluster"}, [], "is not one Spark knows"),
        ({}, ["--lake", str(tmp_path / "nowhere")], "does not exist"),
        ({}, ["--lake", str(other)], "holds another layout"),
    ):
        one_line_error(*in_process(build + extra, shop_home, capsys, **env), expected)
    # the engine from the environment, and the pandas engine's own limits
    one_line_error(*in_process(["features", "build", "--lake", str(other)], shop_home, capsys,
                               SHOPML_ENGINE="spark"), "another layout")
    one_line_error(*in_process(["features", "build", "--lake", "hdfs://namenode/lake"], shop_home,
                               capsys), "the pandas engine reads local")
    assert not (tmp_path / "out").exists()


def test_a_missing_champion_is_one_line_before_spark_starts(shop_home: Path, tmp_path: Path, capsys):
    out = tmp_path / "audience.parquet"
    result = run(["score", "audiences", "-o", str(out), "--engine", "spark"], shop_home, JAVA_HOME="/nonexistent")
    line = one_line_error(result.returncode, result.stderr, "model with alias 'champion'")
    assert "shopml train" in line and not out.exists()  # the registry is asked before Java is needed
    one_line_error(*in_process(["forecast", "--all-skus", "--engine", "spark"], shop_home, capsys,
                               JAVA_HOME="/nonexistent"), "no 'demand_forecast' model with alias 'champion'")
