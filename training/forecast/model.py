"""The global LightGBM quantile model: one model per quantile across all series and horizons.

Direct multi-horizon: each training row is (series, origin, horizon) with the series' features at the origin
and the horizon as a feature, and the target is the quantity ``horizon`` periods later divided by the
series' scale. Rows are weighted by the scale, so the pinball loss the model minimises is the loss in units,
which is what WAPE (for the median) measures. Intervals are calibrated on earlier origins: each outer
quantile's distance to the median is stretched by the factor that gives the nominal share on those origins.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from features.demand import DemandFeatureSpec, DemandPanel, series_attributes
from shopml.errors import DataValidationError
from training.forecast.features import design_matrix, feature_names, scaled_state

log = logging.getLogger(__name__)

STRATEGIES = ("pooled", "per_horizon")


@dataclass(frozen=True)
class ModelParams:
    """Hyper-parameters of the global model (validated in ``__post_init__``).

    Parameters
    ----------
    horizon
        Longest horizon the model is trained for; forecasts beyond it are refused.
    quantiles
        Quantiles fitted, one booster each (must include 0.5).
    strategy
        ``"pooled"``: one model for all horizons with the horizon as a feature; ``"per_horizon"``: one per horizon.
    max_origins, origin_stride
        Training rows come from the latest ``max_origins`` origins, ``origin_stride`` periods apart.
    min_history
        Series with fewer observed periods at the origin get the category fallback.
    max_rows
        Training rows beyond this are subsampled (seeded), which bounds training time on large panels.
    calibration_origins
        Earlier origins used to stretch the intervals to nominal coverage (0 switches calibration off).
    """

    horizon: int = 8
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    strategy: str = "pooled"
    n_estimators: int = 150
    learning_rate: float = 0.08
    num_leaves: int = 31
    min_child_samples: int = 50
    feature_fraction: float = 0.8
    max_origins: int = 30
    origin_stride: int = 1
    min_history: int = 1
    max_rows: int = 200_000
    calibration_origins: int = 2
    seed: int = 42
    n_jobs: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.horizon <= 366:
            raise DataValidationError(f"horizon={self.horizon} must be between 1 and 366 periods.")
        qs = self.quantiles
        if 0.5 not in qs or any(not 0 < q < 1 for q in qs) or list(qs) != sorted(set(qs)):
            raise DataValidationError(f"quantiles={qs} must be increasing, inside (0, 1) and include 0.5.")
        if self.strategy not in STRATEGIES:
            raise DataValidationError(f"strategy={self.strategy!r}; use one of {', '.join(STRATEGIES)}.")
        if self.max_origins < 1 or self.origin_stride < 1 or self.min_history < 0 or self.calibration_origins < 0:
            raise DataValidationError("max_origins and origin_stride must be >= 1; min_history and "
                                      "calibration_origins >= 0.")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def category_vocabulary(products: pd.DataFrame | None) -> list[str]:
    """The catalogue's categories, sorted: the model's encoding of ``category`` (code = position)."""
    if products is None or products.empty:
        return []
    return sorted(products.drop_duplicates("sku")["category"].dropna().astype("str").unique())


def static_features(keys: pd.DataFrame, products: pd.DataFrame | None,
                    vocab: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """``(n_series, 3)`` category code, log price and is-total flag, and the category vocabulary.

    The attributes come from :func:`features.demand.series_attributes`; the category is encoded with ``vocab``
    (the fitted model's) or, when None, with the vocabulary of ``products``.
    """
    attributes = series_attributes(keys, products)
    vocab = category_vocabulary(products) if vocab is None else vocab
    lookup = {c: i for i, c in enumerate(vocab)}
    code = np.array([lookup.get(c, np.nan) for c in attributes["category"].to_numpy()], dtype="float64")
    total = attributes["is_total"].to_numpy().astype("float64")
    return np.stack([code, attributes["log_price"].to_numpy(dtype="float64"), total], axis=1), vocab


@dataclass
class FittedQuantileModel:
    """What :class:`GlobalForecastModel` learns: boosters per quantile (and per horizon) plus calibration."""

    params: ModelParams
    spec: DemandFeatureSpec
    freq: str
    boosters: dict[str, object]
    stretch: dict[float, float] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        """The boosters' input columns (see :func:`training.forecast.features.feature_names`)."""
        return feature_names(self.spec, self.freq)

    def booster_for(self, q: float, h: int | None):
        key = f"q{q:g}" if self.params.strategy == "pooled" else f"q{q:g}_h{h}"
        return self.boosters[key]

    def predict(self, state: np.ndarray, scale: np.ndarray, static: np.ndarray, origin_period: pd.Timestamp,
                horizon: int) -> np.ndarray:
        """``(n, horizon, n_quantiles)`` forecasts in units: sorted across quantiles, calibrated, >= 0."""
        n = len(state)
        step = pd.Timedelta(days=7 if self.freq == "W" else 1)
        hs = np.tile(np.arange(1, horizon + 1), n)
        rows = np.repeat(np.arange(n), horizon)
        targets = np.array([origin_period + h * step for h in range(1, horizon + 1)], dtype="datetime64[us]")
        X = design_matrix(state[rows], hs, np.tile(targets, n), static[rows], self.spec, self.freq)
        qs = self.params.quantiles
        raw = np.empty((n * horizon, len(qs)))
        for j, q in enumerate(qs):
            if self.params.strategy == "pooled":
                raw[:, j] = self.booster_for(q, None).predict(X, num_threads=self.params.n_jobs)
            else:
                for h in range(1, horizon + 1):
                    sel = hs == h
                    raw[sel, j] = self.booster_for(q, h).predict(X[sel], num_threads=self.params.n_jobs)
        raw = np.sort(raw, axis=1) * scale[rows, None]
        out = apply_stretch(raw, qs, self.stretch)
        return np.maximum(out, 0.0).reshape(n, horizon, len(qs))


def apply_stretch(pred: np.ndarray, quantiles: tuple[float, ...], stretch: dict[float, float]) -> np.ndarray:
    """Stretch each outer quantile's distance to the median by its calibration factor (keeps the order)."""
    mid = quantiles.index(0.5)
    median = pred[:, mid]
    out = pred.copy()
    for j, q in enumerate(quantiles):
        if j != mid:
            out[:, j] = median + stretch.get(q, 1.0) * (pred[:, j] - median)
    return out


class GlobalForecastModel:
    """Global LightGBM quantile forecaster (sklearn style: parameters stored untouched, state in ``fitted_``)."""

    def __init__(self, params: ModelParams | None = None, spec: DemandFeatureSpec | None = None) -> None:
        self.params = params
        self.spec = spec

    def fit(self, panel: DemandPanel, products: pd.DataFrame | None = None) -> GlobalForecastModel:
        """Learn boosters on every origin of ``panel`` and calibrate intervals on its latest origins."""
        params = self.params or ModelParams()
        spec = self.spec or DemandFeatureSpec()
        if panel.n_periods < 3:
            raise DataValidationError(f"only {panel.n_periods} period(s) of history; need at least 3 to train.")
        static, vocab = static_features(panel.keys, products)
        stretch: dict[float, float] = {}
        cal = _calibration_origins(panel.n_periods, params)
        if cal:
            inner = _fit_boosters(panel.truncate(min(cal) + 1), static_features(
                panel.truncate(min(cal) + 1).keys, products)[0], params, spec)
            stretch = _calibrate(inner, panel, static, cal, params, spec)
        self.fitted_ = _fit_boosters(panel, static, params, spec)
        self.fitted_.stretch = stretch
        self.categories_ = vocab
        self.profile_ = category_profile(panel, static, params.quantiles, params.min_history)
        log.info("fitted %d booster(s); interval stretch %s", len(self.fitted_.boosters), stretch)
        return self


    def predict(self, panel: DemandPanel, products: pd.DataFrame | None = None, horizon: int | None = None) -> np.ndarray:
        """``(n_series, horizon, n_quantiles)`` forecasts from the last period of ``panel`` (same series order)."""
        fitted = self.fitted_
        horizon = horizon or fitted.params.horizon
        static, _ = static_features(panel.keys, products, self.categories_)
        state, scale = scaled_state(panel.values, fitted.spec, origins=[panel.n_periods - 1])
        pred = fitted.predict(state[:, -1], scale[:, -1], static, panel.periods[-1], horizon)
        return apply_fallback(pred, state[:, -1], static, self.profile_, fitted.params.min_history, fitted.spec)


def apply_fallback(pred: np.ndarray, state: np.ndarray, static: np.ndarray, profile: dict, min_history: int,
                   spec: DemandFeatureSpec) -> np.ndarray:
    """Series younger than ``min_history`` periods get their category profile; series that never sold get 0.

    A series of all zeros has no level to scale by, so it is forecast as 0 with a zero-width band.
    """
    names = spec.series_names()
    never_sold = state[:, names.index("qty_expanding_mean")] == 0
    pred[never_sold] = 0.0
    age = state[:, names.index("series_age")]
    young = np.flatnonzero(~(age >= min_history))
    for i in young:
        pred[i] = profile_lookup(profile, static[i, 0], static[i, 2], pred.shape[2])[None, :]
    return pred


def _calibration_origins(n_periods: int, params: ModelParams) -> list[int]:
    last = n_periods - 1 - params.horizon
    gap = max(1, params.horizon // 2)
    origins = [last - i * gap for i in range(params.calibration_origins)]
    return [o for o in origins if o >= max(4, params.horizon)]


def training_origins(n_periods: int, params: ModelParams) -> np.ndarray:
    """Origins whose next period is observed, latest first spaced by ``origin_stride``, oldest dropped."""
    latest = n_periods - 2
    origins = np.arange(latest, -1, -params.origin_stride)[: params.max_origins]
    return np.sort(origins)


def training_rows(panel: DemandPanel, static: np.ndarray, params: ModelParams, spec: DemandFeatureSpec):
    """Design matrix, scaled target, weight and horizon of every (series, origin, horizon) training row."""
    origins = training_origins(panel.n_periods, params)
    state, scale = scaled_state(panel.values, spec, origins=origins)
    position = np.full(panel.n_periods, -1)
    position[origins] = np.arange(len(origins))
    s_idx, o_idx, h_idx = [], [], []
    alive = ~np.isnan(panel.values)
    for h in range(1, params.horizon + 1):
        usable = origins[origins + h <= panel.n_periods - 1]
        for o in usable:
            series = np.flatnonzero(alive[:, o])
            s_idx.append(series)
            o_idx.append(np.full(len(series), o))
            h_idx.append(np.full(len(series), h))
    if not s_idx:
        raise DataValidationError("no training rows: the history is shorter than one origin plus one period.")
    s, o, h = (np.concatenate(a) for a in (s_idx, o_idx, h_idx))
    if len(s) > params.max_rows:
        keep = np.sort(np.random.default_rng(params.seed).choice(len(s), params.max_rows, replace=False))
        s, o, h = s[keep], o[keep], h[keep]
    targets = panel.periods.to_numpy()[o + h]
    X = design_matrix(state[s, position[o]], h, targets, static[s], spec, panel.freq)
    sc = scale[s, position[o]]
    y = panel.values[s, o + h] / sc
    return X, y, sc, h


def _fit_boosters(panel: DemandPanel, static: np.ndarray, params: ModelParams, spec: DemandFeatureSpec):
    import lightgbm as lgb

    X, y, w, hs = training_rows(panel, static, params, spec)
    names = feature_names(spec, panel.freq)
    boosters: dict[str, object] = {}
    groups = [(None, np.ones(len(y), dtype=bool))] if params.strategy == "pooled" else [
        (h, hs == h) for h in range(1, params.horizon + 1)]
    for q in params.quantiles:
        for h, sel in groups:
            lgb_params = {
                "objective": "quantile", "alpha": q, "learning_rate": params.learning_rate,
                "num_leaves": params.num_leaves, "min_data_in_leaf": params.min_child_samples,
                "feature_fraction": params.feature_fraction, "bagging_fraction": 1.0, "seed": params.seed,
                "deterministic": True, "force_row_wise": True, "max_bin": 63, "num_threads": params.n_jobs, "verbosity": -1,
            }
            data = lgb.Dataset(X[sel], y[sel], weight=w[sel], feature_name=names, free_raw_data=True)
            key = f"q{q:g}" if h is None else f"q{q:g}_h{h}"
            boosters[key] = lgb.train(lgb_params, data, num_boost_round=params.n_estimators)
    return FittedQuantileModel(params=params, spec=spec, freq=panel.freq, boosters=boosters)


def _calibrate(inner: FittedQuantileModel, panel: DemandPanel, static: np.ndarray, origins: list[int],
               params: ModelParams, spec: DemandFeatureSpec) -> dict[float, float]:
    """Stretch factors so each outer quantile has its nominal share below on ``origins`` (model fit before them)."""
    state, scale = scaled_state(panel.values, spec, origins=origins)
    preds, actual = [], []
    for k, o in enumerate(origins):
        live = np.flatnonzero(~np.isnan(panel.values[:, o]))
        p = inner.predict(state[live, k], scale[live, k], static[live], panel.periods[o], params.horizon)
        preds.append(p.reshape(-1, len(params.quantiles)))
        actual.append(panel.values[live, o + 1: o + 1 + params.horizon].reshape(-1))
    return stretch_factors(np.concatenate(preds), np.concatenate(actual), params.quantiles)


def stretch_factors(pred: np.ndarray, y: np.ndarray, quantiles: tuple[float, ...]) -> dict[float, float]:
    """Per outer quantile, the factor on its distance to the median giving the nominal share below (grid 0.3-4).

    ``pred`` is ``(rows, n_quantiles)`` of uncalibrated forecasts made before the actuals ``y`` were known.
    """
    mid = quantiles.index(0.5)
    grid = np.linspace(0.3, 4.0, 75)
    stretch = {}
    for j, q in enumerate(quantiles):
        if j == mid:
            continue
        shares = []
        for c in grid:
            bound = np.maximum(pred[:, mid] + c * (pred[:, j] - pred[:, mid]), 0.0)
            shares.append(np.mean(y < bound) if q < 0.5 else np.mean(y <= bound))
        stretch[q] = float(grid[int(np.argmin(np.abs(np.array(shares) - q)))])
    return stretch


def category_profile(panel: DemandPanel, static: np.ndarray, quantiles: tuple[float, ...],
                     min_history: int) -> dict[tuple[float, float], np.ndarray]:
    """Fallback forecast for young or new series: quantiles of the recent mean of established series.

    Keyed by (category code, is-total flag); key ``(nan, flag)`` pools every category of that level.
    Established series have at least ``max(min_history, 4)`` observed periods; the recent mean is over
    their last 13 periods.
    """
    values = panel.values
    age = (~np.isnan(values)).sum(axis=1)
    recent = np.nanmean(np.where(np.isnan(values[:, -13:]), np.nan, values[:, -13:]), axis=1) if values.shape[1] else np.zeros(0)
    est = age >= max(min_history, 4)
    profile: dict[tuple[float, float], np.ndarray] = {}
    for total in (0.0, 1.0):
        level = est & (static[:, 2] == total)
        if level.any():
            profile[(np.nan, total)] = np.quantile(recent[level], quantiles)
        for code in np.unique(static[level, 0][~np.isnan(static[level, 0])]):
            sel = level & (static[:, 0] == code)
            if sel.sum() >= 3:
                profile[(float(code), total)] = np.quantile(recent[sel], quantiles)
    return profile


def profile_lookup(profile: dict, code: float, total: float, n_quantiles: int) -> np.ndarray:
    """The fallback quantiles for a category code and level (pooled, then zeros, when unseen)."""
    key = (float(code), float(total))
    if not np.isnan(code) and key in profile:
        return profile[key]
    for k, v in profile.items():
        if np.isnan(k[0]) and k[1] == total:
            return v
    return np.zeros(n_quantiles)
