"""``shopml models``: what the registry holds, and moving the champion alias by hand."""

from __future__ import annotations

import typer

from cli._console import console, table

app = typer.Typer(help="Registered models, champion versions and their key metrics.", no_args_is_help=True)


@app.command("list")
def list_models() -> None:
    """Each shopml model with its champion version and why that version was promoted."""
    from shopml.settings import load_settings
    from training.names import ALL_MODELS
    from training.registry import TRAIN_COMMANDS, champion_summary
    from training.tracking import configure_mlflow

    settings = load_settings()
    rows = []
    for row in champion_summary(configure_mlflow(settings), list(ALL_MODELS)):
        tags = row["tags"]
        if row["champion"] is None:
            rows.append((row["model"], "-", "", f"not trained yet: run `{TRAIN_COMMANDS[row['model']]}`"))
        else:
            rows.append((row["model"], f"v{row['champion']}", _metrics(tags), tags.get("promotion", "")))
    console.print(table(f"Champions in {settings.tracking_uri}", ["model", "champion", "key metric", "why"], rows))


@app.command("history")
def history(name: str = typer.Argument(..., help="Registered model name, e.g. churn.")) -> None:
    """Every registered version of NAME, newest first, with its metric and promotion decision."""
    from shopml.settings import load_settings
    from training.registry import version_history
    from training.tracking import configure_mlflow

    versions = version_history(configure_mlflow(load_settings()), name)
    rows = [(f"v{v['version']}", "yes" if v["champion"] else "", v["created"], v["promotion"]) for v in versions]
    console.print(table(f"Versions of {name}", ["version", "champion", "registered", "promotion"], rows))


@app.command("promote")
def promote(
    name: str = typer.Argument(..., help="Registered model name, e.g. churn."),
    version: str = typer.Argument(..., help="Version to serve, e.g. 3 (see `shopml models history NAME`)."),
    reason: str = typer.Option("manual promotion", help="Recorded on the version as the promotion reason."),
) -> None:
    """Point the champion alias at VERSION (a manual override; a running service picks it up on reload)."""
    from shopml.settings import load_settings
    from training.registry import set_champion
    from training.tracking import configure_mlflow

    settings = load_settings()
    previous = set_champion(configure_mlflow(settings), name, version.removeprefix("v"), reason, audit_to=settings)
    was = f" (was v{previous})" if previous else ""
    console.print(f"{name}: champion is now v{version.removeprefix('v')}{was}")


def _metrics(tags: dict[str, str]) -> str:
    """The primary metric the registry recorded on the version (every numeric tag but bookkeeping)."""
    shown = []
    for key, value in tags.items():
        if key in ("evaluation_key", "promotion"):
            continue
        try:
            shown.append(f"{key} {float(value):.4g}")
        except ValueError:
            continue
    return ", ".join(shown)
