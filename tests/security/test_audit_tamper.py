"""The audit trail detects tampering: every record of a real trail edited, deleted, and swapped with the next,
records forged, inserted or duplicated, the tail cut, the head file dropped; ``shopml audit verify`` exits 1 and
names the first broken line (or the head), and the untouched trail verifies.

The trail is written by the code that writes it in production: ``shopml keys`` through :class:`KeyStore` (create,
rotate, revoke) and :func:`shopml.audit.record` for an export, a promotion and a console login.
``tests/shopml/test_audit.py`` checks one example of each kind on a synthetic trail; this walks every position.
"""

from __future__ import annotations

import json
import shutil

from serving.keys import KeyStore
from shopml.audit import AuditLog, canonical, record, record_hash


def _real_trail(settings) -> AuditLog:
    store = KeyStore(settings)
    key, _ = store.create(["marketing"], name="crm", actor="cli:alice")
    other, _ = store.create(["storefront"], name="web", expires_days=30, actor="cli:alice")
    store.rotate(other.id, grace_hours=1, actor="cli:alice")
    record(settings, key.id, "audience.export", via="api", rows=120, filter={"segments": ["at_risk"]})
    record(settings, "cli:bob", "model.promote", model="churn", version="3", reason="beats the champion")
    record(settings, key.id, "console.login", roles=["marketing"])
    store.revoke(key.id, actor="cli:alice")
    trail = AuditLog.of(settings)
    assert trail.verify().ok
    return trail


def _tampered(lines: list[str]) -> dict[str, tuple[list[str], int | None]]:
    """Tampered copies of the trail's lines and the line verify must name (None: the head file)."""
    n = len(lines)
    out: dict[str, tuple[list[str], int | None]] = {}
    for i in range(n):
        rec = json.loads(lines[i])
        rec["details"] = {**rec["details"], "rows": 1} if "rows" in rec["details"] else {**rec["details"], "x": 1}
        edited = [*lines[:i], canonical(rec) + "\n", *lines[i + 1:]]
        out[f"edit record {i + 1}"] = (edited, i + 2 if i + 1 < n else n)
        rec = json.loads(lines[i])
        rec["actor"] = "cli:mallory"
        out[f"change the actor of record {i + 1}"] = ([*lines[:i], canonical(rec) + "\n", *lines[i + 1:]],
                                                      i + 2 if i + 1 < n else n)
        out[f"delete record {i + 1}"] = ([*lines[:i], *lines[i + 1:]], i + 1 if i + 1 < n else n)
        if i + 1 < n:
            out[f"swap records {i + 1} and {i + 2}"] = ([*lines[:i], lines[i + 1], lines[i], *lines[i + 2:]], i + 1)
        out[f"duplicate record {i + 1}"] = ([*lines[:i + 1], lines[i], *lines[i + 1:]], i + 2)
    prev = json.loads(lines[1])["prev"]
    forged = {"seq": 2, "ts": json.loads(lines[1])["ts"], "actor": "cli:mallory", "action": "keys.create",
              "details": {"key_id": "k_forged"}, "prev": prev}
    out["insert a forged record linked to its predecessor"] = ([lines[0], canonical(forged) + "\n", *lines[1:]], 3)
    out["cut the last two records"] = (lines[:-2], n - 1)
    out["an empty trail with a head"] = ([], None)
    return out


def test_every_tamper_is_detected_and_named(settings, tmp_path, cases):
    trail = _real_trail(settings)
    lines = trail.path.read_text().splitlines(keepends=True)
    assert len(lines) >= 7
    with cases.of("audit_tamper") as check:
        for name, (changed, line) in _tampered(lines).items():
            copy = tmp_path / name.replace(" ", "-")
            shutil.copytree(trail.folder, copy / "audit")
            target = AuditLog(copy / "audit")
            target.path.write_text("".join(changed))
            result = target.verify()
            named = result.broken_line == line if line is not None else "head" in result.message
            check(not result.ok and named, f"{name}: ok={result.ok} line={result.broken_line} ({result.message})")
        copy = tmp_path / "no-head"
        shutil.copytree(trail.folder, copy / "audit")
        (copy / "audit" / "head.json").unlink()
        result = AuditLog(copy / "audit").verify()
        check(not result.ok and "head file" in result.message, f"drop the head file: {result.message}")
        result = trail.verify()
        check(result.ok and result.head == record_hash(json.loads(lines[-1])), "the untouched trail verifies")


def test_shopml_audit_verify_exits_1_naming_the_line(monkeypatch, capsys, settings, cases):
    from tests.cli.test_cli_keys import _shopml

    trail = _real_trail(settings)
    lines = trail.path.read_text().splitlines(keepends=True)
    original = "".join(lines)
    chosen = ("edit record 2", "delete record 3", "swap records 4 and 5", "cut the last two records",
              "edit record 7")
    with cases.of("audit_tamper") as check:
        code, out, _ = _shopml(monkeypatch, capsys, settings, "audit", "verify", "--json")
        check(code == 0 and json.loads(out)["ok"], f"the untouched trail: exit {code}")
        tampered = _tampered(lines)
        for name in chosen:
            changed, line = tampered[name]
            trail.path.write_text("".join(changed))
            code, out, _ = _shopml(monkeypatch, capsys, settings, "audit", "verify", "--json")
            result = json.loads(out)
            check(code == 1 and not result["ok"] and result["broken_line"] == line,
                  f"shopml audit verify after '{name}': exit {code}, {result}")
            trail.path.write_text(original)
