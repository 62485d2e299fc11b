"""Customer models on the Online Retail I protocol, BG/NBD on CDNOW, and audience scoring throughput.

Usage: ``.venv/bin/python bench/customers.py [--data ../shared/data] [--customers 1000000]``

Writes ``bench/results/customer_models.json`` (keys as asked in issue 3: churn, value, baselines, bgnbd_cdnow,
audience_scoring). Churn and value follow ``../shared/PROTOCOLS.md``: evaluation cutoff 2011-09-01, 90-day
window, training cutoffs whose label windows end on or before it.

``churn.validation`` shows where the churn settings were chosen: the same recipe run at validation cutoffs
2011-05-04 .. 2011-06-03 (their label windows end by 2011-09-01; their training cutoffs end theirs by the
validation cutoff), for the chosen settings and the alternatives it was compared with. The evaluation cutoff
only reports the chosen settings (plus the alternatives, for the record; they were not used to choose), with
bootstrap intervals. ``season_anchor_synthetic`` compares the churn calibrations on a three-year synthetic
shop, where the same-season anchor exists (Online Retail's one year has none, so it falls back there).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"


def environment() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "platform": platform.platform(),
        "versions": {p: version(p) for p in ("numpy", "pandas", "scipy", "scikit-learn", "lightgbm", "mlflow")}
        | {"python": platform.python_version()},
    }


def bench_cdnow(data: Path) -> dict[str, object]:
    from features.loaders import load_cdnow_transactions
    from training.customers.bgnbd import BGNBD
    from training.customers.gamma_gamma import GammaGamma
    from training.customers.rfm import rfm_from_transactions

    rfm = rfm_from_transactions(load_cdnow_transactions(data / "cdnow" / "CDNOW_sample.txt"), "1997-10-01")
    began = time.perf_counter()
    model = BGNBD().fit(rfm.x, rfm.t_x, rfm.T)
    seconds = time.perf_counter() - began
    repeat = rfm.x > 0
    gg = GammaGamma().fit(rfm.x[repeat], rfm.monetary_repeat[repeat])
    return model.params_.to_dict() | {
        "log_likelihood": model.log_likelihood_, "fit_seconds": seconds, "customers": len(rfm),
        "published": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4},
        "gamma_gamma": gg.params_.to_dict() | {"published": {"p": 6.25, "q": 3.74, "gamma": 15.44}},
    }


VALIDATION_CUTOFFS = ("2011-05-04", "2011-05-14", "2011-05-24", "2011-06-03")
CHURN_CANDIDATES = {
    "chosen": {},
    "no_calibration": {"calibration": "none"},
    "isotonic_latest_fold": {"calibration": "isotonic_latest"},
    "trees_40": {"trees": 40},
    "trees_100": {"trees": 100},
    "trees_200": {"trees": 200},
    "no_lifetime_features": {"use_lifetime": False},
    "no_population_features": {"population_features": False},
}


def churn_validation(tables, cache) -> dict[str, object]:
    """The churn recipe at each validation cutoff for every candidate; the mean is what the choice used."""
    from shopml.errors import DataValidationError
    from training.customers import ChurnParams, TrainConfig, fit_churn, prepare

    per_cutoff: dict[str, dict[str, dict[str, float]]] = {}
    for cutoff in VALIDATION_CUTOFFS:
        data = prepare(tables, TrainConfig(evaluation_cutoff=cutoff), cache)
        per_cutoff[cutoff] = {"train_cutoffs": len(data.plan.train), "churn_rate": float(data.evaluation["churned"].mean())}
        for name, change in CHURN_CANDIDATES.items():
            try:
                metrics = fit_churn(data, ChurnParams(**change)).metrics
            except DataValidationError as exc:  # isotonic needs a fold these early cutoffs do not have
                per_cutoff[cutoff][name] = {"unavailable": str(exc)}
                continue
            per_cutoff[cutoff][name] = {"roc_auc": metrics["roc_auc"], "ece": metrics["ece"], "brier": metrics["brier"]}
    mean = {name: {m: float(np.mean([per_cutoff[c][name][m] for c in VALIDATION_CUTOFFS])) for m in ("roc_auc", "ece", "brier")}
            for name in CHURN_CANDIDATES if all("roc_auc" in per_cutoff[c][name] for c in VALIDATION_CUTOFFS)}
    return {"cutoffs": list(VALIDATION_CUTOFFS), "candidates": CHURN_CANDIDATES, "mean": mean, "per_cutoff": per_cutoff}


def bootstrap_interval(y: np.ndarray, p: np.ndarray, draws: int = 1000, seed: int = 0) -> dict[str, list[float]]:
    """95 % percentile intervals of ROC-AUC and ECE over customers resampled with replacement."""
    from sklearn.metrics import roc_auc_score

    from training.customers.metrics import expected_calibration_error

    rng = np.random.default_rng(seed)
    aucs, eces = [], []
    for _ in range(draws):
        rows = rng.integers(0, len(y), len(y))
        aucs.append(roc_auc_score(y[rows], p[rows]))
        eces.append(expected_calibration_error(y[rows], p[rows]))
    return {"roc_auc": np.percentile(aucs, [2.5, 97.5]).tolist(), "ece": np.percentile(eces, [2.5, 97.5]).tolist(),
            "draws": draws}


SEASON_CALIBRATIONS = ("same_season", "bgnbd_prior", "isotonic_latest", "none")


def bench_season_anchor(days: int = 1095, evaluations: int = 11, spacing_days: int = 25) -> dict[str, object]:
    """Calibrations on a synthetic shop with three years of planted seasonality, at cutoffs across year three.

    The Online Retail data covers one year, so its evaluation cutoff has no season anchor; this is where the
    same-season offset is measured against the alternatives (it was chosen here, not on Online Retail).
    """
    from features.synthetic import ShopConfig, generate_shop
    from training.customers import ChurnParams, TrainConfig, fit_churn, prepare

    config = ShopConfig(days=days)
    tables = generate_shop(config).tables()
    last = pd.Timestamp(config.start) + pd.Timedelta(days=days - 90)
    cutoffs = [last - pd.Timedelta(days=spacing_days * k) for k in range(evaluations)][::-1]
    cache: dict = {}
    per_cutoff = {}
    for cutoff in cutoffs:
        data = prepare(tables, TrainConfig(evaluation_cutoff=cutoff), cache)
        per_cutoff[f"{cutoff:%Y-%m-%d}"] = {"churn_rate": float(data.evaluation["churned"].mean())} | {
            name: {k: fit_churn(data, ChurnParams(calibration=name)).metrics[k] for k in ("roc_auc", "ece", "brier")}
            for name in SEASON_CALIBRATIONS}
    mean = {name: {m: float(np.mean([row[name][m] for row in per_cutoff.values()])) for m in ("ece", "brier")}
            for name in SEASON_CALIBRATIONS}
    wins = sum(row["same_season"]["ece"] < row["bgnbd_prior"]["ece"] for row in per_cutoff.values())
    return {"shop": {"customers": config.customers, "days": days, "seed": config.seed, "start": config.start},
            "mean": mean, "same_season_beats_bgnbd_prior": f"{wins}/{len(per_cutoff)}", "per_cutoff": per_cutoff}


def selection_fold(prepared) -> dict[str, object]:
    """Which cutoff chose the value model, and which cutoffs trained the boosters that scored it."""
    fold, before = prepared.time_held_out_fold()
    trained = sorted(prepared.train.loc[before, "cutoff"].unique())
    return {"cutoff": f"{prepared.plan.calibration:%Y-%m-%d}", "customers": int(fold.sum()),
            "trained_on": [f"{c:%Y-%m-%d}" for c in trained]}


def bench_online_retail(data: Path):
    from features.loaders import load_online_retail
    from training.customers import ChurnParams, TrainConfig, fit_churn, fit_value, prepare

    loaded = load_online_retail(data / "online_retail" / "online_retail_I.csv.gz")
    cache: dict = {}
    began = time.perf_counter()
    prepared = prepare(loaded.tables, TrainConfig(evaluation_cutoff="2011-09-01"), cache)
    prepare_seconds = time.perf_counter() - began
    validation = churn_validation(loaded.tables, cache)
    began = time.perf_counter()
    churn = fit_churn(prepared)
    churn_seconds = time.perf_counter() - began
    alternatives = {name: {k: v for k, v in fit_churn(prepared, ChurnParams(**change)).metrics.items()
                           if k in ("roc_auc", "ece", "brier")}
                    for name, change in CHURN_CANDIDATES.items() if change}
    began = time.perf_counter()
    value = fit_value(prepared)
    value_seconds = time.perf_counter() - began
    plan = prepared.plan
    result = {
        "churn": churn.metrics | {"calibration_fold": churn.calibration_fold, "seconds": churn_seconds,
                                  "bootstrap_95": bootstrap_interval(churn.predictions["churned"].to_numpy(),
                                                                     churn.predictions["churn_probability"].to_numpy()),
                                  "params": asdict(churn.params), "validation": validation,
                                  "evaluation_alternatives_not_used_to_choose": alternatives,
                                  "train_churn_rate_by_cutoff": {f"{c:%Y-%m-%d}": float(r) for c, r in
                                                                 prepared.train.groupby("cutoff")["churned"].mean().items()}},
        "value": value.metrics | {"selection_fold_gini": value.selection, "candidates": value.candidates,
                                  "selection_fold": selection_fold(prepared),
                                  "seconds": value_seconds},
        "baselines": {"churn": churn.baselines, "value": value.baselines},
        "protocol": {"evaluation_cutoff": f"{plan.evaluation:%Y-%m-%d}", "train_cutoffs": [f"{c:%Y-%m-%d}" for c in plan.train],
                     "horizon_days": plan.horizon_days, "train_rows": len(prepared.train),
                     "evaluation_customers": len(prepared.evaluation), "prepare_seconds": prepare_seconds},
    }
    return result, prepared, churn, value


def bench_scoring(prepared, churn, value, customers: int) -> dict[str, object]:
    """Score ``customers`` rows drawn (with replacement) from the evaluation feature table."""
    from features.customers import CUSTOMER_FEATURES
    from training.customers import CustomerScorer

    scorer = CustomerScorer(churn.model, value.model)
    table = prepared.evaluation[["customer_id", *CUSTOMER_FEATURES]]
    rows = np.random.default_rng(0).integers(0, len(table), customers)
    big = table.iloc[rows].reset_index(drop=True)
    big["customer_id"] = pd.Series(np.arange(customers)).astype("str")
    timings = []
    for _ in range(2):
        began = time.perf_counter()
        scores = scorer.score(big)
        timings.append(time.perf_counter() - began)
    return {"customers": customers, "seconds": min(timings), "runs": timings,
            "segments": scores["segment"].value_counts().to_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    out: dict[str, object] = environment()
    if not args.data.is_dir():
        out["note"] = f"{args.data} not found: nothing measured"
    else:
        out["bgnbd_cdnow"] = bench_cdnow(args.data)
        retail, prepared, churn, value = bench_online_retail(args.data)
        out |= retail
        out["audience_scoring"] = bench_scoring(prepared, churn, value, args.customers)
    out["season_anchor_synthetic"] = bench_season_anchor()
    out["loadavg_end"] = list(os.getloadavg())
    path = ROOT / "bench" / "results" / "customer_models.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps({k: out.get(k) for k in ("churn", "value", "bgnbd_cdnow", "audience_scoring")}, indent=1, default=str)[:3000])
    print(json.dumps({k: out["season_anchor_synthetic"][k] for k in ("mean", "same_season_beats_bgnbd_prior")}, indent=1))


if __name__ == "__main__":
    main()
