"""``shopml data generate --order-lines N``: the chunked shop lands where the pipeline reads it (``features build``
runs on it, in real subprocesses), ``--out`` takes a folder of its own, and bad input is one line, exit status 2,
nothing written. The other cases run the console script's ``main`` in-process (same exit codes and stderr,
without two seconds of start-up each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SHOPML = [sys.executable, "-m", "cli"]
SMALL = ["--products", "60", "--days", "200"]


def run(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPML_")}
    env["SHOPML_DATA_HOME"] = str(home)
    return subprocess.run([*SHOPML, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_generated_into_the_data_home_feeds_features_build(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = run(["data", "generate", "--order-lines", "8000", "--chunk-customers", "1000", *SMALL], home, tmp_path)
    assert made.returncode == 0, made.stderr
    manifest = json.loads((home / "data" / "manifest.json").read_text())
    assert abs(manifest["tables"]["orders"]["rows"] - 8_000) < 400
    assert manifest["generator"]["order_lines_requested"] == 8_000
    built = run(["features", "build"], home, tmp_path)
    assert built.returncode == 0, built.stderr
    assert (home / "features").is_dir()


@pytest.fixture
def shopml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """``shopml ARGS`` through the console script's ``main`` in ``tmp_path``: (exit status, stdout, stderr)."""
    from cli import main

    for key in list(os.environ):
        if key.startswith("SHOPML_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("SHOPML_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)

    def call(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["shopml", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_out_names_the_folder_and_the_chunk_size_does_not_matter(shopml, tmp_path: Path) -> None:
    code, _, err = shopml("data", "generate", "--order-lines", "3000", "--out", "lake", *SMALL)
    assert code == 0, err
    before = json.loads((tmp_path / "lake" / "manifest.json").read_text())["tables"]
    code, out, err = shopml("data", "generate", "--order-lines", "3000", "--out", "lake", *SMALL,
                            "--chunk-customers", "2000")
    assert code == 0, err
    assert "order lines written to lake" in " ".join(out.split())
    assert json.loads((tmp_path / "lake" / "manifest.json").read_text())["tables"] == before
    # --out: no tables in the data home, only the secret the lake's customer ids are pseudonymised under
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "lake"]
    assert [p.name for p in (tmp_path / "home").iterdir()] == ["secrets"]
    assert json.loads((tmp_path / "lake" / "manifest.json").read_text())["identities"]["pseudonymised"] is True


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--order-lines", "0"], "order_lines=0 is out of range"),
        (["--order-lines", "100", "--out", "a-file"], "is a file"),
        (["--order-lines", "100", "--out", "a-file/tables"], "cannot be created"),
        (["--order-lines", "100", "--customers", "50"], "give one of them"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(shopml, tmp_path: Path, args: list[str], says: str) -> None:
    (tmp_path / "a-file").write_text("mine")
    code, out, err = shopml("data", "generate", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error:") and says in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
    assert (tmp_path / "a-file").read_text() == "mine"
