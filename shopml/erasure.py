"""Erasing one customer from every file under a folder, whatever wrote it.

``shopml privacy erase`` knows the strings a customer is stored as (their pseudonym, the prediction log's key
of it, their real id in case some file holds it) and hands them to :func:`erase_files`, which walks the data
home and rewrites each file that holds one, by the file's kind:

* Parquet (canonical tables, the vault, features, score history, prediction and event logs): the rows with a
  string column equal to one of them are dropped;
* CSV: the lines holding one are dropped;
* JSON, HTML and other text (reports, MLflow input examples, manifests): each occurrence becomes ``[erased]``;
* ``.npz`` arrays (the recommender's precomputed lists): an id entry becomes ``""``, so no list can be
  found by it any more;
* anything else that holds one (a pickle, a database) cannot be rewritten safely: it is listed as a leftover,
  and the command says what to do (retrain, delete the old model versions).

Every rewrite goes to a temporary sibling renamed over the file, so a crash leaves either the old file or the
new one. The audit trail, the secrets and the tombstones are never touched (they hold no customer id).
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REDACTED = "[erased]"
TEXT_SUFFIXES = (".json", ".html", ".htm", ".txt", ".md", ".yaml", ".yml", ".jsonl", ".log", ".svg")


@dataclass
class ErasureReport:
    """What :func:`erase_files` did: files rewritten, rows or lines removed, occurrences redacted, leftovers."""

    scanned: int = 0
    rewritten: list[str] = field(default_factory=list)
    rows_removed: int = 0
    redacted: int = 0
    leftovers: list[str] = field(default_factory=list)


def erase_files(root: Path, needles: Iterable[str], *, skip: Iterable[Path] = ()) -> ErasureReport:
    """Remove every occurrence of ``needles`` from the files under ``root`` (except under ``skip``)."""
    wanted = sorted({n for n in needles if n}, key=len, reverse=True)
    skipped = [Path(p).resolve() for p in skip]
    report = ErasureReport()
    raw_needles = [n.encode("utf-8") for n in wanted]
    wide_needles = [n.encode("utf-32-le") for n in wanted]  # numpy's unicode arrays
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file() or path.is_symlink() or any(path.resolve().is_relative_to(s) for s in skipped):
            continue
        report.scanned += 1
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            _erase_parquet(path, wanted, report)
            continue
        data = path.read_bytes()
        if suffix == ".npz":
            _erase_npz(path, data, wanted, report)
            continue
        if not any(n in data for n in raw_needles + wide_needles):
            continue
        if suffix == ".csv":
            lines = data.decode("utf-8", "replace").splitlines(keepends=True)
            kept = [line for line in lines if not any(n in line for n in wanted)]
            report.rows_removed += len(lines) - len(kept)
            _replace(path, "".join(kept).encode("utf-8"))
            report.rewritten.append(str(path))
        elif suffix in TEXT_SUFFIXES or path.name == "MLmodel":
            text = data.decode("utf-8", "replace")
            for needle in wanted:
                report.redacted += text.count(needle)
                text = text.replace(needle, REDACTED)
            _replace(path, text.encode("utf-8"))
            report.rewritten.append(str(path))
        else:
            report.leftovers.append(str(path))
    return report


def _erase_parquet(path: Path, wanted: list[str], report: ErasureReport) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception:  # noqa: BLE001 - not readable as Parquet: judged by its bytes
        if any(n.encode() in path.read_bytes() for n in wanted):
            report.leftovers.append(str(path))
        return
    needles = pa.array(wanted, pa.string())
    hit = None
    for name in table.column_names:
        column = table[name]
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        mask = pc.fill_null(pc.is_in(column, value_set=needles), False)
        hit = mask if hit is None else pc.or_(hit, mask)
    if hit is None or not pc.any(hit).as_py():
        return
    kept = table.filter(pc.invert(hit))
    report.rows_removed += table.num_rows - kept.num_rows
    buffer = io.BytesIO()
    pq.write_table(kept, buffer)
    _replace(path, buffer.getvalue())
    report.rewritten.append(str(path))


def _erase_npz(path: Path, data: bytes, wanted: list[str], report: ErasureReport) -> None:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except (ValueError, OSError, zipfile.BadZipFile):
        report.leftovers.append(str(path))
        return
    changed = False
    for name, values in arrays.items():
        if values.dtype.kind == "U":
            hit = np.isin(values, wanted)
            if hit.any():
                values = values.copy()
                values[hit] = ""
                arrays[name] = values
                report.redacted += int(hit.sum())
                changed = True
    if changed:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        _replace(path, buffer.getvalue())
        report.rewritten.append(str(path))


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.erasing")
    tmp.write_bytes(data)
    os.replace(tmp, path)
