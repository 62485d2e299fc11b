"""The audit trail: append-only, hash-chained records of who did what and when.

Every record is one line of canonical JSON (sorted keys, no spaces, UTF-8) in ``<data_home>/audit/audit.jsonl``::

    {"action":"keys.create","actor":"cli:alice","details":{"key_id":"k_1a2b3c4d5e6f","roles":["marketing"]},
     "prev":"<sha256 of the previous record's canonical JSON>","seq":7,"ts":"2026-12-06T14:50:01.123456Z"}

``prev`` of the first record is :data:`GENESIS`. Editing, deleting or reordering a record breaks the chain at
the next record; editing or deleting the *last* record is caught by the head file ``audit/head.json`` (the
sequence number and hash of the last record, rewritten with every append). :func:`verify` walks the chain and
names the first broken record. Someone who can rewrite both files can forge a consistent history: copy
``shopml audit verify --json``'s head hash somewhere they cannot write (docs/security.md).

Appends hold an exclusive ``fcntl`` lock on ``audit/audit.lock`` (so several processes, CLI and service
workers, interleave whole records and never fork the chain), write the record with one ``write`` on an
``O_APPEND`` descriptor and ``fsync`` it before the head is replaced. The actor is a key id (``k_...``, or a
configured key's name), ``cli:<os user>`` for the command line, never a key. Details hold counts, filters and
ids of models or keys, never customer ids.
"""

from __future__ import annotations

import errno
import fcntl
import getpass
import hashlib
import json
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopml.errors import ShopmlError

if TYPE_CHECKING:
    from shopml.settings import Settings

GENESIS = hashlib.sha256(b"shopml audit genesis v1").hexdigest()
"""``prev`` of the first record of every trail."""

AUDIT_DIR = "audit"
LOG_FILE = "audit.jsonl"
HEAD_FILE = "head.json"
LOCK_FILE = "audit.lock"


class AuditError(ShopmlError):
    """The audit trail cannot be written or read (a torn last line, a full disk, a missing folder)."""


def canonical(record: dict[str, Any]) -> str:
    """The canonical JSON of a record: sorted keys, no spaces, UTF-8 (the text that is hashed)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 hex digest of a record's canonical JSON; the next record's ``prev``."""
    return hashlib.sha256(canonical(record).encode("utf-8")).hexdigest()


def cli_actor() -> str:
    """``cli:<os user>``: the actor of a command-line action."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user database entry (containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def audit_dir(settings_or_root: Settings | Path | str | None) -> Path:
    """The audit folder of a data home (settings, or the data home path); None: the current settings'."""
    if settings_or_root is None:
        from shopml.settings import load_settings

        settings_or_root = load_settings()
    root = Path(settings_or_root) if isinstance(settings_or_root, str | os.PathLike) else settings_or_root.data_home
    return Path(root) / AUDIT_DIR


def now_iso() -> str:
    """The current UTC time as the trail writes it (ISO 8601, microseconds, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class AuditLog:
    """The trail in one folder: :meth:`append` records, :meth:`records` reads, :meth:`verify` checks."""

    folder: Path

    @classmethod
    def of(cls, settings_or_root: Settings | Path | str | None) -> AuditLog:
        return cls(audit_dir(settings_or_root))

    @property
    def path(self) -> Path:
        return self.folder / LOG_FILE

    @property
    def head_path(self) -> Path:
        return self.folder / HEAD_FILE

    def append(self, actor: str, action: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one record (under the lock, fsynced) and return it."""
        return self.append_many([(actor, action, details or {}, None)])[-1]

    def append_many(self, entries: list[tuple[str, str, dict[str, Any], str | None]]) -> list[dict[str, Any]]:
        """Append several ``(actor, action, details, ts)`` records with one lock, one write and one fsync."""
        if not entries:
            return []
        for actor, action, _, _ in entries:
            if not actor or not action:
                raise AuditError("an audit record needs an actor and an action")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with _locked(self.folder / LOCK_FILE):
                seq, prev = self._tail()
                written, lines = [], []
                for actor, action, details, ts in entries:
                    seq += 1
                    rec = {"seq": seq, "ts": ts or now_iso(), "actor": str(actor), "action": str(action),
                           "details": details, "prev": prev}
                    text = canonical(rec)
                    rec = json.loads(text)  # what a reader will see (details made JSON-safe)
                    prev = hashlib.sha256(text.encode("utf-8")).hexdigest()
                    lines.append(text + "\n")
                    written.append(rec)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    data = "".join(lines).encode("utf-8")
                    if os.write(fd, data) != len(data):
                        raise AuditError(f"short write to {self.path}: the disk may be full")
                    os.fsync(fd)
                finally:
                    os.close(fd)
                _write_head(self.head_path, seq, prev)
        except OSError as exc:
            raise AuditError(f"cannot write the audit trail in {self.folder}: {exc.strerror or exc}") from exc
        return written

    def _tail(self) -> tuple[int, str]:
        """(sequence number, hash) of the last record, or (0, GENESIS) for an empty trail."""
        last = _last_line(self.path)
        if last is None:
            return 0, GENESIS
        try:
            rec = json.loads(last)
            return int(rec["seq"]), record_hash(rec)
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"the last line of {self.path} is not a whole audit record (a torn write or an edit); "
                             "run `shopml audit verify` and repair the trail before recording more") from exc

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, oldest first (unverified: see :meth:`verify`)."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise AuditError(f"{self.path} line {number} is not JSON; run `shopml audit verify`") from exc

    def verify(self) -> Verification:
        """Walk the chain from the genesis; the first broken record, if any, is named."""
        if not self.path.exists():
            if self.head_path.exists():
                return Verification(False, 0, None, f"{self.path} is missing but its head file says records exist")
            return Verification(True, 0, None, "no audit records yet")
        prev, count, last_hash = GENESIS, 0, GENESIS
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                count = number
                try:
                    rec = json.loads(line)
                    seq, link = int(rec["seq"]), str(rec["prev"])
                except (ValueError, KeyError, TypeError):
                    return Verification(False, number - 1, number, f"line {number} is not an audit record")
                if link != prev:
                    before = (f"does not link to line {number - 1}: line {number - 1} was edited, or records were "
                              "deleted or reordered between them") if number > 1 else \
                        "does not link to the genesis: earlier records were deleted, or records were reordered"
                    return Verification(False, number - 1, number, f"record at line {number} (seq {seq}) {before}")
                if seq != number:
                    return Verification(False, number - 1, number, (
                        f"record at line {number} has seq {seq}, expected {number}: a record was deleted, "
                        "inserted or moved"))
                prev = last_hash = record_hash(rec)
        head = _read_head(self.head_path)
        if head is None:
            return Verification(False, count, None, f"the head file {self.head_path} is missing or unreadable: the "
                                                    "last record cannot be checked")
        head_seq, head_hash = head
        if head_seq > count:
            return Verification(False, count, count + 1, (
                f"the head says {head_seq} records, the trail holds {count}: the last "
                f"{head_seq - count} record(s) were deleted"))
        if head_seq == count and head_hash != last_hash:
            return Verification(False, count - 1, count, (
                f"record at line {count} (the last) does not match the head hash: it was edited"))
        if head_seq < count:
            seen = self._hash_at(head_seq)
            if seen != head_hash:
                return Verification(False, head_seq - 1, head_seq, (
                    f"record at line {head_seq} does not match the head hash: it was edited"))
            return Verification(True, count, None, f"{count} records, chain intact (the head lags by "
                                                   f"{count - head_seq}: an append was interrupted)", last_hash)
        return Verification(True, count, None, f"{count} records, chain intact", last_hash)

    def _hash_at(self, seq: int) -> str:
        if seq == 0:
            return GENESIS
        for rec in self.records():
            if rec.get("seq") == seq:
                return record_hash(rec)
        return ""


@dataclass(frozen=True)
class Verification:
    """The result of :meth:`AuditLog.verify`: ``ok``, how many records verified, the first broken line."""

    ok: bool
    verified: int
    broken_line: int | None
    message: str
    head: str | None = None

    def summary(self) -> str:
        return ("ok: " if self.ok else "BROKEN: ") + self.message

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "verified": self.verified, "broken_line": self.broken_line, "message": self.message,
                "head": self.head}


def record(settings_or_root: Settings | Path | str | None, actor: str, action: str, **details: Any) -> dict[str, Any]:
    """Append one record to the data home's trail (settings, data home path, or None for the current settings).

    ``actor`` is a key id or :func:`cli_actor`; ``details`` are JSON-safe facts (counts, filters, versions),
    never a key and never a customer id. Raises :class:`AuditError` when the trail cannot be written.
    """
    return AuditLog.of(settings_or_root).append(actor, action, details)


class BackgroundRecorder:
    """Records handed over without waiting (for request handlers): a thread appends them in batches.

    :meth:`record` only puts the record on a bounded queue (it never touches the disk); the thread appends what
    has queued with one lock, one write and one fsync per batch. :meth:`tally` is for frequent calls (customer
    scoring): it adds counts to an in-memory summary per (actor, action), written as one record per
    ``tally_seconds`` (``details``: ``calls``, the summed counts, ``since`` and ``until``), so a route answering a
    thousand calls a second adds one record a minute per key, not a thousand a second. A full queue drops the
    record and counts it (``dropped``); a trail that cannot be written is logged by the thread.
    """

    def __init__(self, folder: Path, max_queue: int = 10_000, tally_seconds: float = 60.0):
        self.folder = Path(folder)
        self.tally_seconds = float(tally_seconds)
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue = queue.Queue(max_queue)
        self._tallies: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._force = threading.Event()
        self._thread: threading.Thread | None = None
        os.register_at_fork(after_in_child=self._after_fork)  # a forked worker starts its own thread

    def _after_fork(self) -> None:
        self._thread = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings_or_root: Settings | Path | str | None, **options: Any) -> BackgroundRecorder:
        return cls(audit_dir(settings_or_root), **options)

    def record(self, actor: str, action: str, **details: Any) -> None:
        """Queue one record (returns at once)."""
        if self._thread is None:
            self._ensure_thread()
        try:
            self._queue.put_nowait((actor, action, details, now_iso()))
        except queue.Full:
            self.dropped += 1

    def tally(self, actor: str, action: str, **counts: int) -> None:
        """Count one call of ``action`` by ``actor`` (and add ``counts``) to the current summary record."""
        if self._thread is None:
            self._ensure_thread()
        with self._lock:
            entry = self._tallies.get((actor, action))
            if entry is None:
                entry = self._tallies[(actor, action)] = {"calls": 0, "since": now_iso()}
            entry["calls"] += 1
            for name, n in counts.items():
                entry[name] = entry.get(name, 0) + n

    def flush(self, timeout: float = 5.0) -> bool:
        """Write every queued record and the current summaries now (tests, shutdown); False on timeout."""
        import time

        self._ensure_thread()
        self._force.set()
        try:
            self._queue.put(None, timeout=timeout)  # wakes the thread
        except queue.Full:
            return False
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks or self._force.is_set():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="shopml-audit", daemon=True)
                self._thread.start()

    def _summaries(self) -> list[tuple[str, str, dict[str, Any], str | None]]:
        with self._lock:
            tallies, self._tallies = self._tallies, {}
        until = now_iso()
        return [(actor, action, {**entry, "until": until}, None) for (actor, action), entry in tallies.items()]

    def _run(self) -> None:
        import logging
        import time

        log = logging.getLogger(__name__)
        trail = AuditLog(self.folder)
        next_summary = time.monotonic() + self.tally_seconds
        while True:
            taken = 0
            batch: list[tuple[str, str, dict[str, Any], str | None]] = []
            try:
                item = self._queue.get(timeout=max(0.01, next_summary - time.monotonic()))
                taken += 1
                if item is not None:
                    batch.append(item)
                while len(batch) < 1000:
                    item = self._queue.get_nowait()
                    taken += 1
                    if item is not None:
                        batch.append(item)
            except queue.Empty:
                pass
            forced = self._force.is_set()
            if forced or time.monotonic() >= next_summary:
                batch += self._summaries()
                next_summary = time.monotonic() + self.tally_seconds
            try:
                if batch:
                    trail.append_many(batch)
                    self.written += len(batch)
            except Exception as exc:  # noqa: BLE001 - the thread must outlive a bad batch; the loss is logged
                self.dropped += len(batch)
                log.error("%d audit record(s) lost: %s", len(batch), exc)
            finally:
                for _ in range(taken):
                    self._queue.task_done()
                if forced:
                    self._force.clear()


class _locked:
    """An exclusive ``fcntl.flock`` on a lock file for the duration of a ``with`` block."""

    def __init__(self, path: Path):
        self.path = path
        self.fd = -1

    def __enter__(self) -> _locked:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
                return self
            except OSError as exc:  # EINTR on old kernels
                if exc.errno != errno.EINTR:
                    os.close(self.fd)
                    raise

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _last_line(path: Path) -> str | None:
    """The last line of a file, read from its end; None when the file is missing or empty."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return None
        block, data = 4096, b""
        pos = size
        while pos > 0:
            step = min(block, pos)
            pos -= step
            data = os.pread(fd, step, pos) + data
            if data.count(b"\n") >= 2 or pos == 0:
                break
        if not data.endswith(b"\n"):
            raise AuditError(f"the last line of {path} is incomplete (a torn write); run `shopml audit verify`")
        return data[:-1].rsplit(b"\n", 1)[-1].decode("utf-8")
    finally:
        os.close(fd)


def _write_head(path: Path, seq: int, digest: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        os.write(fd, json.dumps({"seq": seq, "sha256": digest}).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read_head(path: Path) -> tuple[int, str] | None:
    try:
        head = json.loads(path.read_text())
        return int(head["seq"]), str(head["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
