"""The audit trail: a hash chain from a fixed genesis that names the first edited, deleted or reordered record,
and stays one valid chain when several processes append at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shopml.audit import (
    GENESIS,
    AuditError,
    AuditLog,
    BackgroundRecorder,
    canonical,
    cli_actor,
    record,
    record_hash,
)

ROOT = Path(__file__).resolve().parents[2]


def _trail(tmp_path: Path, n: int = 5) -> AuditLog:
    trail = AuditLog.of(tmp_path / "home")
    for i in range(n):
        trail.append("cli:tester", "keys.create", {"key_id": f"k_{i}", "roles": ["marketing"]})
    return trail


def _lines(trail: AuditLog) -> list[str]:
    return trail.path.read_text().splitlines(keepends=True)


def test_records_chain_from_the_genesis(tmp_path):
    trail = _trail(tmp_path, 3)
    records = list(trail.records())
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == GENESIS
    for before, after in zip(records, records[1:], strict=False):
        assert after["prev"] == record_hash(before)
    assert _lines(trail)[0] == canonical(records[0]) + "\n"  # stored as canonical JSON, one record a line
    result = trail.verify()
    assert result.ok and result.verified == 3 and result.head == record_hash(records[-1])


def test_record_takes_a_data_home_or_settings(tmp_path, settings):
    rec = record(settings, "k_abc", "audience.export", rows=12, filter={"segments": ["at_risk"]})
    assert rec["actor"] == "k_abc" and rec["details"] == {"rows": 12, "filter": {"segments": ["at_risk"]}}
    assert (settings.data_home / "audit" / "audit.jsonl").is_file()
    record(tmp_path / "other", "cli:x", "model.promote", model="churn")
    assert AuditLog.of(tmp_path / "other").verify().ok


def test_cli_actor_names_the_os_user():
    assert cli_actor().startswith("cli:") and len(cli_actor()) > 4


def test_an_empty_trail_verifies(tmp_path):
    assert AuditLog.of(tmp_path).verify().ok


@pytest.mark.parametrize(
    ("tamper", "broken_line", "words"),
    [
        ("edit_middle", 4, "does not link"),
        ("edit_last", 5, "edited"),
        ("delete_middle", 3, "does not link"),
        ("delete_last", 5, "deleted"),
        ("delete_first", 1, "does not link"),
        ("swap", 2, "does not link"),
        ("drop_head", None, "head file"),
    ],
)
def test_tampering_is_detected_and_the_first_broken_record_named(tmp_path, tamper, broken_line, words):
    trail = _trail(tmp_path, 5)
    lines = _lines(trail)
    if tamper == "edit_middle":  # a different actor in record 3: record 4 no longer links
        lines[2] = lines[2].replace("cli:tester", "cli:someone")
    elif tamper == "edit_last":
        lines[4] = lines[4].replace("k_4", "k_9")
    elif tamper == "delete_middle":
        del lines[2]
    elif tamper == "delete_last":
        del lines[4]
    elif tamper == "delete_first":
        del lines[0]
    elif tamper == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    elif tamper == "drop_head":
        trail.head_path.unlink()
    trail.path.write_text("".join(lines))
    result = trail.verify()
    assert not result.ok
    assert result.broken_line == broken_line, result.message
    assert words in result.message


def test_an_edit_that_keeps_the_json_valid_but_changes_seq_is_caught(tmp_path):
    trail = _trail(tmp_path, 3)
    lines = _lines(trail)
    rec = json.loads(lines[2])
    rec["seq"] = 7
    lines[2] = canonical(rec) + "\n"
    trail.path.write_text("".join(lines))
    result = trail.verify()
    assert not result.ok and result.broken_line == 3


def test_a_torn_last_line_stops_appends_until_repaired(tmp_path):
    trail = _trail(tmp_path, 2)
    with trail.path.open("a") as out:
        out.write('{"seq":3,"ts"')
    with pytest.raises(AuditError, match="incomplete"):
        trail.append("cli:x", "keys.revoke")
    assert not trail.verify().ok


def test_details_are_json_safe(tmp_path):
    rec = AuditLog.of(tmp_path).append("cli:x", "audience.export", {"path": Path("/tmp/a.csv"), "rows": 3})
    assert rec["details"]["path"] == "/tmp/a.csv"


def test_background_recorder_appends_in_batches_without_waiting(tmp_path):
    recorder = BackgroundRecorder.of(tmp_path)
    for i in range(50):
        recorder.record("k_front", "customers.score", customers=i)
    assert recorder.flush()
    trail = AuditLog.of(tmp_path)
    assert [r["details"]["customers"] for r in trail.records()] == list(range(50))
    assert trail.verify().ok and recorder.written == 50 and recorder.dropped == 0


def test_tally_summarises_frequent_calls_in_one_record_per_key(tmp_path):
    recorder = BackgroundRecorder.of(tmp_path, tally_seconds=3600)
    for n in (10, 5, 1):
        recorder.tally("k_crm", "customers.score", customers=n, unknown=1)
    recorder.tally("k_other", "customers.score", customers=2, unknown=0)
    assert recorder.flush()
    records = {r["actor"]: r for r in AuditLog.of(tmp_path).records()}
    assert set(records) == {"k_crm", "k_other"}
    crm = records["k_crm"]["details"]
    assert crm["calls"] == 3 and crm["customers"] == 16 and crm["unknown"] == 3 and crm["since"] <= crm["until"]
    assert recorder.flush() and len(list(AuditLog.of(tmp_path).records())) == 2  # nothing new: no record


APPENDER = """
import sys
from shopml.audit import AuditLog
trail = AuditLog.of(sys.argv[1])
for i in range(int(sys.argv[3])):
    trail.append(sys.argv[2], "test.append", {"i": i})
"""


def test_two_processes_appending_at_once_keep_one_valid_chain(tmp_path):
    home = tmp_path / "home"
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(home), f"cli:p{n}", "60"], cwd=ROOT)
             for n in range(2)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    trail = AuditLog.of(home)
    records = list(trail.records())
    assert len(records) == 120 and [r["seq"] for r in records] == list(range(1, 121))
    for actor in ("cli:p0", "cli:p1"):
        assert [r["details"]["i"] for r in records if r["actor"] == actor] == list(range(60))
    assert trail.verify().ok
