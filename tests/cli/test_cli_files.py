"""Files named on the command line: every way one can be unusable is one line naming the file and the fix,
exit status 2, no traceback, and every command that reads a request or spec goes through the same helper."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from cli import main
from cli._files import InputFileError, check_parquet, read_json

NOT_UTF8 = b'{"name": "caf\xe9"}'  # Latin-1, as a spreadsheet on Windows saves it


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """One unusable file per failure, with the words its error must contain."""
    (tmp_path / "latin1.json").write_bytes(NOT_UTF8)
    (tmp_path / "broken.json").write_text('{"stops": [1, 2,,]}')
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "folder.json").mkdir()
    return {
        "missing": (tmp_path / "missing.json", "no such file; check the path"),
        "folder": (tmp_path / "folder.json", "is a folder, not a file"),
        "not UTF-8": (tmp_path / "latin1.json", "not UTF-8 text (byte 0xe9 at offset 13); save it as UTF-8"),
        "not JSON": (tmp_path / "broken.json", "not valid JSON (Expecting value at line 1, column 17); fix the file"),
        "not an object": (tmp_path / "list.json", "holds a JSON list, not an object"),
    }


def test_read_json_explains_each_failure(tmp_path: Path):
    for failure, (path, expected) in bad_files(tmp_path).items():
        with pytest.raises(InputFileError) as raised:
            read_json(path, "route request")
        assert str(raised.value).startswith(f"route request {path}: "), failure
        assert expected in str(raised.value), (failure, str(raised.value))


def test_read_json_reads_utf8_with_or_without_a_byte_order_mark(tmp_path: Path):
    (tmp_path / "bom.json").write_bytes('\ufeff{"name": "café"}'.encode())
    assert read_json(tmp_path / "bom.json") == {"name": "café"}


def test_an_unreadable_file_says_so(tmp_path: Path, monkeypatch):
    """Simulated: the tests may run as root, who reads a chmod 000 file anyway."""
    import cli._files

    (tmp_path / "secret.json").write_text("{}")
    monkeypatch.setattr(cli._files.os, "access", lambda path, mode: False)
    with pytest.raises(InputFileError, match=r"secret.json: not readable \(permission denied\); fix its permissions"):
        read_json(tmp_path / "secret.json")


def test_check_parquet_refuses_files_that_are_not_tables(tmp_path: Path):
    (tmp_path / "rows.parquet").write_text("unit_id,variant\n1,a\n")
    with pytest.raises(InputFileError, match=r"--raw .*rows.parquet: not a Parquet file .*DataFrame.to_parquet"):
        check_parquet(tmp_path / "rows.parquet", "--raw")
    pd.DataFrame({"unit_id": ["1"]}).to_parquet(tmp_path / "good.parquet")
    assert check_parquet(tmp_path / "good.parquet") == tmp_path / "good.parquet"


def exit_of(args: list[str], monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["shopml", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    return exited.value.code, capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["plan", "routes"], ["plan", "allocate"], ["plan", "replenish"], ["experiment", "evaluate"],
    ["experiment", "monitor", "--raw", "rows.parquet"],
])
def test_every_command_reading_a_request_turns_a_bad_file_into_one_line(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for failure, (path, expected) in bad_files(tmp_path).items():
        code, err = exit_of([*command[:2], str(path), *command[2:]], monkeypatch, capsys)
        assert code == 2, (command, failure, err)
        assert expected in err and str(path) in err, (command, failure, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("command", [
    ["experiment", "evaluate", "{spec}", "--raw", "{rows}"],
    ["experiment", "monitor", "{spec}", "--raw", "{rows}"],
    ["experiment", "cupac", "{rows}", "-o", "out.parquet", "--features", "{spec}"],
    ["score", "audiences", "--features", "{rows}"],
])
def test_tables_that_are_not_parquet_are_one_line(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    spec = examples / "experiment_checkout.json"
    (tmp_path / "rows.parquet").write_text("unit_id,variant\n1,a\n")
    code, err = exit_of([a.format(spec=spec, rows=tmp_path / "rows.parquet") for a in command], monkeypatch, capsys)
    assert code == 2 and "rows.parquet: not a Parquet file" in err and "Traceback" not in err, err


def test_data_load_of_a_csv_that_is_not_utf8_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHOPML_DATA_HOME", str(tmp_path / "home"))
    (tmp_path / "orders.csv").write_bytes(b"InvoiceNo,Description\n536365,CR\xc8ME BRUL\xc9E\n")
    code, err = exit_of(["data", "load", str(tmp_path / "orders.csv")], monkeypatch, capsys)
    assert code == 2 and "orders.csv: not UTF-8 text" in err and "re-save it as UTF-8" in err, err
    assert "Traceback" not in err
