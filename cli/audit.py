"""``shopml audit``: read and check the audit trail (``<data_home>/audit/audit.jsonl``; shopml.audit)."""

from __future__ import annotations

import typer

from cli._console import console, table

app = typer.Typer(help="Show and verify the hash-chained audit trail.", no_args_is_help=True)


@app.command("show")
def show(
    since: str | None = typer.Option(None, "--since", help="Only records at or after this date or time (UTC), "
                                     "YYYY-MM-DD or YYYY-MM-DDTHH:MM."),
    action: str | None = typer.Option(None, "--action", help="Only this action, or actions starting with it "
                                      "(e.g. keys, model.promote)."),
    json_out: bool = typer.Option(False, "--json", help="The records as JSON lines, as stored."),
) -> None:
    """Who did what and when, oldest first (does not verify: see `shopml audit verify`)."""
    import json

    from shopml.audit import AuditLog, canonical
    from shopml.settings import load_settings

    start = _since(since)
    trail = AuditLog.of(load_settings())
    records = [r for r in trail.records() if (start is None or str(r.get("ts", "")) >= start)
               and (action is None or str(r.get("action", "")).startswith(action))]
    if json_out:
        for rec in records:
            typer.echo(canonical(rec))
        return
    rows = [(r.get("seq"), r.get("ts"), r.get("actor"), r.get("action"), json.dumps(r.get("details"), sort_keys=True))
            for r in records]
    console.print(table(f"Audit trail {trail.path}", ["seq", "time (UTC)", "actor", "action", "details"], rows))


@app.command("verify")
def verify(json_out: bool = typer.Option(False, "--json", help="The result as JSON (with the head hash).")) -> None:
    """Walk the hash chain; exit 1 naming the first broken record when one was edited, deleted or reordered."""
    import json

    from shopml.audit import AuditLog
    from shopml.settings import load_settings

    trail = AuditLog.of(load_settings())
    result = trail.verify()
    if json_out:
        typer.echo(json.dumps({"path": str(trail.path), **result.to_dict()}))
    else:
        console.print(f"{trail.path}: {result.summary()}" + (f"\nhead {result.head}" if result.ok and result.head
                                                            else ""), highlight=False, soft_wrap=True)
    if not result.ok:
        raise SystemExit(1)


def _since(value: str | None) -> str | None:
    """``--since`` as the ISO prefix the records' ``ts`` compare with (UTC)."""
    from datetime import datetime

    from shopml.errors import ShopmlError

    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ShopmlError(f"--since {value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)") from exc
    if moment.tzinfo is not None:
        from datetime import UTC

        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
