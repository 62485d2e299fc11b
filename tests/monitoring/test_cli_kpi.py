"""``shopml kpi report``: writes the HTML or JSON report, and refuses bad input with one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from features.store import save_tables


@pytest.fixture
def home(tiny_shop, tmp_path, monkeypatch) -> Path:
    for key in list(os.environ):
        if key.startswith("SHOPML_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPML_DATA_HOME", str(tmp_path / "home"))
    save_tables(tiny_shop.tables(), tmp_path / "home" / "data", source="test")
    return tmp_path / "home"


def shopml(args: list[str], monkeypatch) -> int:
    from cli import main

    monkeypatch.setattr(sys, "argv", ["shopml", *args])
    try:
        main()
    except SystemExit as exited:
        return exited.code or 0
    return 0


def test_report_writes_html_by_default_and_json_when_asked(home, monkeypatch, capsys):
    assert shopml(["kpi", "report", "--as-of", "2023-05-01", "--by", "country"], monkeypatch) == 0
    assert (home / "reports" / "kpis-2023-05-01.html").is_file()
    assert "Last complete week" in capsys.readouterr().out
    out = home.parent / "k.json"
    assert shopml(["kpi", "report", "--freq", "month", "-o", str(out)], monkeypatch) == 0
    assert json.loads(out.read_text())["freq"] == "month"


@pytest.mark.parametrize(("args", "message"), [
    (["--as-of", "2031-02-03"], "pick a --as-of from 2023-01-03 to 2023-05-31"),
    (["--as-of", "2022-12-01"], "before the first order"),
    (["--as-of", "soon"], "not a date"),
    (["-o", "report.pdf"], ".html or .json"),
])
def test_bad_input_is_one_line_and_exit_2(home, monkeypatch, capsys, args, message):
    assert shopml(["kpi", "report", *args], monkeypatch) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err
    assert not (home / "reports").exists()


def test_a_date_outside_the_data_in_a_real_process(home):
    env = {k: v for k, v in os.environ.items() if k != "SHOPML_DATA_HOME"} | {"SHOPML_DATA_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "cli", "kpi", "report", "--as-of", "2031-02-03"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=home.parent)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "the orders run from 2023-01-02 to 2023-05-30" in done.stderr
