"""The inference object: forecasts for known SKUs and regions as a tidy frame, saved to a plain folder.

A :class:`Forecaster` holds the fitted boosters and the state of every series at the forecast origin (the
last complete period of training), so forecasting is one LightGBM call over ``series x horizon`` rows. The
full ``(series, max horizon, quantile)`` array is computed once and cached; later calls slice it, so the
service answers in microseconds with :meth:`forecast_array` (numpy, no pandas).

Conventions: ``period_start`` is the start of the forecast period; ``horizon`` 1 is the period right after
the origin; region ``"ALL"`` is the SKU total and region rows add up to it (see :mod:`reconcile`); SKUs in
the catalogue without any sales get their category's profile (see :func:`model.category_profile`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from features.demand import ALL_REGIONS, DemandFeatureSpec, DemandPanel
from shopml.errors import DataValidationError, NotTrainedError, ShopmlError
from training.contract import Params, ServedModel
from training.forecast.features import scaled_state
from training.forecast.model import (
    FittedQuantileModel,
    GlobalForecastModel,
    ModelParams,
    apply_fallback,
    profile_lookup,
    static_features,
)
from training.forecast.reconcile import top_down
from training.names import DEMAND_FORECAST

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DEFAULT_QUANTILES = (0.1, 0.5, 0.9)


class UnknownSeriesError(ShopmlError, KeyError):
    """A requested SKU or region has no history and no catalogue entry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def quantile_column(q: float) -> str:
    """Column name of quantile ``q``: ``p10``, ``p50``, ``p90``, ``p2.5``."""
    return f"p{100 * q:g}"


class Forecaster(ServedModel):
    """Quantile demand forecasts per SKU and region from the origin it was trained up to.

    Registered as ``demand_forecast``. As a served model, ``predict`` takes rows of ``sku`` and optionally
    ``region`` (a row without a region asks for every region of the SKU plus ``"ALL"``; with one, only that
    series) and ``params`` ``horizon`` (default :attr:`max_horizon`) and ``quantiles`` (default 0.1, 0.5, 0.9).

    Attributes
    ----------
    freq
        ``"W"`` (weeks starting Monday) or ``"D"``.
    skus, regions
        Known SKUs (with history or in the catalogue) and regions (``"ALL"`` included).
    max_horizon
        Longest horizon in periods (the model's training horizon).
    origin
        Start of the last period the model saw; horizon 1 starts one period later.
    """

    registry_names = (DEMAND_FORECAST,)
    optional_inputs = ("region",)

    def __init__(self, fitted: FittedQuantileModel, keys: pd.DataFrame, origin: pd.Timestamp, state: np.ndarray,
                 scale: np.ndarray, static: np.ndarray, profile: dict, new_skus: dict[str, float] | None = None) -> None:
        self.fitted = fitted
        self.keys = keys.reset_index(drop=True)
        self.origin = pd.Timestamp(origin)
        self.state = state.astype("float32")
        self.scale = scale.astype("float64")
        self.static = static.astype("float64")
        self.profile = profile
        self.new_skus = dict(new_skus or {})
        self.freq = fitted.freq
        self.max_horizon = fitted.params.horizon
        self.quantiles = tuple(fitted.params.quantiles)
        self._index = {(s, r): i for i, (s, r) in enumerate(zip(self.keys["sku"], self.keys["region"], strict=True))}
        by_sku: dict[str, list[int]] = {}
        for i, sku in enumerate(self.keys["sku"]):
            by_sku.setdefault(sku, []).append(i)
        self._rows_of_sku = {k: np.array(v) for k, v in by_sku.items()}
        self.skus = sorted(set(self.keys["sku"]) | set(self.new_skus))
        self.regions = sorted(set(self.keys["region"]) | {ALL_REGIONS})
        self._cache: np.ndarray | None = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def fit(cls, panel: DemandPanel, products: pd.DataFrame | None = None, params: ModelParams | None = None,
            spec: DemandFeatureSpec | None = None) -> Forecaster:
        """Train the global model on ``panel`` and keep the state at its last period."""
        model = GlobalForecastModel(params, spec).fit(panel, products)
        return cls.from_model(model, panel, products)

    @classmethod
    def from_model(cls, model: GlobalForecastModel, panel: DemandPanel, products: pd.DataFrame | None = None) -> Forecaster:
        state, scale = scaled_state(panel.values, model.fitted_.spec, origins=[panel.n_periods - 1])
        static, vocab = static_features(panel.keys, products)
        new_skus: dict[str, float] = {}
        if products is not None and len(products):
            lookup = {c: i for i, c in enumerate(vocab)}
            known = set(panel.keys["sku"])
            for sku, cat in zip(products["sku"].astype("str"), products["category"].astype("str"), strict=True):
                if sku not in known:
                    new_skus[sku] = float(lookup.get(cat, np.nan))
        return cls(model.fitted_, panel.keys, panel.periods[-1], state[:, -1], scale[:, -1], static,
                   model.profile_, new_skus)

    # ----------------------------------------------------------------- inference
    def forecast_array(self) -> np.ndarray:
        """``(n_series, max_horizon, n_quantiles)`` reconciled forecasts of every known series (cached)."""
        if self._cache is None:
            self._cache = self._reconciled(np.arange(len(self.keys)))
        return self._cache

    def series_forecasts(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        """``forecast_array()[rows]``, computed for the SKUs of ``rows`` only when the cache is not built.

        Every series of a SKU is forecast together (its regions are reconciled to its total), and no series
        reads another SKU's, so a batch engine's partition of SKUs computes exactly its rows of the full array
        without holding it.
        """
        rows = np.asarray(rows, dtype=int)
        if not len(rows):
            return np.zeros((0, self.max_horizon, len(self.quantiles)))
        if self._cache is not None:
            return self._cache[rows]
        skus = pd.unique(self.keys["sku"].to_numpy()[rows])
        block = np.sort(np.concatenate([self._rows_of_sku[s] for s in skus]))
        return self._reconciled(block)[np.searchsorted(block, rows)]

    def _reconciled(self, block: np.ndarray) -> np.ndarray:
        """Reconciled forecasts of the series in ``block`` (sorted rows holding every series of their SKUs)."""
        pred = self.fitted.predict(self.state[block], self.scale[block], self.static[block], self.origin,
                                   self.max_horizon)
        pred = apply_fallback(pred, self.state[block], self.static[block], self.profile,
                              self.fitted.params.min_history, self.fitted.spec)
        keys = self.keys.iloc[block]
        totals = {s: k for k, (s, r) in enumerate(zip(keys["sku"], keys["region"], strict=True)) if r == ALL_REGIONS}
        parent = np.array([-1 if r == ALL_REGIONS else totals.get(s, -1)
                           for s, r in zip(keys["sku"], keys["region"], strict=True)], dtype=int)
        return top_down(pred, parent, self.quantiles.index(0.5), self.scale[block])

    def series_index(self, sku: str, region: str = ALL_REGIONS) -> int:
        """Row of a series in :meth:`forecast_array`; raises :class:`UnknownSeriesError`."""
        try:
            return self._index[(sku, region)]
        except KeyError:
            raise UnknownSeriesError(self._unknown_message([sku], [region])) from None

    def forecast(
        self,
        skus: Sequence[str] | str | None = None,
        regions: Sequence[str] | str | None = None,
        horizon: int = 8,
        quantiles: Sequence[float] = DEFAULT_QUANTILES,
        *,
        cached: bool = True,
    ) -> pd.DataFrame:
        """Tidy forecasts: ``sku, region, period_start, horizon`` and one column per quantile (``p10``...).

        Parameters
        ----------
        skus
            SKUs to forecast (default: all with history). Catalogue SKUs without sales get the category profile
            (region ``"ALL"`` only).
        regions
            Regions to return (default: every region the SKU sold in plus ``"ALL"``).
        horizon
            Periods ahead, 1 to :attr:`max_horizon`.
        quantiles
            Any quantiles within the trained range (interpolated linearly between trained ones).
        cached
            Compute and keep every series' forecast on first use (the service's answers are then slices);
            False computes only the requested SKUs' series (:meth:`series_forecasts`), what one partition of a
            batch engine does. Both give the same numbers.
        """
        sku_list, region_list, horizon, qs = self.check_request(skus, regions, horizon, quantiles)
        region_set = None if region_list is None else set(region_list)
        rows, labels, new_rows = [], [], []
        for sku in sku_list:
            if sku in self._rows_of_sku:
                for i in self._rows_of_sku[sku]:
                    region = self.keys.at[i, "region"]
                    if region_set is None or region in region_set:
                        rows.append(i)
                        labels.append((sku, region))
            elif region_set is None or ALL_REGIONS in region_set:
                new_rows.append(len(labels))
                labels.append((sku, ALL_REGIONS))
                rows.append(-1)
        pred = np.zeros((len(rows), horizon, len(self.quantiles)))
        idx = np.array(rows, dtype=int)
        known = idx >= 0
        if cached:
            self.forecast_array()
        pred[known] = self.series_forecasts(idx[known])[:, :horizon]
        for j in new_rows:
            code = self.new_skus[labels[j][0]]
            pred[j] = profile_lookup(self.profile, code, 1.0, len(self.quantiles))[None, :]
        values = _interpolate(pred, self.quantiles, qs)
        n = len(labels)
        step = pd.Timedelta(days=7 if self.freq == "W" else 1)
        periods = np.array([self.origin + h * step for h in range(1, horizon + 1)], dtype="datetime64[us]")
        frame = pd.DataFrame({
            "sku": np.repeat(np.array([s for s, _ in labels], dtype=object), horizon).astype("str"),
            "region": np.repeat(np.array([r for _, r in labels], dtype=object), horizon).astype("str"),
            "period_start": np.tile(periods, n),
            "horizon": np.tile(np.arange(1, horizon + 1), n),
        })
        for j, q in enumerate(qs):
            frame[quantile_column(q)] = values[:, :, j].reshape(-1)
        return frame

    def check_request(
        self, skus: Sequence[str] | str | None = None, regions: Sequence[str] | str | None = None, horizon: int = 8,
        quantiles: Sequence[float] = DEFAULT_QUANTILES,
    ) -> tuple[list[str], list[str] | None, int, tuple[float, ...]]:
        """The arguments of :meth:`forecast`, checked and resolved (``skus`` None: every SKU with history), or
        the error :meth:`forecast` would raise; a batch engine checks a request once, before splitting it."""
        horizon = self._check_horizon(horizon)
        qs = self._check_quantiles(quantiles)
        sku_list = self._check_skus(skus)
        region_set = self._check_regions(regions)
        return sku_list, None if region_set is None else sorted(region_set), horizon, qs

    # ----------------------------------------------------------------- served-model contract
    def predict(self, frame: pd.DataFrame, params: Params | None = None) -> pd.DataFrame:
        """:meth:`forecast` for the requested series, in the order of their first request."""
        params = params or {}
        horizon = int(params.get("horizon") or self.max_horizon)
        quantiles = tuple(float(q) for q in params.get("quantiles") or DEFAULT_QUANTILES)
        skus = frame["sku"].astype("str").tolist()
        regions = frame["region"].tolist() if "region" in frame else [None] * len(skus)
        wanted: dict[str, set[str] | None] = {}
        for sku, region in zip(skus, regions, strict=True):
            if region is None or pd.isna(region):
                wanted[sku] = None  # every region
            elif (chosen := wanted.setdefault(sku, set())) is not None:
                chosen.add(str(region))
        parts = [self.forecast(skus=[sku], regions=None if regions_ is None else sorted(regions_),
                               horizon=horizon, quantiles=quantiles) for sku, regions_ in wanted.items()]
        return pd.concat(parts, ignore_index=True) if parts else self.forecast(skus=[], horizon=horizon,
                                                                               quantiles=quantiles)

    def default_params(self) -> dict[str, object]:
        return {"horizon": self.max_horizon, "quantiles": list(DEFAULT_QUANTILES)}

    @property
    def metadata(self) -> dict[str, object]:
        return {"freq": self.freq, "origin": self.origin.isoformat(), "max_horizon": self.max_horizon,
                "quantiles": list(self.quantiles), "series": len(self.keys), "skus": len(self.skus)}

    # ----------------------------------------------------------------- validation
    def _check_horizon(self, horizon: int) -> int:
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or not 1 <= horizon <= self.max_horizon:
            raise DataValidationError(
                f"horizon={horizon!r} is out of range; use a whole number of periods from 1 to {self.max_horizon} "
                f"(the horizon this model was trained for; retrain with a longer --horizon for more)."
            )
        return int(horizon)

    def _check_quantiles(self, quantiles: Sequence[float]) -> tuple[float, ...]:
        qs = tuple(float(q) for q in quantiles)
        lo, hi = self.quantiles[0], self.quantiles[-1]
        bad = [q for q in qs if not lo - 1e-9 <= q <= hi + 1e-9]
        if not qs or bad:
            raise DataValidationError(
                f"quantiles {bad or list(qs)} are outside the trained range [{lo:g}, {hi:g}]; "
                f"ask for quantiles in that range or retrain with wider ones."
            )
        return qs

    def knows_sku(self, sku: str) -> bool:
        """True when :meth:`forecast` can answer for ``sku`` (it sold before the origin, or is a catalogued new SKU)."""
        return sku in self._rows_of_sku or sku in self.new_skus

    def _check_skus(self, skus: Sequence[str] | str | None) -> list[str]:
        if skus is None:
            return sorted(self._rows_of_sku)
        sku_list = [skus] if isinstance(skus, str) else [str(s) for s in skus]
        unknown = [s for s in sku_list if s not in self._rows_of_sku and s not in self.new_skus]
        if unknown:
            raise UnknownSeriesError(self._unknown_message(unknown, []))
        return sku_list

    def _check_regions(self, regions: Sequence[str] | str | None) -> set[str] | None:
        if regions is None:
            return None
        region_list = [regions] if isinstance(regions, str) else [str(r) for r in regions]
        unknown = [r for r in region_list if r not in self.regions]
        if unknown:
            raise UnknownSeriesError(self._unknown_message([], unknown))
        return set(region_list)

    def _unknown_message(self, skus: list[str], regions: list[str]) -> str:
        parts = []
        if skus:
            parts.append(f"unknown SKU(s) {', '.join(skus[:5])}{' ...' if len(skus) > 5 else ''} "
                         f"(no sales before {self.origin.date()} and not in the catalogue; "
                         f"{len(self.skus):,} SKUs are known, e.g. {', '.join(self.skus[:3])})")
        if regions:
            parts.append(f"unknown region(s) {', '.join(regions[:5])} (known: {', '.join(self.regions[:10])}"
                         f"{' ...' if len(self.regions) > 10 else ''})")
        return "; ".join(parts) + "."

    # ----------------------------------------------------------------- persistence
    def save(self, directory: str | Path) -> Path:
        """Write boosters (LightGBM text), arrays (npz) and metadata (JSON) to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for key, booster in self.fitted.boosters.items():
            booster.save_model(str(directory / f"booster_{key}.txt"))
        np.savez(directory / "state.npz", state=self.state, scale=self.scale, static=self.static)
        self.keys.to_csv(directory / "keys.csv", index=False)
        spec = self.fitted.spec
        meta = {
            "format_version": FORMAT_VERSION,
            "freq": self.freq,
            "origin": self.origin.isoformat(),
            "params": self.fitted.params.to_dict(),
            "spec": {"lags": list(spec.lags), "windows": list(spec.windows),
                     "scale_window": spec.scale_window, "calendar": spec.calendar},
            "stretch": {repr(q): c for q, c in self.fitted.stretch.items()},
            "profile": [[None if np.isnan(k[0]) else k[0], k[1], list(map(float, v))] for k, v in self.profile.items()],
            "new_skus": {k: (None if np.isnan(v) else v) for k, v in self.new_skus.items()},
            "boosters": sorted(self.fitted.boosters),
        }
        (directory / "forecaster.json").write_text(json.dumps(meta, indent=1))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Forecaster:
        """Read a folder written by :meth:`save`."""
        import lightgbm as lgb

        directory = Path(directory)
        meta_path = directory / "forecaster.json"
        if not meta_path.is_file():
            raise NotTrainedError(f"no forecaster in {directory}: run `shopml train forecast` first.")
        meta = json.loads(meta_path.read_text())
        params = dict(meta["params"])
        params["quantiles"] = tuple(params["quantiles"])
        spec_d = meta["spec"]
        spec = DemandFeatureSpec(lags=tuple(spec_d["lags"]), windows=tuple(spec_d["windows"]),
                                 scale_window=spec_d["scale_window"], calendar=spec_d["calendar"])
        boosters = {key: lgb.Booster(model_file=str(directory / f"booster_{key}.txt")) for key in meta["boosters"]}
        fitted = FittedQuantileModel(ModelParams(**params), spec, meta["freq"], boosters,
                                     {float(q): c for q, c in meta["stretch"].items()})
        arrays = np.load(directory / "state.npz")
        keys = pd.read_csv(directory / "keys.csv", dtype="str", keep_default_na=False)
        profile = {(np.nan if k0 is None else float(k0), float(k1)): np.array(v) for k0, k1, v in meta["profile"]}
        new_skus = {k: (np.nan if v is None else float(v)) for k, v in meta["new_skus"].items()}
        return cls(fitted, keys, pd.Timestamp(meta["origin"]), arrays["state"], arrays["scale"], arrays["static"],
                   profile, new_skus)


def _interpolate(pred: np.ndarray, trained: tuple[float, ...], wanted: tuple[float, ...]) -> np.ndarray:
    """Linear interpolation of ``pred``'s last axis from the trained quantiles to the wanted ones."""
    if wanted == trained:
        return pred
    out = np.empty((*pred.shape[:2], len(wanted)))
    grid = np.array(trained)
    for j, q in enumerate(wanted):
        k = int(np.clip(np.searchsorted(grid, q), 1, len(grid) - 1))
        lo, hi = grid[k - 1], grid[k]
        t = 0.0 if hi == lo else (q - lo) / (hi - lo)
        t = min(max(t, 0.0), 1.0)
        out[:, :, j] = (1 - t) * pred[:, :, k - 1] + t * pred[:, :, k]
    return out
