"""``shopml keys``: create, list, revoke and rotate keys, each in the audit trail (shown and verified with
``shopml audit``)."""

from __future__ import annotations

import json
import re
import sys

from cli import main


def _shopml(monkeypatch, capsys, settings, *args: str) -> tuple[int, str, str]:
    """Run the ``shopml`` entry point in-process: (exit code, stdout, stderr)."""
    monkeypatch.setenv("SHOPML_DATA_HOME", str(settings.data_home))
    monkeypatch.setenv("COLUMNS", "250")
    from cli._console import console

    monkeypatch.setattr(console, "width", 250)  # the console was sized when first imported, maybe narrower
    monkeypatch.setattr(sys, "argv", ["shopml", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_create_list_rotate_revoke_and_the_audit_trail(monkeypatch, capsys, settings):
    def shopml(*args):
        return _shopml(monkeypatch, capsys, settings, *args)

    code, out, _ = shopml("keys", "create", "--role", "marketing", "--role", "storefront", "--name", "crm",
                          "--expires-days", "30")
    assert code == 0
    secret = re.search(r"^(shk_\S+)$", out, re.M).group(1)
    key_id = re.search(r"created key (k_[0-9a-f]{12})", out).group(1)
    assert "demo mode is on" in out
    assert secret not in settings.keys_path.read_text()

    code, out, _ = shopml("keys", "list", "--json")
    [listed] = json.loads(out)
    assert code == 0 and listed["id"] == key_id and listed["roles"] == ["marketing", "storefront"]
    assert listed["status"] == "active" and "sha256" in listed and secret not in out

    code, out, _ = shopml("keys", "rotate", key_id, "--grace-hours", "2")
    new_id = re.search(r"new key (k_[0-9a-f]{12})", out).group(1)
    assert code == 0 and "works until" in out and re.search(r"^shk_\S+$", out, re.M)

    code, out, _ = shopml("keys", "revoke", key_id)
    assert code == 0 and f"key {key_id} (crm) revoked" in out
    code, _, err = shopml("keys", "revoke", key_id)
    assert code == 2 and "already revoked" in err and "Traceback" not in err
    code, _, err = shopml("keys", "create", "--role", "boss")
    assert code == 2 and "--role 'boss'" in err

    code, out, _ = shopml("keys", "list")
    assert code == 0 and "revoked" in out and new_id in out

    code, out, _ = shopml("audit", "show", "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["action"] for r in records] == ["keys.create", "keys.rotate", "keys.revoke"]
    assert all(r["actor"].startswith("cli:") for r in records) and secret not in out
    code, out, _ = shopml("audit", "show", "--action", "keys.rev", "--since", "2000-01-01")
    assert code == 0 and "keys.revoke" in out and "keys.create" not in out
    code, out, _ = shopml("audit", "show", "--since", "2999-01-01", "--json")
    assert code == 0 and out == ""
    code, _, err = shopml("audit", "show", "--since", "yesterday")
    assert code == 2 and "--since 'yesterday' is not a date" in err

    code, out, _ = shopml("audit", "verify")
    assert code == 0 and "3 records, chain intact" in out
