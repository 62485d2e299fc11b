"""``shopml train recommender``, ``shopml recommend`` and ``shopml similar``: the recommender on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli._console import console, table

DATA_HELP = ("Orders to train on: 'online-retail' (the shared Online Retail I, protocol cutoff 2011-11-01), "
             "a file or folder features.loaders reads, or nothing for the tables in the data home.")
MODEL_DIR_HELP = "Read a recommender folder (Recommender.save) instead of the registry champion."
EXCLUDE_OPTION = typer.Option([], "--exclude", help="SKU never to show (repeatable).")
MODEL_DIR_OPTION = typer.Option(None, "--model-dir", help=MODEL_DIR_HELP)


def train_recommender(
    data: str | None = typer.Option(None, "--data", help=DATA_HELP),
    cutoff: str | None = typer.Option(None, help="Evaluation cutoff YYYY-MM-DD (default: last 30 days held out)."),
    no_ranker: bool = typer.Option(False, "--no-ranker", help="Rank by EASE alone (faster, weaker)."),
    force: bool = typer.Option(False, "--force", help="Promote to champion even if it does not win."),
    if_missing: bool = typer.Option(False, "--if-missing", help="Skip when a champion already exists."),
) -> None:
    """Train the recommender, compare it with the baselines, log it to MLflow and promote it if it wins."""
    from shopml.settings import load_settings
    from training.lifecycle import load_training_tables
    from training.names import RECOMMENDER
    from training.recommend.fit import RecommenderConfig
    from training.recommend.train import default_cutoff, train_recommender
    from training.registry import champion_version

    settings = load_settings()
    if if_missing and champion_version(settings, RECOMMENDER) is not None:
        console.print("champion exists for recommender: skipped (--if-missing)")
        return
    with console.status("reading data"):
        tables = load_training_tables(settings, data)
    chosen = cutoff or default_cutoff(tables["orders"], data)
    config = RecommenderConfig(seed=settings.seed, use_ranker=not no_ranker)
    with console.status("training the recommender (baselines, EASE, item-kNN, ranker)"):
        outcome = train_recommender(settings, tables, params=config, cutoff=chosen, force=force)
    report = outcome.result.report
    rows = [(name, f"{m['ndcg@10']:.4f}", f"{m['recall@10']:.4f}", f"{m['coverage@10']:.3f}")
            for name, m in report.table().items()]
    console.print(table(
        f"recommender v{outcome.version}: {report.split.n_test:,} test customers, "
        f"{report.split.cutoff:%Y-%m-%d} .. {report.split.end:%Y-%m-%d}",
        ["model", "NDCG@10", "Recall@10", "coverage@10"], rows,
    ))
    console.print(f"{'promoted' if outcome.promoted else 'not promoted'}: {outcome.reason}")


def _load(model_dir: Path | None):
    from shopml.settings import load_settings
    from training.recommend import Recommender
    from training.registry import load_champion

    if model_dir is not None:
        return Recommender.load(model_dir), str(model_dir)
    champion = load_champion(Recommender, load_settings())
    return champion.model, f"v{champion.version}"


def _show(title: str, recs, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([{"sku": r.sku, "score": r.score, "source": r.source} for r in recs]))
        return
    console.print(table(title, ["rank", "sku", "score", "source"],
                        [(i, r.sku, f"{r.score:.4f}", r.source) for i, r in enumerate(recs, start=1)]))


def recommend(
    customer_id: str = typer.Argument(..., help="Customer id (unknown ids get the popularity fallback)."),
    k: int = typer.Option(10, "--k", help="How many items (1 to 100)."),
    country: str | None = typer.Option(None, help="Country for the fallback (default: the customer's)."),
    exclude: list[str] = EXCLUDE_OPTION,
    buy_again: bool = typer.Option(False, "--buy-again", help="Put the customer's own purchases first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    model_dir: Path | None = MODEL_DIR_OPTION,
) -> None:
    """Top-k items for a customer from the champion recommender (your own customer id: it is translated to the
    data home's pseudonym, docs/security.md)."""
    from shopml.privacy import Edge
    from shopml.settings import load_settings

    model, version = _load(model_dir)
    edge = Edge(load_settings())
    inner = edge.inward(customer_id)
    inner = inner if edge.present(inner) else None
    recs = model.recommend(inner, k=k, exclude=exclude, country=country, include_purchased=buy_again)
    known = "known customer" if model.knows_customer(inner) else "unknown customer: fallback"
    _show(f"recommendations for {customer_id} ({known}; recommender {version})", recs, as_json)


def similar(
    sku: str = typer.Argument(..., help="SKU on screen (unknown SKUs get global best-sellers)."),
    k: int = typer.Option(10, "--k", help="How many items (1 to 100)."),
    exclude: list[str] = EXCLUDE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    model_dir: Path | None = MODEL_DIR_OPTION,
) -> None:
    """Items bought by the same customers as SKU."""
    model, version = _load(model_dir)
    recs = model.similar_items(sku, k=k, exclude=exclude)
    known = "known item" if model.knows_item(sku) else "unknown item: fallback"
    _show(f"items similar to {sku} ({known}; recommender {version})", recs, as_json)
