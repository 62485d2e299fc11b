"""BG/NBD and Gamma-Gamma: the published CDNOW estimates, a slow oracle, and the model's basic directions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.loaders import load_cdnow_transactions
from shopml.errors import DataValidationError
from tests.conftest import SHARED_DATA
from training.customers.bgnbd import BGNBD, BGNBDParams, bgnbd_log_likelihood, p_alive
from training.customers.gamma_gamma import GammaGamma
from training.customers.rfm import rfm_from_transactions

PAPER = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.fixture(scope="module")
def cdnow_rfm():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} does not exist (only in the shopml workplace)")
    tx = load_cdnow_transactions(SHARED_DATA / "cdnow" / "CDNOW_sample.txt")
    return rfm_from_transactions(tx, "1997-10-01")


def test_cdnow_summary_matches_the_paper(cdnow_rfm):
    assert len(cdnow_rfm) == 2357
    assert cdnow_rfm.x.sum() == 2457
    assert cdnow_rfm.T.max() == pytest.approx(38.86, abs=0.01)


def test_bgnbd_reproduces_published_cdnow_estimates(cdnow_rfm):
    model = BGNBD().fit(cdnow_rfm.x, cdnow_rfm.t_x, cdnow_rfm.T)
    got = model.params_.to_dict()
    for name, published in PAPER.to_dict().items():
        assert round(got[name], 2) == round(published, 2), (name, got[name])
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)


def test_gamma_gamma_reproduces_published_cdnow_estimates(cdnow_rfm):
    repeat = cdnow_rfm.x > 0
    params = GammaGamma().fit(cdnow_rfm.x[repeat], cdnow_rfm.monetary_repeat[repeat]).params_
    assert (round(params.p, 2), round(params.q, 2), round(params.gamma, 1)) == (6.25, 3.74, 15.4)


def _slow_likelihood(params: BGNBDParams, x: int, t_x: float, T: float) -> float:
    """Equation 6 of Fader, Hardie and Lee (2005) written out directly, without logs."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    beta = math.gamma(a + b) * math.gamma(b + x) / (math.gamma(b) * math.gamma(a + b + x))
    first = math.gamma(r + x) * alpha**r / math.gamma(r)
    term = beta * (alpha + T) ** -(r + x)
    if x > 0:
        term += (math.gamma(a + 1) * math.gamma(b + x - 1) / math.gamma(a + b + x)
                 * math.gamma(a + b) / (math.gamma(a) * math.gamma(b))) * (alpha + t_x) ** -(r + x)
    return math.log(first * term)


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 30.0), (1, 5.0, 30.0), (4, 20.5, 38.0), (12, 37.0, 38.0)])
def test_log_likelihood_equals_the_direct_formula(x, t_x, T):
    fast = bgnbd_log_likelihood(PAPER, np.array([x]), np.array([t_x]), np.array([T]))[0]
    assert fast == pytest.approx(_slow_likelihood(PAPER, x, t_x, T), rel=1e-10)


def test_p_alive_directions():
    x = np.array([0, 3, 3, 3])
    t_x = np.array([0.0, 30.0, 10.0, 30.0])
    T = np.array([38.0, 38.0, 38.0, 31.0])
    alive = p_alive(PAPER, x, t_x, T)
    assert alive[0] == 1.0  # no repeat purchase: BG/NBD cannot have seen a dropout
    assert alive[1] > alive[2]  # a more recent last purchase means more likely alive
    assert alive[3] > alive[1]  # less silence since the last purchase, more likely alive


def test_fit_is_deterministic_and_rejects_bad_input():
    rng = np.random.default_rng(0)
    T = rng.uniform(20, 40, 400)
    x = rng.poisson(2, 400).astype(float)
    t_x = np.where(x > 0, rng.uniform(0, 1, 400) * T, 0.0)
    a = BGNBD().fit(x, t_x, T).params_
    b = BGNBD().fit(x[::-1], t_x[::-1], T[::-1]).params_
    assert a.to_dict() == pytest.approx(b.to_dict(), rel=1e-6)
    with pytest.raises(DataValidationError, match="t_x <= T"):
        BGNBD().fit(np.array([1.0]), np.array([5.0]), np.array([3.0]))
    with pytest.raises(DataValidationError, match="empty"):
        BGNBD().fit(np.array([]), np.array([]), np.array([]))


def test_probability_no_purchase_agrees_with_a_simulated_population():
    """Simulate BG/NBD customers (rate ~ Gamma, dropout after each purchase ~ Beta) and compare the share
    that stays silent in (T, T + t] among those with a given history against the closed form."""
    from training.customers.bgnbd import probability_no_purchase

    rng = np.random.default_rng(11)
    n, T, t = 400_000, 30.0, 13.0
    lam = rng.gamma(PAPER.r, 1 / PAPER.alpha, n)
    p = rng.beta(PAPER.a, PAPER.b, n)
    clock, alive = np.zeros(n), np.ones(n, dtype=bool)
    x, t_x, later = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    while alive.any():
        clock = np.where(alive, clock + rng.exponential(1 / np.maximum(lam, 1e-12)), clock)
        alive &= clock <= T + t
        before = alive & (clock <= T)
        x += before
        t_x = np.where(before, clock, t_x)
        later |= alive & (clock > T)
        alive &= clock <= T  # only the first purchase after T matters
        alive &= rng.random(n) >= p  # leaves for good after a purchase with probability p
    for repeat, low, high in ((0, 0.0, 0.0), (1, 5.0, 10.0), (1, 20.0, 25.0), (2, 20.0, 30.0)):
        group = (x == repeat) & (t_x >= low) & (t_x <= high)
        observed = 1 - later[group].mean()
        expected = probability_no_purchase(PAPER, t, x[group], t_x[group], np.full(group.sum(), T)).mean()
        se = np.sqrt(observed * (1 - observed) / group.sum())
        assert abs(observed - expected) < 4 * se + 1e-3, (repeat, low, high, observed, expected, group.sum())
