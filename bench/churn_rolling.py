"""Churn calibration across seasons on Online Retail I: the rolling protocol of ``../shared/PROTOCOLS.md``.

Usage: ``.venv/bin/python bench/churn_rolling.py [--data ../shared/data] [--calibrations bgnbd_prior,none]``

At each rolling evaluation cutoff (2011-06-01, 07-01, 08-01, 09-01) the churn recipe is trained only on label
windows that end by that cutoff (``TrainConfig(evaluation_cutoff=...)``, the default settings otherwise) and
judged on the 90 days from it: ROC-AUC and ECE (10 bins). Writes ``churn.rolling`` into
``bench/results/customer_models.json`` (the other keys kept): ``{"cutoffs": [...], "ece_mean": ...,
"roc_auc_mean": ..., "per_cutoff": ..., "calibrations": {name: {...}}}``; the headline figures are the default
calibration's. The other calibrations are listed for the record, never used to choose (their choice was made
on the validation cutoffs, see ``churn.validation``).

``prior_weight_selection`` shows where ``ChurnParams.prior_weight`` (the share of BG/NBD's rate in the base
rate aimed at when there is no season anchor) was chosen: the booster is fitted once per cutoff without
calibration, and for each weight of the grid the prior shift is applied and the ECE measured, at the
validation cutoffs 2011-05-04 .. 2011-06-03 (the weight with the lowest mean ECE there is the default) and,
for the record only, at the rolling cutoffs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ROLLING_CUTOFFS = ("2011-06-01", "2011-07-01", "2011-08-01", "2011-09-01")
VALIDATION_CUTOFFS = ("2011-05-04", "2011-05-14", "2011-05-24", "2011-06-03")
PRIOR_WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0)


def prior_weight_selection(tables, cache) -> dict[str, object]:
    """ECE per prior weight at the validation and the rolling cutoffs (one uncalibrated fit per cutoff)."""
    from shopml.metrics import expected_calibration_error
    from training.customers import ChurnParams, TrainConfig, fit_churn, prepare
    from training.customers.churn import _logit, bgnbd_no_purchase_rate, prior_shift_offset

    ece: dict[str, dict[str, float]] = {}
    for cutoff in (*VALIDATION_CUTOFFS, *ROLLING_CUTOFFS):
        data = prepare(tables, TrainConfig(evaluation_cutoff=cutoff), cache)
        result = fit_churn(data, ChurnParams(calibration="none"))
        y = result.predictions["churned"].to_numpy()
        raw = result.predictions["churn_probability"].to_numpy()
        bgnbd = bgnbd_no_purchase_rate(data, data.evaluation)
        ece[cutoff] = {}
        for weight in PRIOR_WEIGHTS:
            offset = prior_shift_offset(raw, weight * bgnbd + (1 - weight) * float(raw.mean()))
            ece[cutoff][str(weight)] = expected_calibration_error(y, 1 / (1 + np.exp(-(_logit(raw) + offset))))
    mean = {group: {str(w): float(np.mean([ece[c][str(w)] for c in cutoffs])) for w in PRIOR_WEIGHTS}
            for group, cutoffs in (("validation", VALIDATION_CUTOFFS), ("rolling", ROLLING_CUTOFFS))}
    best = min(PRIOR_WEIGHTS, key=lambda w: mean["validation"][str(w)])
    return {"grid": list(PRIOR_WEIGHTS), "chosen_on_validation": best, "mean_ece": mean, "per_cutoff": ece}


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--calibrations", default="", help="Other calibrations to list beside the default.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "customer_models.json")
    args = parser.parse_args(argv)

    from features.loaders import load_online_retail
    from training.customers import ChurnParams, TrainConfig, fit_churn, prepare

    load_start = [round(v, 2) for v in os.getloadavg()]
    began = time.perf_counter()
    tables = load_online_retail(args.data / "online_retail" / "online_retail_I.csv.gz").tables
    default = ChurnParams().calibration
    names = [default, *[c for c in args.calibrations.split(",") if c and c != default]]
    cache: dict = {}
    selection = prior_weight_selection(tables, cache)
    print("prior weight chosen on validation:", selection["chosen_on_validation"], selection["mean_ece"], flush=True)
    per_cutoff: dict[str, dict[str, object]] = {}
    for cutoff in ROLLING_CUTOFFS:
        data = prepare(tables, TrainConfig(evaluation_cutoff=cutoff), cache)
        row: dict[str, object] = {"churn_rate": float(data.evaluation["churned"].mean()),
                                  "customers": len(data.evaluation), "train_cutoffs": len(data.plan.train)}
        for name in names:
            result = fit_churn(data, ChurnParams(calibration=name))
            row[name] = {"roc_auc": result.metrics["roc_auc"], "ece": result.metrics["ece"],
                         "mean_prediction": float(result.predictions["churn_probability"].mean()),
                         "method": result.calibration_fold.get("method", name)}
        per_cutoff[cutoff] = row
        print(cutoff, {n: {k: round(v, 4) if isinstance(v, float) else v for k, v in row[n].items()} for n in names},
              f"churn rate {row['churn_rate']:.3f}", flush=True)
    summary = {name: {"ece_mean": float(np.mean([per_cutoff[c][name]["ece"] for c in ROLLING_CUTOFFS])),
                      "roc_auc_mean": float(np.mean([per_cutoff[c][name]["roc_auc"] for c in ROLLING_CUTOFFS]))}
               for name in names}
    rolling = {"cutoffs": list(ROLLING_CUTOFFS), "calibration": default, **summary[default],
               "per_cutoff": per_cutoff, "calibrations": summary, "prior_weight": ChurnParams().prior_weight,
               "prior_weight_selection": selection, "seconds": round(time.perf_counter() - began, 1),
               "loadavg_start": load_start, "loadavg_end": [round(v, 2) for v in os.getloadavg()],
               "command": "python bench/churn_rolling.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()}
    result = json.loads(args.out.read_text()) if args.out.is_file() else {}
    result.setdefault("churn", {})["rolling"] = rolling
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=1))
    return rolling


if __name__ == "__main__":
    main()
