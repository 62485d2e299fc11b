"""Scanning files for real customer ids: the check that pseudonymisation left none behind.

Every file under the given folders is read the way its format stores text, so that no encoding hides an id:
Parquet through its string columns and metadata (its pages are compressed), ``.npz``, ``.zip`` and ``.gz``
through their members, and everything else (JSON, HTML, CSV, pickles, SQLite, model files) as bytes, in UTF-8
and in the UTF-32 numpy uses for its string arrays. Text is cut into runs of letters, digits and the
characters ids are made of, and each run is looked up in the set of ids, so the cost is one pass per file
whatever the number of ids (and an id inside a longer run, ``ab-1234`` when looking for ``ab-123``, is not a hit).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import re
import string
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ScanReport:
    """Files read, ids searched for, and every (file, id) found."""

    files_scanned: int = 0
    ids_searched: int = 0
    hits: list[tuple[str, str]] = field(default_factory=list)

    @property
    def raw_ids_found(self) -> int:
        """Distinct ids found anywhere."""
        return len({i for _, i in self.hits})

    def as_dict(self) -> dict[str, object]:
        return {"files_scanned": self.files_scanned, "ids_searched": self.ids_searched,
                "raw_ids_found": self.raw_ids_found, "files_with_ids": sorted({f for f, _ in self.hits})}


class IdScanner:
    """Finds any of ``ids`` in files (see the module docstring for how each format is read)."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.ids = frozenset(str(i) for i in ids if i)
        chars = sorted({c for i in self.ids for c in i} | set(string.ascii_letters + string.digits))
        cls = "".join(re.escape(c) for c in chars) or "x"
        self._narrow = re.compile(f"[{cls}]+".encode())
        self._wide = re.compile(b"(?:(?:" + b"|".join(re.escape(c.encode("utf-32-le")) for c in chars)
                                + b"))+") if chars else re.compile(b"(?!)")

    def scan(self, roots: Iterable[Path], skip: Iterable[Path] = ()) -> ScanReport:
        skipped = [Path(p).resolve() for p in skip]
        report = ScanReport(ids_searched=len(self.ids))
        for root in roots:
            root = Path(root)
            paths = [root] if root.is_file() else sorted(root.rglob("*"))
            for path in paths:
                if not path.is_file() or any(path.resolve().is_relative_to(s) for s in skipped):
                    continue
                report.files_scanned += 1
                for found in sorted(self.ids_in_file(path)):
                    report.hits.append((str(path), found))
        return report

    def ids_in_file(self, path: Path) -> set[str]:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            text = _parquet_text(path)
            if text is not None:
                return self.ids_in_text(text)
        return self.ids_in_bytes(path.read_bytes(), suffix)

    def ids_in_bytes(self, data: bytes, suffix: str = "") -> set[str]:
        found = self.ids_in_text(data)
        for run in self._wide.findall(data):
            found |= self.ids_in_text(run.decode("utf-32-le", "ignore").encode())
        if data[:4] == b"PK\x03\x04":
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    for name in archive.namelist():
                        found |= self.ids_in_bytes(archive.read(name))
            except (zipfile.BadZipFile, OSError, EOFError):
                pass
        elif data[:2] == b"\x1f\x8b":
            with contextlib.suppress(OSError, EOFError):
                found |= self.ids_in_bytes(gzip.decompress(data))
        elif data[:4] == b"PAR1":
            text = _parquet_text(io.BytesIO(data))
            if text is not None:
                found |= self.ids_in_text(text)
        return found

    def ids_in_text(self, data: bytes) -> set[str]:
        ids = self.ids
        return {run.decode() for run in self._narrow.findall(data) if run.decode("utf-8", "ignore") in ids}


def _parquet_text(source) -> bytes | None:  # noqa: ANN001 - a path or a file object
    """The schema, metadata and every string value of a Parquet file as text (None when it is not Parquet)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(source)
    except Exception:  # noqa: BLE001 - not Parquet after all: scanned as bytes
        return None
    parts = [str(table.schema).encode("utf-8", "ignore")]
    for name in table.column_names:
        column = table[name]
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            values = column.unique().drop_null().to_pylist()
            parts.append("\n".join(values).encode("utf-8", "ignore"))
        elif pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            parts.extend(v for v in column.drop_null().to_pylist())
        elif pa.types.is_list(column.type) or pa.types.is_struct(column.type):
            parts.append(str(column.to_pylist()).encode("utf-8", "ignore"))
    return b"\n".join(parts)
