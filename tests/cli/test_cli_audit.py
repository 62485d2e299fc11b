"""``shopml audit verify`` exits 1 naming the first edited, deleted or reordered record; ``shopml score audiences``
leaves an ``audience.export`` record (size and filter, never a customer id)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import training.customers.audiences as audiences_module
from shopml.audit import AuditLog
from tests.cli.test_cli_keys import _shopml
from training.customers.audiences import AudienceResult


def test_score_audiences_records_the_export(monkeypatch, capsys, settings):
    scores = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "segment": ["at_risk", "at_risk", "active"],
                           "predicted_value": [10.0, 20.0, 30.0]})
    result = AudienceResult(as_of=pd.Timestamp("2011-09-01"), scores=scores, audience=scores.iloc[:2],
                            versions={"churn": "3", "customer_value": "4"})
    seen = {}
    monkeypatch.setattr(audiences_module, "score_audience", lambda settings, **kw: seen.update(kw) or result)
    monkeypatch.setattr(audiences_module, "write_audience", lambda frame, path: path.write_text("written"))
    out_file = settings.data_home / "aud.csv"
    settings.data_home.mkdir(parents=True, exist_ok=True)
    code, out, err = _shopml(monkeypatch, capsys, settings, "score", "audiences", "--segment", "at-risk",
                             "--min-value", "5", "-o", str(out_file))
    assert code == 0, err
    [rec] = AuditLog.of(settings).records()
    assert rec["action"] == "audience.export" and rec["actor"].startswith("cli:")
    assert rec["details"]["rows"] == 2 and rec["details"]["scored"] == 3
    assert rec["details"]["filter"] == {"segment": "at_risk", "min_value": 5.0}
    assert rec["details"]["file"] == str(out_file) and rec["details"]["models"] == {"churn": "3", "customer_value": "4"}
    assert "C1" not in AuditLog.of(settings).path.read_text()


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_audit_verify_exits_1_naming_the_first_broken_record(monkeypatch, capsys, settings, tamper):
    trail = AuditLog.of(settings)
    for i in range(4):
        trail.append("cli:t", "keys.create", {"key_id": f"k_{i}"})
    lines = trail.path.read_text().splitlines(keepends=True)
    if tamper == "edit":
        lines[1] = lines[1].replace("k_1", "k_7")
    elif tamper == "delete":
        del lines[1]
    else:
        lines[1], lines[2] = lines[2], lines[1]
    trail.path.write_text("".join(lines))
    code, out, _ = _shopml(monkeypatch, capsys, settings, "audit", "verify", "--json")
    result = json.loads(out)
    assert code == 1 and not result["ok"]
    assert result["broken_line"] == (3 if tamper == "edit" else 2)
    assert "does not link" in result["message"]
