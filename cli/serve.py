"""``shopml serve``: start the BentoML service on the configured host and port."""

from __future__ import annotations

import typer


def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default: settings serve_host)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (default: settings serve_port, 3000)."),
    workers: int | None = typer.Option(None, min=1, max=64, help="Worker processes (default: settings)."),
    development: bool = typer.Option(False, "--development", help="BentoML development mode (one process)."),
) -> None:
    """Serve every champion model, the optimizers and the experiment engine (see docs/serving.md)."""
    import os
    import sys
    from pathlib import Path

    from shopml.settings import CONFIG_ENV_VAR, load_settings

    overrides = {k: v for k, v in {"serve_host": host, "serve_port": port, "serve_workers": workers}.items() if v}
    settings = load_settings(**overrides)
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["SHOPML_DATA_HOME"] = str(Path(settings.data_home).resolve())
    env["SHOPML_SERVE_WORKERS"] = str(settings.serve_workers)
    if os.environ.get(CONFIG_ENV_VAR):
        env[CONFIG_ENV_VAR] = str(Path(os.environ[CONFIG_ENV_VAR]).resolve())
    elif Path("shopml.toml").is_file():
        env[CONFIG_ENV_VAR] = str(Path("shopml.toml").resolve())
    env.setdefault("BENTOML_HOME", str((Path(settings.data_home) / "bentoml").resolve()))
    env.setdefault("BENTOML_DO_NOT_TRACK", "true")
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    command = [sys.executable, "-m", "bentoml", "serve", "serving.service:Shopml", "--working-dir", str(root),
               "--host", settings.serve_host, "--port", str(settings.serve_port)]
    if development:
        command.append("--development")
    typer.echo(f"shopml service on http://{settings.serve_host}:{settings.serve_port} (data home {env['SHOPML_DATA_HOME']})")
    sys.stdout.flush()
    os.execve(sys.executable, command, env)
