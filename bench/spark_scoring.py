"""Scoring customers on Spark: ``mlflow.pyfunc.spark_udf`` against the scorer's own batch method in ``mapInPandas``.

Usage: ``.venv/bin/python bench/spark_scoring.py [--customers 200000] [--master local[2]] [--repeats 3]``

Writes ``bench/results/spark_scoring.json``. A small shop trains churn and value models (seconds); both are
logged as the registered pyfunc models shopml writes (``training.packaging.log_model``) into a temporary MLflow
store. The customer feature table of that shop is repeated (with new customer ids) to ``--customers`` rows,
written as Parquet and scored three ways on one Spark session, each ``--repeats`` times, interleaved (the first
run of each includes its executors' model load; the best and the median are reported):

- ``map_in_pandas``: ``training.batch.score_spark``, i.e. ``CustomerScorer.score`` on each Arrow batch (churn,
  value, P(alive), expected orders and segment), the scorer broadcast once;
- ``spark_udf``: two ``mlflow.pyfunc.spark_udf`` columns (``env_manager="local"``), churn and value only: the
  segment step, which needs both outputs and the features, is not included, so this favours the UDF;
- ``spark_udf_struct``: the same two models with one struct argument each (MLflow's other calling form).

Every run writes its scores to Spark's ``noop`` sink, so the time is the scoring, not a collect or a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "spark_scoring.json"


def train_scorer():
    from features.synthetic import ShopConfig, generate_shop
    from training.customers import (
        ChurnParams,
        CustomerScorer,
        TrainConfig,
        ValueParams,
        fit_churn,
        fit_value,
        prepare,
    )

    shop = generate_shop(ShopConfig(customers=3_000, products=120, days=540, seed=7))
    data = prepare(shop.tables(), TrainConfig(n_train=3, spacing_days=30))
    scorer = CustomerScorer(fit_churn(data, ChurnParams(seed=1)).model, fit_value(data, ValueParams(seed=1)).model)
    return shop, scorer


def feature_table(shop, customers: int) -> pd.DataFrame:
    from features.customers import build_customer_features
    from features.pipeline import default_cutoff

    base = build_customer_features(shop.orders, default_cutoff(shop.orders), products=shop.tables()["products"])
    copies = -(-customers // len(base))
    table = pd.concat([base] * copies, ignore_index=True).iloc[:customers].copy()
    table["customer_id"] = pd.Series([f"C{i:09d}" for i in range(len(table))], dtype="str")
    return table


def log_models(scorer, example: pd.DataFrame, home: Path) -> dict[str, str]:
    from shopml.settings import load_settings
    from training.packaging import log_model
    from training.tracking import training_run

    settings = load_settings(data_home=home)
    uris = {}
    for name, model in (("churn", scorer.churn), ("customer_value", scorer.value)):
        with training_run(settings, "bench-spark-scoring", name):
            uris[name] = log_model(model, example=example)
    return uris


def timed(repeats: int, methods: dict[str, object]) -> dict[str, dict[str, object]]:
    """Each method ``repeats`` times, interleaved (A B C A B C ...) so that a change in the machine's load
    falls on all of them alike."""
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name, run in methods.items():
            began = time.perf_counter()
            run()
            seconds[name].append(round(time.perf_counter() - began, 2))
    return {name: {"seconds": s, "best": min(s), "median": statistics.median(s)} for name, s in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    import mlflow
    from pyspark.sql import functions as F

    from features.spark import start_spark
    from training.batch import score_spark

    load_before = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="shopml-bench-") as tmp:
        home = Path(tmp)
        shop, scorer = train_scorer()
        table = feature_table(shop, args.customers)
        table.to_parquet(home / "customers.parquet", index=False)
        uris = log_models(scorer, table.head(5), home)

        spark = start_spark(args.master, preload=("features.pipeline", "training.batch"))
        features = spark.read.parquet(str(home / "customers.parquet")).repartition(
            2 * spark.sparkContext.defaultParallelism).cache()
        features.count()

        def by_map_in_pandas() -> None:
            from features.schema import SPARK_TYPES
            from features.spark import map_partitions
            from training.customers.predict import SCORE_DTYPES

            schema = ", ".join(f"{n} {SPARK_TYPES[d]}" for n, d in SCORE_DTYPES.items())
            map_partitions(features, scorer.score, key="customer_id", schema=schema, what="customer scores") \
                .write.format("noop").mode("overwrite").save()

        udfs = {name: mlflow.pyfunc.spark_udf(spark, uri, result_type="double", env_manager="local")
                for name, uri in uris.items()}
        inputs = [c.name for c in mlflow.models.get_model_info(uris["churn"]).signature.inputs.inputs]

        def by_spark_udf() -> None:
            columns = [F.col(c) for c in inputs]
            features.select("customer_id", udfs["churn"](*columns).alias("churn_probability"),
                            udfs["customer_value"](*columns).alias("predicted_value")) \
                .write.format("noop").mode("overwrite").save()

        def by_spark_udf_struct() -> None:
            row = F.struct(*[F.col(c) for c in inputs])
            features.select("customer_id", udfs["churn"](row).alias("churn_probability"),
                            udfs["customer_value"](row).alias("predicted_value")) \
                .write.format("noop").mode("overwrite").save()

        # the two paths agree on what both compute (a sample, collected)
        sample = features.limit(2_000)
        mine = score_spark(scorer, sample).set_index("customer_id")
        theirs = sample.select("customer_id", udfs["churn"](*[F.col(c) for c in inputs]).alias("churn_probability"),
                               udfs["customer_value"](*[F.col(c) for c in inputs]).alias("predicted_value")) \
            .toPandas().set_index("customer_id").loc[mine.index]
        agree = {c: float(np.max(np.abs(mine[c].to_numpy() - theirs[c].to_numpy())))
                 for c in ("churn_probability", "predicted_value")}

        runs = timed(args.repeats, {"map_in_pandas": by_map_in_pandas, "spark_udf": by_spark_udf,
                                    "spark_udf_struct": by_spark_udf_struct})
        spark.stop()

    best = {name: run["best"] for name, run in runs.items()}
    result = {
        "customers": args.customers,
        "master": args.master,
        "runs": runs,
        "customers_per_second_best": {name: round(args.customers / s) for name, s in best.items()},
        "max_abs_difference_udf_vs_scorer": agree,
        "chosen": "map_in_pandas",
        "why": "one broadcast scorer gives every column (churn, value, P(alive), expected orders, segment) in one "
               "pass; spark_udf serves one registered model per UDF (two here) and leaves the segment step to a "
               "second copy of CustomerScorer; see the timings",
        "cores": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": list(os.getloadavg()),
        "versions": {p: version(p) for p in ("pyspark", "mlflow", "pandas", "pyarrow", "lightgbm")}
        | {"python": platform.python_version(), "java": _java()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("customers_per_second_best", "max_abs_difference_udf_vs_scorer")}, indent=2))


def _java() -> str:
    import subprocess

    from features.spark import find_java

    out = subprocess.run([find_java(), "-version"], capture_output=True, text=True)
    return (out.stderr or out.stdout).splitlines()[0]


if __name__ == "__main__":
    main()
