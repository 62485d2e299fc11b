"""KPI alerts on planted shocks, false alerts on quiet shops, and KPI speed on 10M order lines.

Usage: ``.venv/bin/python bench/monitoring.py [--skip-10m] [--big-shop PATH] [--order-lines 10000000]``
(``--skip-10m`` runs only the alert part and keeps the last speed figures.)

1. **Alerts.** Synthetic shops (two years each; 10,000 to 40,000 customers; first days in different seasons)
   are split into a *validation* set and a *test* set by seed. On the validation shops a small grid of alert
   settings (threshold, minimum effect, trend weight, error window, year-over-year weight) is scored; the chosen settings are those
   with the fewest days to detection among those with at most 0.75 false alerts per 90 quiet days on every
   KPI series (a quarter under the bar, for margin). A second grid, at that pick, scores how a young shop's
   second season uses last year (:data:`YOUNG_GRID`: the growth line's slope weight and which days a year
   before may serve as reference) on the validation shocks *and* the validation season drops (below), with
   the same rule. The picks are compared with :class:`monitoring.AlertSettings` (the defaults), and the
   defaults are measured on the test shops only:

   * **shocks** (:func:`features.synthetic.shocks.plant_shock`): a 20 % demand drop, a 20 % price cut and a
     30 % churn wave, each planted in its own copy of a test shop on a day drawn from the shop's seed (at
     least 20 weeks in, so the baseline and its error scale exist). ``detected_after_days`` is how many days
     of the shock the monitor had seen when the first alert on one of the shock's KPIs (:data:`EXPECTED`, in
     the shock's direction) fired: 1 = on the planted day's own data. Missed within 28 days: ``null``.
   * **false alerts**: alerts (episodes of consecutive flagged days, dated by their first day) on the quiet
     test shops, per KPI series, per 90 judged days.
   * a **size sweep**: the share of test shocks caught within 7 days at 10, 20 and 30 %.
   * **season drops**: a 20 % demand drop planted on the pre-Christmas ramp (a day drawn from 1 November to
     10 December, from the shop's seed) of every season with at least 20 weeks of history before it: the
     hardest days for a baseline, as the ramp steepens; in a shop's first season there is no last year.
2. **Speed.** A shop of ``--order-lines`` lines is written chunk by chunk (or read from ``--big-shop``), read
   (timed apart), and every KPI table is computed: the coding pass, then by day, week and month for the
   whole shop and per country and per category, and the cohort grids.

Writes ``bench/results/monitoring.json`` with the load average before and after each timed part.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from features.synthetic import ShopConfig, generate_shop  # noqa: E402
from features.synthetic.shocks import plant_shock  # noqa: E402
from monitoring.alerts import AlertSettings, detect_alerts  # noqa: E402
from monitoring.kpis import Ledger  # noqa: E402

SHOCKS: tuple[tuple[str, float], ...] = (("demand_drop", 0.2), ("price_change", -0.2), ("churn_wave", 0.3))
"""(kind, size) of the planted shocks, fixed before any setting was tried."""
SWEEP_SIZES = (0.1, 0.2, 0.3)
EXPECTED: dict[str, tuple[str, ...]] = {
    "demand_drop": ("orders", "gmv", "units", "customers"),
    "price_change": ("aov", "gmv"),
    "churn_wave": ("returning_customers", "customers", "orders", "gmv"),
}
"""The KPIs a shock should move; a shock counts as detected by the first alert on one of them, in the
shock's direction (down, except a price rise)."""
SEASON_DROP = ("demand_drop", 0.2)
"""The season drops' kind and size, planted on a day from 1 November to 10 December (``SEASON_DAYS`` days)."""
SEASON_DAYS = 40
WITHIN_DAYS = 7
MISSED_AFTER_DAYS = 28
FALSE_ALERT_BAR = 1.0
TUNING_FALSE_ALERTS = 0.75
EARLIEST_SHOCK_DAY = 140
GRID = {"threshold": (2.5, 3.0, 3.5), "min_effect": (0.05, 0.08), "trend": (0.5, 1.0), "error_weeks": (13, 26),
        "yearly": (0.0, 0.25, 0.5, 0.75, 1.0)}
YOUNG_GRID = {"growth_trend": (0.0, 0.5, 1.0), "yearly_reference": ("settled", "baseline")}


@dataclass(frozen=True)
class ShopSpec:
    seed: int
    customers: int
    start: str

    def config(self) -> ShopConfig:
        return ShopConfig(customers=self.customers, start=self.start, days=730, seed=self.seed)

    def name(self) -> str:
        return f"seed {self.seed}, {self.customers:,} customers from {self.start}"


VALIDATION = tuple(ShopSpec(seed, customers, start) for seed, customers, start in (
    (1, 10_000, "2022-01-01"), (2, 20_000, "2022-04-01"), (3, 40_000, "2022-07-01"),
    (4, 20_000, "2022-10-01"), (5, 10_000, "2022-06-01"), (6, 40_000, "2022-02-01"),
))
TEST = tuple(ShopSpec(seed, customers, start) for seed, customers, start in (
    (101, 20_000, "2023-01-01"), (102, 10_000, "2022-05-01"), (103, 40_000, "2022-09-01"),
    (104, 20_000, "2022-12-01"), (105, 10_000, "2022-03-01"), (106, 40_000, "2022-11-01"),
))


@dataclass
class Scenario:
    """One shop, quiet or with one shock, as whole-shop daily KPIs."""

    shop: ShopSpec
    kind: str | None
    size: float
    planted_on: pd.Timestamp | None
    daily: pd.DataFrame
    family: str = "protocol"
    """``protocol`` (the quiet shop and the shocks on drawn days) or ``season`` (a drop on the pre-Christmas ramp)."""


def scenarios(specs: tuple[ShopSpec, ...], sizes: dict[str, tuple[float, ...]]) -> list[Scenario]:
    """Per shop: the quiet shop, each shock on a day drawn from the seed, and the season drops."""
    out = []
    for spec in specs:
        tables = generate_shop(spec.config()).tables()
        out.append(Scenario(spec, None, 0.0, None, Ledger.of(tables).kpis("day").table))
        first = tables["orders"]["ordered_at"].min().normalize()
        rng = np.random.default_rng(spec.seed)
        for kind, kind_sizes in sizes.items():
            planted = first + pd.Timedelta(days=int(rng.integers(EARLIEST_SHOCK_DAY, 730 - MISSED_AFTER_DAYS - 7)))
            for size in kind_sizes:
                out.append(_shocked(spec, tables, kind, size, planted, "protocol"))
        last = tables["orders"]["ordered_at"].max().normalize()
        season_rng = np.random.default_rng([spec.seed, 17])
        for year in range(first.year, last.year + 1):
            planted = pd.Timestamp(f"{year}-11-01") + pd.Timedelta(days=int(season_rng.integers(0, SEASON_DAYS)))
            if (planted - first).days >= EARLIEST_SHOCK_DAY and planted + pd.Timedelta(days=MISSED_AFTER_DAYS + 7) <= last:
                out.append(_shocked(spec, tables, *SEASON_DROP, planted, "season"))
    return out


def _shocked(spec: ShopSpec, tables: dict[str, pd.DataFrame], kind: str, size: float, planted: pd.Timestamp,
             family: str) -> Scenario:
    shocked = plant_shock(tables, kind, planted, size, seed=spec.seed)
    daily = Ledger.of(shocked, planted + pd.Timedelta(days=MISSED_AFTER_DAYS + 1)).kpis("day").table
    return Scenario(spec, kind, size, planted, daily, family)


def evaluate(settings: AlertSettings, cases: list[Scenario]) -> dict[str, object]:
    """Detection delays on the shocked scenarios and false alerts per 90 days on the quiet ones."""
    shocks, false_alerts, judged = [], {r.kpi: 0 for r in settings.rules}, {r.kpi: 0 for r in settings.rules}
    for case in cases:
        result = detect_alerts(case.daily, settings)
        if case.kind is None:
            for rule in settings.rules:
                rows = result.days.loc[result.days["kpi"] == rule.kpi]
                judged[rule.kpi] += len(rows)
            for alert in result.alerts:
                false_alerts[alert.kpi] += 1
            continue
        direction = "up" if case.kind == "price_change" and case.size > 0 else "down"
        first_days = {}
        for alert in result.alerts:  # alerts that start once the shock has begun; one already running does not count
            if alert.kpi in EXPECTED[case.kind] and alert.direction == direction and alert.first_day >= case.planted_on:
                days = int((alert.first_day - case.planted_on).days) + 1
                first_days[alert.kpi] = min(days, first_days.get(alert.kpi, days))
        best = min(first_days, key=first_days.get) if first_days else None
        shocks.append({
            "kind": case.kind, "size": case.size, "shop": case.shop.name(), "kpi": best,
            "shop_age_days": int((case.planted_on - pd.Timestamp(case.shop.start)).days),
            "planted_on": f"{case.planted_on:%Y-%m-%d}",
            "detected_after_days": first_days[best] if best else None,
            "by_kpi": first_days,
        })
    per_90 = {k: round(90 * false_alerts[k] / judged[k], 3) if judged[k] else None for k in false_alerts}
    delays = [s["detected_after_days"] if s["detected_after_days"] is not None else MISSED_AFTER_DAYS + 1
              for s in shocks]
    return {
        "shocks": shocks,
        "false_alerts_per_90_days": per_90,
        "false_alerts_per_90_days_max": max((v for v in per_90.values() if v is not None), default=None),
        "false_alerts": false_alerts,
        "judged_days": judged,
        "mean_days_to_detect": round(statistics.mean(delays), 2) if delays else None,
        "max_days_to_detect": max(delays) if delays else None,
        "detected_within_7_days": sum(d <= WITHIN_DAYS for d in delays),
        "shocks_planted": len(delays),
    }


def tune(cases: list[Scenario], grid: dict[str, tuple[object, ...]] = GRID,
         start: AlertSettings | None = None) -> tuple[AlertSettings, list[dict[str, object]]]:
    """Every point of ``grid`` (from ``start``, default :class:`AlertSettings()`) on the validation cases; the
    pick: fewest days to detect (mean, then max, then fewest false alerts, then the larger minimum effect)
    among those within :data:`TUNING_FALSE_ALERTS` false alerts per 90 days on every series."""
    start = start or AlertSettings()
    rows = []
    for values in itertools.product(*grid.values()):
        point: dict[str, Any] = dict(zip(grid, values, strict=True))
        scored = evaluate(replace(start, **point), cases)
        rows.append({**point, **{k: scored[k] for k in ("false_alerts_per_90_days_max", "mean_days_to_detect",
                                               "max_days_to_detect", "detected_within_7_days", "shocks_planted")}})
    eligible = [r for r in rows if (r["false_alerts_per_90_days_max"] or 0) <= TUNING_FALSE_ALERTS] or rows
    best = min(eligible, key=lambda r: (r["mean_days_to_detect"], r["max_days_to_detect"],
                                        r["false_alerts_per_90_days_max"], -float(r.get("min_effect", start.min_effect))))
    picked: dict[str, Any] = {k: best[k] for k in grid}
    return replace(start, **picked), rows


def speed(order_lines: int, big_shop: Path | None) -> dict[str, object]:
    """Seconds to compute every KPI table of a shop of ``order_lines`` lines (generated unless given)."""
    from features.store import load_tables
    from features.synthetic import ChunkedShopConfig, write_chunked_shop

    scratch = None
    out: dict[str, object] = {}
    if big_shop is None:
        scratch = Path(tempfile.mkdtemp(prefix="shopml-kpi-bench-"))
        big_shop = scratch / "shop"
        began = time.perf_counter()
        written = write_chunked_shop(ChunkedShopConfig(order_lines=order_lines), big_shop)
        out["generate_seconds"] = round(time.perf_counter() - began, 2)
        out["generated"] = written.summary()
    try:
        began = time.perf_counter()
        tables = load_tables(big_shop, ("orders", "products"))
        out["read_seconds"] = round(time.perf_counter() - began, 2)
        out["order_lines"] = len(tables["orders"])
        out["loadavg_before"] = [round(v, 2) for v in os.getloadavg()]
        parts: dict[str, float] = {}
        wall, cpu = time.perf_counter(), time.process_time()
        began = time.perf_counter()
        ledger = Ledger.of(tables)
        parts["coding"] = time.perf_counter() - began
        for by in (None, "country", "category"):
            for freq in ("day", "week", "month"):
                began = time.perf_counter()
                ledger.kpis(freq, by)
                parts[f"{freq}/{by or 'shop'}"] = time.perf_counter() - began
            began = time.perf_counter()
            ledger.cohorts(by)
            parts[f"cohorts/{by or 'shop'}"] = time.perf_counter() - began
        out["seconds"] = round(time.perf_counter() - wall, 2)
        out["cpu_seconds"] = round(time.process_time() - cpu, 2)
        out["report_seconds"] = round(parts["coding"] + parts["day/shop"] + parts["cohorts/shop"], 2)
        out["parts_seconds"] = {k: round(v, 2) for k, v in parts.items()}
        out["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-10m", action="store_true", help="Skip the speed part (keeps the last figure).")
    parser.add_argument("--big-shop", type=Path, default=None, help="A folder of canonical tables to time on.")
    parser.add_argument("--order-lines", type=int, default=10_000_000, help="Lines of the generated big shop.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "monitoring.json")
    args = parser.parse_args(argv)

    loadavg_start = [round(v, 2) for v in os.getloadavg()]
    loadavg_alerts = [round(v, 2) for v in os.getloadavg()]
    began = time.perf_counter()
    validation = scenarios(VALIDATION, {kind: (size,) for kind, size in SHOCKS})
    protocol = [c for c in validation if c.family == "protocol"]
    chosen, grid = tune(protocol)
    chosen, young_grid = tune(validation, YOUNG_GRID, chosen)
    validation_scored = {family: evaluate(chosen, [c for c in validation if c.kind is None or c.family == family])
                         for family in ("protocol", "season")}
    defaults = AlertSettings()
    test = scenarios(TEST, {kind: tuple(sorted({size, *(np.sign(size) * s for s in SWEEP_SIZES)}))
                            for kind, size in SHOCKS})
    headline = [c for c in test if c.kind is None or (c.family == "protocol" and (c.kind, c.size) in SHOCKS)]
    measured = evaluate(defaults, headline)
    sweep = evaluate(defaults, [c for c in test if c.family == "protocol" and c.kind is not None])
    season = evaluate(defaults, [c for c in test if c.family == "season"])
    by_size: dict[str, dict[str, float]] = {}
    for shock in sweep["shocks"]:
        cell = by_size.setdefault(shock["kind"], {}).setdefault(f"{abs(shock['size']):.0%}", [])
        cell.append(shock["detected_after_days"] is not None and shock["detected_after_days"] <= WITHIN_DAYS)
    alerts_seconds = time.perf_counter() - began

    result: dict[str, object] = {
        "kpi_alerts": {
            "shocks": [{k: s[k] for k in ("kpi", "planted_on", "detected_after_days", "kind", "size", "shop",
                                          "shop_age_days", "by_kpi")} for s in measured["shocks"]],
            "false_alerts_per_90_days": measured["false_alerts_per_90_days_max"],
            "false_alerts_per_90_days_by_kpi": measured["false_alerts_per_90_days"],
            "false_alerts_by_kpi": measured["false_alerts"],
            "quiet_days_judged_by_kpi": measured["judged_days"],
            "detected_within_7_days": f"{measured['detected_within_7_days']} of {measured['shocks_planted']}",
            "max_days_to_detect": measured["max_days_to_detect"],
            "bars": {
                "detected_within_7_days": measured["detected_within_7_days"] == measured["shocks_planted"],
                "false_alerts_at_most_1_per_90_days_per_series":
                    measured["false_alerts_per_90_days_max"] <= FALSE_ALERT_BAR,
            },
            "share_caught_within_7_days_by_size": {
                kind: {size: round(float(np.mean(v)), 2) for size, v in sizes.items()} for kind, sizes in by_size.items()
            },
            "season_drops": {
                "what": "a 20 % demand drop on a day from 1 November to 10 December of every season with 20 weeks "
                        "of history before it (test shops); not part of the bar",
                "detected_within_7_days": f"{season['detected_within_7_days']} of {season['shocks_planted']}",
                "shocks": [{k: s[k] for k in ("planted_on", "shop", "shop_age_days", "detected_after_days", "kpi")}
                           for s in season["shocks"]],
            },
            "settings": defaults.to_dict(),
            "tuning": {
                "validation_shops": [s.name() for s in VALIDATION],
                "test_shops": [s.name() for s in TEST],
                "shocks": [{"kind": k, "size": v} for k, v in SHOCKS],
                "rule": f"fewest mean days to detect among settings with at most {TUNING_FALSE_ALERTS} false "
                        "alerts per 90 days on every series, on the validation shops",
                "young_shop_rule": "at the first grid's pick, the same rule on the validation shocks and the "
                                   "validation season drops together",
                "chosen_on_validation": {k: getattr(chosen, k) for k in (*GRID, *YOUNG_GRID)},
                "defaults_equal_chosen": all(getattr(chosen, k) == getattr(defaults, k) for k in (*GRID, *YOUNG_GRID)),
                "validation_with_chosen": {
                    family: {"detected_within_7_days": f"{r['detected_within_7_days']} of {r['shocks_planted']}",
                             "mean_days_to_detect": r["mean_days_to_detect"],
                             "false_alerts_per_90_days_max": r["false_alerts_per_90_days_max"],
                             "delays": [[s["shop"], s["kind"], s["planted_on"], s["detected_after_days"]]
                                        for s in r["shocks"]]}
                    for family, r in validation_scored.items()},
                "grid": grid,
                "young_grid": young_grid,
            },
            "seconds": round(alerts_seconds, 1),
            "loadavg_start": loadavg_alerts,
            "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        },
    }
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if args.skip_10m:
        result["kpi_seconds_10m_lines"] = previous.get("kpi_seconds_10m_lines")
        result["kpi_speed"] = previous.get("kpi_speed")
    else:
        timing = speed(args.order_lines, args.big_shop)
        result["kpi_seconds_10m_lines"] = timing["seconds"]
        result["kpi_speed"] = timing
    result.update({
        "command": "python bench/monitoring.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
        "cores": os.cpu_count(),
        "loadavg_start": loadavg_start,
        "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        "versions": {"python": platform.python_version(), "numpy": version("numpy"), "pandas": version("pandas"),
                     "pyarrow": version("pyarrow")},
        "platform": platform.platform(),
    })
    result = {**previous, **result}  # keep what other scripts wrote (the replay, the serving figures)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=_json_default) + "\n")
    print(json.dumps({k: v for k, v in result["kpi_alerts"].items() if k not in ("tuning", "shocks")}, indent=2,
                     default=_json_default))
    print(json.dumps({"kpi_seconds_10m_lines": result["kpi_seconds_10m_lines"], "loadavg_start": loadavg_start},
                     indent=2))
    return result


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    main()
