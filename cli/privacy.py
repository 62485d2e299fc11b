"""``shopml privacy``: erase a customer on request, and scan the data home for real customer ids.

Customer ids are pseudonyms inside the data home (shopml.privacy); ``erase`` removes one customer from every
file there and keeps a tombstone so that a reload of the raw source does not bring them back; ``scan`` checks
that no real id (from the identity vault, or a list you give) is stored anywhere. docs/security.md has the
procedures.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli._console import console, table

app = typer.Typer(help="Erase customers on request and scan for real customer ids.", no_args_is_help=True)


@app.command("erase")
def erase(
    customer_id: str = typer.Argument(..., help="The customer's own id (as in your shop, not the pseudonym)."),
    reason: str = typer.Option("erasure request", "--reason", help="Why (kept in the audit trail; no personal "
                               "data, e.g. a ticket number)."),
    json_out: bool = typer.Option(False, "--json", help="The outcome as JSON."),
) -> None:
    """Remove a customer from the canonical tables, features, score history, logs, reports and the local model
    artifacts, keep a tombstone against reloads, and record it in the audit trail.

    Exits 1 when a file holds the customer but cannot be rewritten safely (listed, with what to do).
    """
    from features.identities import add_tombstone, privacy_dir
    from serving.parquet_log import log_key
    from shopml.audit import cli_actor, record
    from shopml.erasure import erase_files
    from shopml.errors import ShopmlError
    from shopml.privacy import Edge, pseudonym, tombstone, tombstone_secret
    from shopml.settings import load_settings

    customer_id = customer_id.strip()
    if not customer_id:
        raise ShopmlError("CUSTOMER_ID is empty: give the customer's id as your shop knows it.")
    settings = load_settings()
    home = settings.data_home
    if not home.is_dir():
        raise ShopmlError(f"no data home at {home}: nothing to erase (set SHOPML_DATA_HOME).")
    edge = Edge(settings)
    inner = edge.inward(customer_id)
    assert inner is not None
    identities = edge.identities()
    known = inner in identities if identities is not None else _in_customers(settings, inner)
    stone = tombstone(tombstone_secret(settings), customer_id)
    add_tombstone(privacy_dir(home), stone)  # first: a crash below leaves them out of the next load, re-run erases
    needles = {customer_id, inner}
    if (home / "predictions" / ".key").is_file():  # the prediction, event and exposure logs' key of them
        needles.add(pseudonym(log_key(home / "predictions"), inner))
    with console.status(f"erasing from every file under {home}"):
        report = erase_files(home, needles, skip=_never_touched(settings))
        changed_tables = _refresh_manifest(settings.raw_dir, report.rewritten)
    record(settings, cli_actor(), "privacy.erase", tombstone=stone[:16], reason=reason, known=bool(known),
           files_rewritten=len(report.rewritten), rows_removed=report.rows_removed, redacted=report.redacted,
           leftovers=len(report.leftovers), tables=changed_tables)
    remote = not settings.tracking_uri.startswith("sqlite:")
    outcome = {"known": bool(known), "files_scanned": report.scanned, "files_rewritten": len(report.rewritten),
               "rows_removed": report.rows_removed, "redacted": report.redacted, "leftovers": report.leftovers,
               "tombstone": stone[:16], "remote_tracking": remote}
    if json_out:
        typer.echo(json.dumps(outcome, indent=2))
    else:
        console.print(table("Erasure", ["", ""], [
            ("customer in the data", "yes" if known else "no (tombstone kept anyway)"),
            ("files scanned", f"{report.scanned:,}"), ("files rewritten", f"{len(report.rewritten):,}"),
            ("rows or lines removed", f"{report.rows_removed:,}"), ("ids redacted", f"{report.redacted:,}"),
        ]))
        console.print("A running service forgets them within a second. Retrain (`shopml train all`) so that no "
                      "model's weights learned from them.")
        if remote:
            console.print(f"MLflow is at {settings.tracking_uri}: its artifacts are outside the data home and were "
                          "not searched; retrain and delete the model versions trained before this erasure.")
    if report.leftovers:
        if json_out:
            raise typer.Exit(1)
        for path in report.leftovers:
            console.print(f"[red]still holds the customer (cannot be rewritten safely):[/red] {path}")
        console.print("Delete these files (or the model versions they belong to: `shopml models` lists them) "
                      "after retraining, then run `shopml privacy scan --ids FILE` with the id to confirm.")
        raise typer.Exit(1)


@app.command("scan")
def scan(
    ids: Path | None = typer.Option(None, "--ids", help="A text file of ids to look for, one per line (default: "
                                    "every real id in the identity vault)."),
    path: list[Path] = typer.Option([], "--path", help="Scan this folder too (repeatable; default: the data "
                                     "home, and MLflow's local artifact folder when it is elsewhere)."),
    json_out: bool = typer.Option(False, "--json", help="The outcome as JSON."),
) -> None:
    """Look for real customer ids in every file under the data home (Parquet values, archives, text, binary);
    exits 1 when one is found."""
    from cli._files import check_readable, not_utf8
    from shopml.errors import ShopmlError
    from shopml.idscan import IdScanner
    from shopml.privacy import SECRETS_DIR, Identities
    from shopml.settings import load_settings

    settings = load_settings()
    if ids is not None:
        check_readable(ids, "--ids")
        try:
            text = ids.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise not_utf8(ids, exc, "save it as UTF-8 text, one id per line", "--ids") from exc
        wanted = [line.strip() for line in text.splitlines() if line.strip()]
        if not wanted:
            raise ShopmlError(f"--ids {ids}: no ids in it; put one id per line.")
    else:
        identities = Identities.read(settings)
        if not len(identities):
            raise ShopmlError(f"the identity vault {settings.raw_dir} is empty or missing: load data first, or give "
                              "the ids to look for with --ids FILE.")
        wanted = [i for i in identities.reals(identities.pseudonyms()) if i is not None]
    roots = [settings.data_home, *path]
    report = IdScanner(wanted).scan(roots, skip=[settings.data_home / SECRETS_DIR])
    out = report.as_dict()
    if json_out:
        typer.echo(json.dumps(out, indent=2))
    else:
        console.print(f"{report.files_scanned:,} files scanned for {report.ids_searched:,} ids: "
                      f"{report.raw_ids_found:,} found")
        for file, found in report.hits[:50]:
            console.print(f"[red]{found}[/red] in {file}")
    if report.hits:
        raise typer.Exit(1)


def _never_touched(settings) -> list[Path]:  # noqa: ANN001
    """What erasure leaves alone: secrets, tombstones, the audit trail and the key store (no customer ids)."""
    from features.identities import privacy_dir
    from shopml.audit import audit_dir
    from shopml.privacy import SECRETS_DIR

    return [settings.data_home / SECRETS_DIR, privacy_dir(settings.data_home), audit_dir(settings),
            settings.keys_path]


def _in_customers(settings, inner: str) -> bool:  # noqa: ANN001
    path = settings.raw_dir / "customers.parquet"
    if not path.is_file():
        return False
    import pandas as pd

    return bool((pd.read_parquet(path, columns=["customer_id"])["customer_id"].astype(str) == inner).any())


def _refresh_manifest(raw_dir: Path, rewritten: list[str]) -> list[str]:
    """Row counts and fingerprints of the canonical tables the erasure rewrote, so the manifest stays true."""
    import os

    import pandas as pd

    from features.store import MANIFEST, fingerprint

    manifest_path = raw_dir / MANIFEST
    if not manifest_path.is_file():
        return []
    manifest = json.loads(manifest_path.read_text())
    changed = []
    for name, info in manifest.get("tables", {}).items():
        path = raw_dir / f"{name}.parquet"
        if str(path) in rewritten:
            frame = pd.read_parquet(path)
            info.update(rows=len(frame), fingerprint=fingerprint(frame))
            changed.append(name)
    if changed:
        tmp = manifest_path.with_name(f".{MANIFEST}.tmp")
        tmp.write_text(json.dumps(manifest, indent=2))
        os.replace(tmp, manifest_path)
    return changed
