# ruff: noqa: E402
"""A/B test engine benchmark: speed, false-positive rates with peeking, coverage, variance reduction, power.

Run: ``.venv/bin/python bench/experiments.py`` (add ``--quick`` for a smoke run with fewer simulations).
Writes ``bench/results/experiments.json``. To also compare with GrowthBook's engine, put gbstats on the path
first (it is not a project dependency): ``uv pip install --target /tmp/gbref --no-deps gbstats==0.8.0`` then
``PYTHONPATH=/tmp/gbref .venv/bin/python bench/experiments.py``.

Sections (keys of the JSON):

* ``evaluate_10x4_ms``: median wall time of :func:`experiments.evaluate` on a JSON-like spec with 10 metrics
  (proportion, mean, CUPED mean, ratio, quantile) x 4 arms (30 comparisons), validation included.
* ``aggregate_10m_rows_seconds``: 10 million raw rows (4 arms; a proportion, a winsorized CUPED mean, a ratio
  and a p90) to sufficient statistics, from a DataFrame in memory (and ``..._parquet_seconds`` from a file).
* ``aa_false_positive_rate``: simulated A/A tests with 20 daily looks: the fixed-horizon test read once at the
  end, the naive test read every day, and the always-valid (sequential) test read every day.
* ``coverage``: share of simulated A/B tests whose 95% interval contains the true effect, per method.
* ``variance_reduction``: CUPED (the metric's pre-period value) and CUPAC (LightGBM predictions of 90-day value
  and churn, fitted at an earlier cutoff) on Online Retail I customers at the 2011-09-01 cutoff (PROTOCOLS), averaged over random splits.
* ``power``: simulated power at the sample size that :func:`experiments.plan_sample_size` asks for.
* ``sequential_power_reference``: issue 21's sequential power case (shopml 0.079, GrowthBook's calculator 0.207)
  and the 80 % plan, simulated at 1, 20 and 1,000 looks (``--only sequential_power_reference`` runs just this).
* ``reference_gbstats``: largest differences from gbstats on random inputs where the conventions coincide.

Timings are wall-clock on a 2-core machine shared with other engineers; ``loadavg`` records the contention.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

# This script shares its name with the ``experiments`` package: drop its own folder from the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np
import pandas as pd

from experiments import (
    ExperimentSpec,
    PlanRequest,
    assign_many,
    customer_value_covariate,
    evaluate,
    plan_sample_size,
)
from experiments.aggregate import _quantile_stats, aggregate
from experiments.cuped import cuped_adjust
from experiments.frequentist import (
    absolute_interval,
    critical_value,
    delta_relative,
    fieller_relative,
    log_relative,
    welch_test,
)
from experiments.metrics import CovariateMoments, MetricSpec, MetricStats, arm_estimate
from experiments.sequential import sequential_critical_value, sequential_p_value

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ALPHA = 0.05


def _spec_10x4(rng: np.random.Generator) -> dict:
    """A JSON-like spec with 10 metrics of every type and 4 arms, statistics from simulated units."""
    arms = ["control", "a", "b", "c"]
    kinds = ["proportion", "mean", "mean-cuped", "ratio", "quantile"] * 2
    metrics, data = [], {arm: {} for arm in arms}
    for i, kind in enumerate(kinds):
        name = f"metric_{i}_{kind}"
        metric = {"name": name, "type": kind.split("-")[0], "cuped": kind == "mean-cuped"}
        if kind == "quantile":
            metric["quantile"] = 0.9
        if i in (3, 8):
            metric |= {"role": "guardrail", "margin": 0.02}
        metrics.append(metric)
        for arm in arms:
            n = 20_000 + int(rng.integers(-100, 100))
            x = rng.gamma(2, 10, n)
            y = 0.6 * x + rng.gamma(2, 8, n)
            d = rng.poisson(2, n) + 1.0
            stats: dict = {"n": n}
            if kind == "proportion":
                stats["sum"] = int(rng.binomial(n, 0.05))
            elif kind == "quantile":
                stats |= _quantile_stats(y, 0.9)
            else:
                stats |= {"sum": float(y.sum()), "sum_sq": float(y @ y)}
                if kind == "mean-cuped":
                    stats |= {"cov_sum": float(x.sum()), "cov_sum_sq": float(x @ x), "cov_cross_sum": float(x @ y)}
                if kind == "ratio":
                    stats |= {"den_sum": float(d.sum()), "den_sum_sq": float(d @ d), "cross_sum": float(y @ d)}
            data[arm][name] = stats
    variants = [{"name": arm, "weight": 0.25, "control": arm == "control"} for arm in arms]
    return {"name": "bench-10x4", "variants": variants, "metrics": metrics, "data": data}


def bench_evaluate(repeats: int) -> dict:
    spec = _spec_10x4(np.random.default_rng(0))
    out = {}
    for label, settings in (("fixed", {}), ("sequential", {"sequential": True})):
        timed = {**spec, "settings": settings}
        result = evaluate(timed)  # warm-up (imports, scipy caches)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            evaluate(timed)
            times.append(time.perf_counter() - started)
        out[label] = {"median_ms": 1000 * statistics.median(times), "min_ms": 1000 * min(times)}
        out["comparisons"] = len(result.comparisons)
    print(f"evaluate 10x4: {out['fixed']['median_ms']:.1f} ms median ({out['comparisons']} comparisons), "
          f"sequential {out['sequential']['median_ms']:.1f} ms", flush=True)
    return out


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arms = np.array(["control", "a", "b", "c"])
    pre = rng.gamma(2, 10, n)
    return pd.DataFrame({
        "unit_id": rng.permutation(n).astype(np.int64),
        "variant": pd.Categorical.from_codes(rng.integers(0, 4, n), arms),
        "converted": (rng.random(n) < 0.05).astype(np.int8),
        "revenue": 0.6 * pre + rng.gamma(2, 8, n),
        "sessions": (rng.poisson(2, n) + 1).astype(np.float64),
        "pre_revenue": pre,
    })


def bench_aggregate(n: int) -> dict:
    spec = ExperimentSpec.model_validate({
        "name": "bench-aggregate",
        "variants": [{"name": a, "weight": 0.25, "control": a == "control"} for a in ("control", "a", "b", "c")],
        "metrics": [
            {"name": "conversion", "type": "proportion", "column": "converted"},
            {"name": "revenue", "type": "mean", "cuped": True, "covariate_column": "pre_revenue", "cap_quantile": 0.99},
            {"name": "revenue_per_session", "type": "ratio", "column": "revenue", "denominator_column": "sessions"},
            {"name": "p90_revenue", "type": "quantile", "quantile": 0.9, "column": "revenue"},
        ],
    })
    frame = _rows(n, seed=1)
    started = time.perf_counter()
    _, units, capped = aggregate(spec, frame)
    in_memory = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.parquet"
        frame.to_parquet(path, index=False)
        del frame
        started = time.perf_counter()
        aggregate(spec, path)
        from_parquet = time.perf_counter() - started
    print(f"aggregate {n:,} rows: {in_memory:.2f} s in memory, {from_parquet:.2f} s from Parquet", flush=True)
    return {"rows": n, "seconds": in_memory, "parquet_seconds": from_parquet, "units": units, "capped": capped}


def _daily_looks(rng, sims: int, days: int, daily_per_arm: int, p_c: float, p_t: float):
    """Cumulative binomial conversions per arm at each daily look: (mean, variance of mean, n), (sims, days)."""
    n = daily_per_arm * np.arange(1, days + 1)
    out = []
    for p in (p_c, p_t):
        mean = np.cumsum(rng.binomial(daily_per_arm, p, size=(sims, days)), axis=1) / n
        out.append((mean, mean * (1 - mean) / (n - 1), n))
    return out


def bench_aa(sims: int, days: int = 20, daily: int = 500, p: float = 0.05) -> dict:
    """A/A false-positive rates with daily looks (vectorised: the library's own test functions)."""
    (m_c, v_c, n_c), (m_t, v_t, n_t) = _daily_looks(np.random.default_rng(2), sims, days, daily, p, p)
    _, _, t, _, p_fixed = welch_test(m_c, v_c, n_c, m_t, v_t, n_t)
    p_seq = sequential_p_value(t, n_c + n_t, ALPHA)
    out = {
        "fixed": float(np.mean(p_fixed[:, -1] < ALPHA)),
        "naive_peeking": float(np.mean((p_fixed < ALPHA).any(axis=1))),
        "sequential_peeking": float(np.mean((p_seq < ALPHA).any(axis=1))),
        "sims": sims, "looks": days, "units_per_arm_per_day": daily, "conversion_rate": p, "alpha": ALPHA,
        "sampling_error": float(np.sqrt(ALPHA * (1 - ALPHA) / sims)),
    }
    print(f"A/A ({sims} sims, {days} looks): fixed {out['fixed']:.4f}, naive peeking {out['naive_peeking']:.4f}, "
          f"sequential peeking {out['sequential_peeking']:.4f}", flush=True)
    return out


def bench_aa_end_to_end(sims: int, n: int = 2000) -> dict:
    """A/A through the whole pipeline: raw rows -> evaluate() -> Holm-corrected decision on 3 metrics."""
    rng = np.random.default_rng(3)
    spec = {
        "name": "aa",
        "variants": [{"name": "control", "weight": 0.5, "control": True}, {"name": "treatment", "weight": 0.5}],
        "metrics": [
            {"name": "converted", "type": "proportion"},
            {"name": "revenue", "type": "mean", "cuped": True, "covariate_column": "pre"},
            {"name": "p50", "type": "quantile", "quantile": 0.5, "column": "revenue"},
        ],
    }
    significant = {"converted": 0, "revenue": 0, "p50": 0}
    any_win, shipped = 0, 0
    variant = np.where(np.arange(n) % 2 == 0, "control", "treatment")
    for _ in range(sims):
        pre = rng.gamma(2, 10, n)
        rows = pd.DataFrame({"unit_id": np.arange(n), "variant": variant, "converted": (rng.random(n) < 0.1).astype(int),
                             "revenue": 0.5 * pre + rng.gamma(2, 5, n), "pre": pre})
        result = evaluate(spec, rows)
        for c in result.comparisons:
            significant[c.metric] += c.p_value < ALPHA
        any_win += any(c.outcome != "inconclusive" for c in result.comparisons)
        shipped += result.decision.recommendation == "ship"
    out = {"sims": sims, "units": n, "per_metric": {k: v / sims for k, v in significant.items()},
           "familywise_holm": any_win / sims, "shipped": shipped / sims}
    print(f"A/A end to end ({sims} x evaluate): per metric {out['per_metric']}, family-wise {out['familywise_holm']:.4f}",
          flush=True)
    return out


def _covered(lower, upper, truth) -> float:
    return float(np.mean((lower <= truth) & (truth <= upper)))


def bench_coverage(sims: int) -> dict:
    """Coverage of 95% intervals on simulated A/B tests with a known effect."""
    rng = np.random.default_rng(4)
    out: dict[str, float] = {}
    crit = critical_value(ALPHA, np.inf)
    # Means of normal units: exact sampling distributions of the mean and of the variance.
    n, mu_c, effect, sd = 500, 10.0, 1.0, 8.0
    means, variances = [], []
    for mu in (mu_c, mu_c + effect):
        means.append(rng.normal(mu, sd / np.sqrt(n), sims))
        variances.append(sd**2 * rng.chisquare(n - 1, sims) / (n - 1) / n)
    diff, se, _, df, _ = welch_test(means[0], variances[0], n, means[1], variances[1], n)
    out["absolute_welch"] = _covered(*absolute_interval(diff, se, critical_value(ALPHA, df)), effect)
    # Relative lift: a precise control (cv of the mean 1.6%) and a noisy one (cv 25%).
    for label, se_mean in (("precise_control", 0.016), ("noisy_control", 0.25)):
        m_c, m_t = rng.normal(1.0, se_mean, sims), rng.normal(1.3, se_mean, sims)
        v = np.full(sims, se_mean**2)
        for method, fn in (("fieller", fieller_relative), ("delta", delta_relative), ("log", log_relative)):
            with np.errstate(invalid="ignore", divide="ignore"):
                _, lo, hi = fn(m_c, v, m_t, v, crit)[:3]
            out[f"relative_{method}_{label}"] = _covered(lo, hi, 0.3)
    # Proportions with daily looks: the confidence sequence must cover at every look at once.
    (m_c, v_c, n_c), (m_t, v_t, n_t) = _daily_looks(rng, sims, 20, 500, 0.05, 0.055)
    lo, hi = absolute_interval(m_t - m_c, np.sqrt(v_c + v_t), sequential_critical_value(n_c + n_t, ALPHA))
    out["sequential_all_20_looks"] = float(np.mean(((lo <= 0.005) & (hi >= 0.005)).all(axis=1)))
    lo, hi = absolute_interval(m_t - m_c, np.sqrt(v_c + v_t), crit)
    out["fixed_interval_all_20_looks"] = float(np.mean(((lo <= 0.005) & (hi >= 0.005)).all(axis=1)))
    out["proportion_fixed_last_look"] = _covered(lo[:, -1], hi[:, -1], 0.005)
    # CUPED and quantiles from raw units (fewer simulations: each draws thousands of units).
    raw_sims = max(sims // 20, 200)
    cuped_cov, q_cov = [], {0.5: [], 0.9: []}
    for _ in range(raw_sims):
        x = rng.gamma(2, 10, 2000)
        y = 0.6 * x + rng.gamma(2, 8, 2000) + np.repeat([0.0, 1.0], 1000)
        moments = [
            CovariateMoments(1000, y[s].mean(), x[s].mean(), float(((y[s] - y[s].mean()) ** 2).sum()),
                             float(((x[s] - x[s].mean()) ** 2).sum()),
                             float(((x[s] - x[s].mean()) * (y[s] - y[s].mean())).sum()))
            for s in (slice(0, 1000), slice(1000, 2000))
        ]
        adj = cuped_adjust(*moments)
        d, s, _, df, _ = welch_test(adj.control.mean, adj.control.var, 1000, adj.treatment.mean, adj.treatment.var, 1000)
        cuped_cov.append(_covered(*absolute_interval(d, s, critical_value(ALPHA, df)), 1.0))
        for q in q_cov:
            metric = MetricSpec(name="q", type="quantile", quantile=q)
            c = arm_estimate(MetricStats(n=1000, **_quantile_stats(rng.exponential(10, 1000), q)), metric, "c")
            t = arm_estimate(MetricStats(n=1000, **_quantile_stats(rng.exponential(11, 1000), q)), metric, "t")
            d, s, _, _, _ = welch_test(c.mean, c.var, 1000, t.mean, t.var, 1000, df_free=True)
            q_cov[q].append(_covered(*absolute_interval(d, s, crit), -np.log(1 - q)))
    out["cuped_mean"] = float(np.mean(cuped_cov))
    out["quantile_p50"] = float(np.mean(q_cov[0.5]))
    out["quantile_p90"] = float(np.mean(q_cov[0.9]))
    out["nominal"] = 1 - ALPHA
    out["sims"] = sims
    out["raw_sims"] = raw_sims
    print("coverage: " + ", ".join(f"{k} {v:.4f}" for k, v in out.items() if isinstance(v, float)), flush=True)
    return out


class _CustomerScorer:
    """LightGBM models of 90-day value (tweedie) and churn behind the ``CustomerScorer.score`` interface.

    A stand-in for ``training.customers.CustomerScorer`` (same columns), trained here so that the bench does
    not depend on a registered champion.
    """

    def __init__(self, features: pd.DataFrame, labels: pd.DataFrame):
        import lightgbm as lgb

        params = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 20,
                  "n_jobs": 1, "verbose": -1}
        self.columns = [c for c in features.columns if c != "country"]
        x, labels = features[self.columns], labels.loc[features.index]
        self.value = lgb.LGBMRegressor(objective="tweedie", **params).fit(x, labels["spend_next"].clip(lower=0))
        self.churn = lgb.LGBMClassifier(**params).fit(x, labels["churned"])

    def score(self, features: pd.DataFrame) -> pd.DataFrame:
        x = features[self.columns]
        return pd.DataFrame({"customer_id": features["customer_id"], "predicted_value": self.value.predict(x),
                             "churn_probability": self.churn.predict_proba(x)[:, 1]})


def bench_variance_reduction(splits: int) -> dict:
    """CUPED vs CUPAC on Online Retail I customers (PROTOCOLS cutoffs), over random hash splits."""
    from features.cleaning import customer_model_orders
    from features.customers import CUSTOMER_SET, build_customer_features
    from features.loaders import load_online_retail

    path = DATA / "online_retail" / "online_retail_I.csv.gz"
    if not path.exists():
        return {"skipped": f"{path} not found"}
    orders, _ = customer_model_orders(load_online_retail(path).orders)
    train_cutoff, start = "2011-06-01", "2011-09-01"
    train = build_customer_features(orders, train_cutoff, horizon_days=90).set_index("customer_id")
    scorer = _CustomerScorer(train[CUSTOMER_SET.feature_names], train[CUSTOMER_SET.label_names])
    at_start = build_customer_features(orders, start, horizon_days=90).set_index("customer_id")
    features, labels = at_start[CUSTOMER_SET.feature_names], at_start[CUSTOMER_SET.label_names]
    rows = pd.DataFrame({
        "unit_id": labels.index.astype(str),
        "spend": labels["spend_next"].to_numpy(),
        "converted": (labels["orders_next"] > 0).astype(int).to_numpy(),
        "spend_90d": features.loc[labels.index, "spend_90d"].to_numpy(),
        "orders_90d": features.loc[labels.index, "orders_90d"].to_numpy(dtype=float),
    })
    rows, report = customer_value_covariate(rows, scorer, features)
    rows, _ = customer_value_covariate(rows, scorer, features, prediction="churn_probability", column="churn_probability")
    covariates = {"spend": {"cuped_spend_90d": "spend_90d", "cupac_predicted_value": "predicted_value"},
                  "converted": {"cuped_orders_90d": "orders_90d", "cupac_churn_probability": "churn_probability"}}
    out: dict = {"customers": len(rows), "cutoff": start, "model_cutoff": train_cutoff, "splits": splits,
                 "scored": report.scored}
    variants = [{"name": "control", "weight": 0.5}, {"name": "treatment", "weight": 0.5}]
    reductions: dict[str, list[float]] = {}
    for split in range(splits):
        rows["variant"] = assign_many({"experiment": "vr-bench", "salt": str(split), "variants": variants}, rows["unit_id"])
        for metric, options in covariates.items():
            for label, column in options.items():
                kind = "proportion" if metric == "converted" else "mean"
                spec = {"name": "vr", "variants": [{**variants[0], "control": True}, variants[1]],
                        "metrics": [{"name": metric, "type": kind, "cuped": True, "covariate_column": column}]}
                c = evaluate(spec, rows).comparison(metric, "treatment")
                reductions.setdefault(f"{metric}:{label}", []).append(c.cuped_variance_reduction)
    for key, values in reductions.items():
        metric, label = key.split(":")
        out.setdefault(metric, {})[label] = float(np.mean(values))
    out["note"] = "variance reduction = share of the sample a test needs less for the same power"
    print(f"variance reduction (Online Retail, {len(rows)} customers): {out['spend']} / {out['converted']}", flush=True)
    return out


def bench_power(sims: int) -> dict:
    """Simulated power at the planned sample size (fixed horizon, and sequential with daily looks)."""
    rng = np.random.default_rng(5)
    out = {}
    for label, sequential in (("fixed", False), ("sequential", True)):
        plan = plan_sample_size(PlanRequest(baseline=0.05, mde=0.1, power=0.8, sequential=sequential))
        per_arm = plan.units_per_arm[0]
        days = 20
        daily = int(np.ceil(per_arm / days))
        (m_c, v_c, n_c), (m_t, v_t, n_t) = _daily_looks(rng, sims, days, daily, 0.05, 0.055)
        _, _, t, df, p = welch_test(m_c, v_c, n_c, m_t, v_t, n_t)
        if sequential:
            p_seq = sequential_p_value(t, n_c + n_t, ALPHA)
            empirical_last = float(np.mean(p_seq[:, -1] < ALPHA))
            empirical_any = float(np.mean((p_seq < ALPHA).any(axis=1)))
        else:
            empirical_last = empirical_any = float(np.mean(p[:, -1] < ALPHA))
        out[label] = {"planned_total_units": plan.total_units, "planned_power": plan.power,
                      "simulated_power_final_look": empirical_last, "simulated_power_any_daily_look": empirical_any}
    out["design"] = {"baseline": 0.05, "relative_mde": 0.1, "sims": sims, "looks": 20}
    print(f"power: {out['fixed']} / {out['sequential']}", flush=True)
    return out


def growthbook_sequential_power(baseline: float, mde: float, total_units: float, alpha: float = ALPHA,
                                tuning: float = 5000) -> float:
    """GrowthBook's power calculator for a sequential test of a proportion, two arms (its front-end formula, as
    read in ``packages/shared/src/power.ts``): the relative delta-method standard error is *inflated* by
    ``c_seq / z``, then the fixed-horizon power formula is applied, ``Phi(z (delta / se) / c_seq - z) + ...``."""
    from scipy import stats as st

    per_arm = total_units / 2
    var = baseline * (1 - baseline)
    se_rel = np.sqrt(var / (baseline**2 * per_arm) + var * (1 + mde) ** 2 / (baseline**2 * per_arm))
    z = st.norm.isf(alpha / 2)
    c_seq = float(sequential_critical_value(total_units, alpha, tuning))
    se = se_rel * c_seq / z
    return float(st.norm.sf(z - mde / se) + st.norm.cdf(-z - mde / se))


def bench_sequential_power_reference(sims: int) -> dict:
    """Issue 21: which sequential power is right where shopml and GrowthBook's power calculator disagree?

    Monte Carlo of the always-valid test (the library's own ``welch_test`` and ``sequential_p_value``) on
    binomial data at the planned total, read once at the end, at 20 daily looks, and at 1,000 looks (close to
    continuous monitoring), against ``power_at`` and :func:`growthbook_sequential_power`.
    """
    from experiments import power_at

    cases = {"low_power": (0.2, 0.02, 160_000), "planned_80pct": (0.05, 0.1, 142_242)}
    rng = np.random.default_rng(21)
    out: dict = {}
    for label, (baseline, mde, total) in cases.items():
        req = PlanRequest(baseline=baseline, mde=mde, sequential=True)
        row = {"baseline": baseline, "relative_mde": mde, "total_units": total, "tuning": 5000, "alpha": ALPHA,
               "shopml_power_at": power_at(req, total, mde),
               "growthbook_calculator": growthbook_sequential_power(baseline, mde, total)}
        for looks, n_sims in ((1, sims), (20, sims), (1000, max(sims // 10, 200))):
            daily = total // 2 // looks
            (m_c, v_c, n_c), (m_t, v_t, n_t) = _daily_looks(rng, n_sims, looks, daily, baseline, baseline * (1 + mde))
            _, _, t, _, _ = welch_test(m_c, v_c, n_c, m_t, v_t, n_t)
            rejected = sequential_p_value(t, n_c + n_t, ALPHA) < ALPHA
            rate = float(np.mean(rejected.any(axis=1)))
            row[f"simulated_{looks}_looks"] = {"power": rate, "sims": n_sims,
                                               "mc_se": float(np.sqrt(rate * (1 - rate) / n_sims))}
        out[label] = row
        print(f"sequential power {label}: {row}", flush=True)
    out["reading"] = (
        "shopml's power_at is the chance that the always-valid test rejects at the planned sample; the simulation "
        "at one look reproduces it in both cases. GrowthBook's calculator inflates the standard error instead of "
        "the critical value: below 50 % it overstates even the power of looking 20 times, above 50 % it "
        "understates the power of a single look."
    )
    return out


def bench_gbstats(cases: int) -> dict:
    """Largest differences from gbstats on random mean-metric inputs, where the formulas coincide."""
    try:
        from gbstats.bayesian.tests import EffectBayesianABTest
        from gbstats.frequentist.tests import (
            FrequentistConfig,
            SequentialConfig,
            SequentialTwoSidedTTest,
            TwoSidedTTest,
        )
        from gbstats.models.statistics import SampleMeanStatistic
    except ImportError:
        return {"available": False, "how": "PYTHONPATH=/tmp/gbref after uv pip install --target /tmp/gbref gbstats==0.8.0"}
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # gbstats overflows exp() on huge effects
    rng = np.random.default_rng(6)
    worst = {k: 0.0 for k in ("absolute_ci", "absolute_p", "relative_delta_ci", "sequential_ci", "sequential_p",
                              "chance_to_win", "risk")}
    for _ in range(cases):
        stats = []
        for _arm in range(2):
            n = int(rng.integers(50, 50_000))
            y = rng.gamma(rng.uniform(0.5, 3), rng.uniform(1, 20), n)
            stats.append({"n": n, "sum": float(y.sum()), "sum_sq": float(y @ y)})
        gb = [SampleMeanStatistic(n=s["n"], sum=s["sum"], sum_squares=s["sum_sq"]) for s in stats]
        spec = {"name": "ref", "variants": [{"name": "a", "weight": 0.5, "control": True}, {"name": "b", "weight": 0.5}],
                "metrics": [{"name": "m", "type": "mean"}], "units": {"a": 1000, "b": 1000},
                "data": {"a": {"m": stats[0]}, "b": {"m": stats[1]}}}
        fixed = evaluate({**spec, "settings": {"relative_interval": "delta", "prior": {"sd": None}}}).comparison("m", "b")
        seq = evaluate({**spec, "settings": {"relative_interval": "delta", "sequential": True}}).comparison("m", "b")
        ref_abs = TwoSidedTTest(gb[0], gb[1], FrequentistConfig(difference_type="absolute")).compute_result()
        ref_rel = TwoSidedTTest(gb[0], gb[1]).compute_result()
        ref_seq = SequentialTwoSidedTTest(gb[0], gb[1], SequentialConfig(difference_type="absolute")).compute_result()
        ref_bayes = EffectBayesianABTest(gb[0], gb[1]).compute_result()

        def gap(key, ours, theirs):
            worst[key] = max(worst[key], float(np.max(np.abs(np.asarray(ours, float) - np.asarray(theirs, float)))))

        gap("absolute_ci", [fixed.absolute_lower, fixed.absolute_upper], ref_abs.ci)
        gap("absolute_p", fixed.p_value, ref_abs.p_value)
        gap("relative_delta_ci", [fixed.relative_lower, fixed.relative_upper], ref_rel.ci)
        gap("sequential_ci", [seq.absolute_lower, seq.absolute_upper], ref_seq.ci)
        gap("sequential_p", seq.p_value, ref_seq.p_value)
        gap("chance_to_win", fixed.bayesian.chance_to_win, ref_bayes.chance_to_win)
        gap("risk", [fixed.bayesian.risk_not_ship, fixed.bayesian.risk_ship], ref_bayes.risk)
    out = {"available": True, "version": version("gbstats") if _has_dist("gbstats") else "on PYTHONPATH",
           "cases": cases, "max_abs_difference": worst}
    print(f"gbstats agreement over {cases} random cases: {worst}", flush=True)
    return out


def _has_dist(name: str) -> bool:
    try:
        version(name)
    except Exception:  # noqa: BLE001 - importlib raises PackageNotFoundError
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer simulations and rows (smoke run).")
    parser.add_argument("--only", choices=["sequential_power_reference"],
                        help="Run one section and update it in the existing results file.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    quick = args.quick
    path = ROOT / "bench" / "results" / "experiments.json"
    if args.only:
        results = json.loads(path.read_text()) if path.exists() else {}
        results[args.only] = bench_sequential_power_reference(sims=2_000 if quick else 20_000) | {
            "command": f".venv/bin/python bench/experiments.py --only {args.only}" + (" --quick" if quick else ""),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "loadavg": os.getloadavg(),
        }
        path.write_text(json.dumps(results, indent=2) + "\n")
        print(f"updated {args.only} in {path}")
        return
    out = {
        "cores": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "versions": {p: version(p) for p in ("numpy", "scipy", "pandas", "pydantic", "pyarrow", "lightgbm")}
        | {"python": platform.python_version()},
        "command": (f"PYTHONPATH={os.environ['PYTHONPATH']} " if os.environ.get("PYTHONPATH") else "")
        + ".venv/bin/python bench/experiments.py" + (" --quick" if quick else ""),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    evaluation = bench_evaluate(repeats=10 if quick else 100)
    out["evaluate_10x4_ms"] = evaluation["fixed"]["median_ms"]
    out["evaluate_10x4"] = evaluation
    aggregation = bench_aggregate(1_000_000 if quick else 10_000_000)
    out["aggregate_10m_rows_seconds"] = aggregation["seconds"]
    out["aggregate_10m_rows_parquet_seconds"] = aggregation["parquet_seconds"]
    out["aggregate"] = aggregation
    out["aa_false_positive_rate"] = bench_aa(sims=2_000 if quick else 40_000)
    out["aa_end_to_end"] = bench_aa_end_to_end(sims=100 if quick else 1_000)
    out["coverage"] = bench_coverage(sims=2_000 if quick else 40_000)
    out["variance_reduction"] = bench_variance_reduction(splits=3 if quick else 20)
    out["power"] = bench_power(sims=2_000 if quick else 20_000)
    out["sequential_power_reference"] = bench_sequential_power_reference(sims=2_000 if quick else 20_000)
    out["reference_gbstats"] = bench_gbstats(cases=20 if quick else 300)
    out["loadavg_end"] = os.getloadavg()
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
