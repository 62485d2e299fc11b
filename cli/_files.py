"""Input files named on the command line, read once and explained when they cannot be.

A file a user names (a route request, an experiment spec, a table of rows) fails in a handful of ways that are
all the user's to fix: it is missing, a folder, not readable, not UTF-8, not JSON, not a table. Each becomes a
:class:`InputFileError` (exit status 2, one line naming the file and the fix) here, in one place, instead of a
traceback from whichever library met it first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from shopml.errors import DataValidationError


class InputFileError(DataValidationError):
    """A file named on the command line cannot be used; the message names it and the fix."""


def check_readable(path: Path, what: str = "file") -> Path:
    """``path`` when it is an existing, readable file; else :class:`InputFileError` saying which and how to fix."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{what} {path}: no such file; check the path (relative to {Path.cwd()}).")
    if path.is_dir():
        raise InputFileError(f"{what} {path}: is a folder, not a file; name the file inside it.")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{what} {path}: not readable (permission denied); fix its permissions (chmod u+r).")
    return path


def read_json(path: Path, what: str = "request") -> dict:
    """The JSON object in ``path`` (UTF-8); one-line errors for every way the file can be unusable."""
    path = check_readable(path, what)
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a UTF-8 byte-order mark (Windows editors) is fine
    except PermissionError as exc:
        raise InputFileError(f"{what} {path}: not readable ({exc.strerror}); fix its permissions.") from exc
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc, "save it as UTF-8 JSON", what) from exc
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"{what} {path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); fix the file."
        ) from exc
    if not isinstance(payload, dict):
        raise InputFileError(
            f"{what} {path}: holds a JSON {type(payload).__name__}, not an object; wrap it in {{...}} with the "
            "documented fields."
        )
    return payload


def not_utf8(path: Path, exc: UnicodeDecodeError, fix: str, what: str = "file") -> InputFileError:
    """The error for a file that is not UTF-8: where the first bad byte is, and ``fix``."""
    return InputFileError(f"{what} {path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                          f"{exc.start}); {fix}.")


def check_parquet(path: Path, what: str = "table") -> Path:
    """``path`` when it is a readable Parquet file (its footer parses); else a one-line :class:`InputFileError`.

    Only the footer is read, so a large file costs nothing here; the caller reads the rows.
    """
    import pyarrow.lib
    import pyarrow.parquet as pq

    path = check_readable(path, what)
    try:
        pq.read_metadata(path)
    except (pyarrow.lib.ArrowException, OSError) as exc:
        raise InputFileError(f"{what} {path}: not a Parquet file ({exc}); write it with DataFrame.to_parquet.") from exc
    return path
