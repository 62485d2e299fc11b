"""The ``shopml`` command line.

Each command group lives in its own module and imports heavy libraries inside its commands, so that
``shopml --help`` is fast. A user mistake (:class:`shopml.errors.ShopmlError`, a bad file, an invalid
request) exits with status 2 and one readable message; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer

from cli import data, experiment, features, kpi, models, plan, report, score, train
from cli._console import err_console, print_error
from shopml.errors import ShopmlError
from shopml.logs import configure_logging

app = typer.Typer(
    name="shopml",
    help="Machine learning for an online shop: data, models, plans, experiments and the service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(plan.app, name="plan")
app.add_typer(experiment.app, name="experiment")
app.add_typer(train.app, name="train")
app.add_typer(score.app, name="score")
app.add_typer(models.app, name="models")
app.add_typer(report.app, name="report")
app.add_typer(kpi.app, name="kpi")

# Top-level commands from the model packages are registered below (one block per domain).
from cli.serve import serve  # noqa: E402

app.command("serve")(serve)
from cli.recommend import recommend, similar  # noqa: E402

app.command("recommend")(recommend)
app.command("similar")(similar)
from cli.forecast import forecast  # noqa: E402

app.command("forecast")(forecast)
from cli.monitor import monitor  # noqa: E402
from cli.retrain import retrain  # noqa: E402

app.command("monitor")(monitor)
app.command("retrain")(retrain)
from cli import keys  # noqa: E402

app.add_typer(keys.app, name="keys")
from cli import audit  # noqa: E402

app.add_typer(audit.app, name="audit")
from cli import privacy  # noqa: E402

app.add_typer(privacy.app, name="privacy")


@app.callback()
def _configure(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details.")) -> None:
    import os

    # MLflow draws a bar per model download, a hundred lines each; the commands draw their own progress
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    configure_logging(verbose)


def main() -> None:
    """Entry point of the console script: run the app, turn user mistakes into one clear line."""
    from pydantic import ValidationError

    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code instead of raising it here
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except (ShopmlError, ValidationError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print_error(_describe(exc))
        sys.exit(2)
    except MemoryError as exc:  # pyarrow's ArrowMemoryError too
        print_error(_out_of_memory(exc))
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # usage errors: bad option values, unknown commands
        if hasattr(exc, "show"):
            exc.show()
        sys.exit(getattr(exc, "exit_code", 2))


def _out_of_memory(exc: MemoryError) -> str:
    """One line instead of a traceback: what ran out and the way past one machine's memory."""
    detail = str(exc).strip() or type(exc).__name__
    return (f"out of memory ({detail}). The pandas engine holds the whole shop in this process: run the batch "
            "command with --engine spark (or SHOPML_ENGINE=spark), which works one customer or SKU partition at a "
            "time; see docs/scale.md.")


def _describe(exc: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}" for err in exc.errors()[:10]
        ]
        more = exc.error_count() - len(problems)
        suffix = f" (and {more} more)" if more > 0 else ""
        return f"invalid {exc.title}: " + "; ".join(problems) + suffix
    if isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)
