"""``shopml keys``: the service's managed API keys (``<data_home>/keys.json``; serving.keys).

A running service picks every change up within a second, without a restart. The key itself is printed once,
by ``create`` and ``rotate``; the store keeps only its SHA-256 digest. Every change is in the audit trail.
"""

from __future__ import annotations

import typer

from cli._console import console, table

app = typer.Typer(help="Create, list, revoke and rotate the service's API keys.", no_args_is_help=True)

ROLES = ("storefront", "marketing", "logistics", "admin")


def _store():
    from serving.keys import KeyStore
    from shopml.settings import load_settings

    return KeyStore(load_settings())


def _show_secret(key, secret: str, what: str) -> None:
    console.print(f"{what} key {key.id} ({key.name}; roles {', '.join(key.roles)}; "
                  f"expires {key.expires or 'never'}). The key, shown this once (store it now):")
    typer.echo(secret)


@app.command("create")
def create(
    role: list[str] = typer.Option(..., "--role", help="A role of the key (repeat for several): "
                                   "storefront, marketing, logistics or admin."),
    expires_days: float | None = typer.Option(None, "--expires-days", min=0.001, help="Days until the key expires "
                                              "(default: never)."),
    name: str | None = typer.Option(None, "--name", help="A label for lists and logs (default: the key id)."),
    rate: float | None = typer.Option(None, "--rate", min=0.001, help="Own limit in requests per second (with "
                                      "--burst; default: the role's, settings serve_rate_limits)."),
    burst: int | None = typer.Option(None, "--burst", min=1, help="Own burst (with --rate)."),
) -> None:
    """A new key with the given roles; prints it once."""
    from shopml.audit import cli_actor
    from shopml.errors import ShopmlError

    unknown = [r for r in role if r not in ROLES]
    if unknown:
        raise ShopmlError(f"--role {unknown[0]!r}: use one of {', '.join(ROLES)}")
    store = _store()
    key, secret = store.create(role, name=name, expires_days=expires_days, per_second=rate, burst=burst,
                               actor=cli_actor())
    _show_secret(key, secret, "created")
    if store.settings.demo_mode:
        console.print("note: demo mode is on, so the public demo keys still work; set SHOPML_DEMO_MODE=false "
                      "outside a demo (docs/security.md)")


@app.command("list")
def list_keys(
    json_out: bool = typer.Option(False, "--json", help="One JSON document instead of a table."),
) -> None:
    """Every key of the store with its roles, status, expiry and last use (never the key)."""
    import json
    from dataclasses import asdict

    store = _store()
    keys = store.load()
    if json_out:
        typer.echo(json.dumps([{**asdict(k), "roles": list(k.roles), "status": k.status()} for k in keys], indent=1))
        return
    rows = [(k.id, k.name, ", ".join(k.roles), k.status(), k.created, k.expires or "never",
             k.last_used or "never", k.rotated_to or "") for k in keys]
    console.print(table(f"API keys in {store.path}", ["id", "name", "roles", "status", "created", "expires",
                                                     "last used", "rotated to"], rows))
    if not keys:
        console.print("no managed keys yet: `shopml keys create --role ROLE`")


@app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key's id (see `shopml keys list`).")) -> None:
    """Revoke KEY_ID: it answers 401 ('revoked') within a second."""
    from shopml.audit import cli_actor

    key = _store().revoke(key_id, actor=cli_actor())
    console.print(f"key {key.id} ({key.name}) revoked at {key.revoked}")


@app.command("rotate")
def rotate(
    key_id: str = typer.Argument(..., help="The key's id (see `shopml keys list`)."),
    grace_hours: float | None = typer.Option(None, "--grace-hours", min=0, help="How long the old key keeps working "
                                             "(default: settings keys_rotation_grace_hours, 24)."),
    expires_days: float | None = typer.Option(None, "--expires-days", min=0.001, help="Days until the new key "
                                              "expires (default: never)."),
) -> None:
    """A new key with KEY_ID's roles; KEY_ID keeps working for the grace period, then answers 401."""
    from shopml.audit import cli_actor

    old, new, secret = _store().rotate(key_id, grace_hours=grace_hours, expires_days=expires_days, actor=cli_actor())
    _show_secret(new, secret, "new")
    console.print(f"the old key {old.id} works until {old.expires}")
