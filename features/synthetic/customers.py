"""Buy-till-you-die customers: arrival, purchase times, dropout, spend and category taste.

Each customer ``i`` arrives at an operational time ``u0_i`` drawn uniformly over the history (so arrivals
follow the seasonality) and places the first order then. Repeat orders follow a Poisson process of rate
``lambda_i`` in operational time; after every purchase, the first included, the customer drops out with
probability ``p_i``, so the number of purchases before dropout is ``K_i ~ Geometric(p_i)``. This is the
BG/NBD story with dropout also possible after the first order (as in MBG/NBD).

Vectorised: with ``N_i ~ Poisson(lambda_i (T - u0_i))`` potential repeat orders in the window, the customer
places ``M_i = min(K_i - 1, N_i)`` of them, at the first ``M_i`` order statistics of ``N_i`` uniforms on
``(u0_i, T)``: ``U_(k) = S_k / (S_M + G)`` with ``S`` cumulative standard exponentials and
``G ~ Gamma(N_i - M_i + 1)`` standing for the remaining spacings. Only the orders placed are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.synthetic.config import ShopConfig


@dataclass(frozen=True)
class Population:
    """Customers' latent parameters and their order times (operational days).

    Orders are sorted by customer, then time; ``order_customer`` gives each order's customer.
    ``dropout_op`` is NaN for customers still alive at the end of the history.
    """

    region: np.ndarray
    arrival_op: np.ndarray
    rate: np.ndarray
    dropout_p: np.ndarray
    spend: np.ndarray
    taste: np.ndarray
    dropout_op: np.ndarray
    order_customer: np.ndarray
    order_op: np.ndarray

    @property
    def size(self) -> int:
        return self.rate.size


def simulate_population(
    config: ShopConfig, total_op: float, category_share: np.ndarray, rng: np.random.Generator
) -> Population:
    """Draw every customer's parameters and purchase times over ``[0, total_op)`` operational days."""
    b = config.behaviour
    n = config.customers
    weights = np.array([r.weight for r in config.regions], dtype=float)
    region = rng.choice(weights.size, size=n, p=weights / weights.sum())
    arrival = rng.uniform(0.0, total_op, size=n)
    rate = rng.gamma(b.rate_shape, b.rate_mean / b.rate_shape, size=n)
    dropout_p = rng.beta(b.dropout_a, b.dropout_b, size=n)
    spend = rng.gamma(b.spend_shape, 1.0 / b.spend_shape, size=n)
    taste = draw_tastes(n, category_share, b.taste_concentration, rng)

    purchases_before_dropout = rng.geometric(np.clip(dropout_p, 1e-12, 1.0))
    remaining = total_op - arrival
    potential = rng.poisson(rate * remaining)
    repeats = np.minimum(purchases_before_dropout - 1, potential)
    dropped = purchases_before_dropout - 1 <= potential

    customer = np.repeat(np.arange(n), repeats)
    spacing = np.cumsum(rng.exponential(size=customer.size))
    first = np.r_[0, np.cumsum(repeats)[:-1]]
    before = np.r_[0.0, spacing][first]  # cumulative spacing before each customer's first repeat
    partial = spacing - before[customer]
    last_partial = np.zeros(n)
    has = repeats > 0
    last_partial[has] = partial[first[has] + repeats[has] - 1]
    denominator = last_partial + rng.gamma(potential - repeats + 1.0)
    repeat_op = arrival[customer] + remaining[customer] * partial / denominator[customer]

    last_op = arrival.copy()
    last_op[has] = repeat_op[first[has] + repeats[has] - 1]
    dropout_op = np.where(dropped, last_op, np.nan)

    # Interleave first orders and repeats: customer-major, time-minor.
    order_customer = np.concatenate([np.arange(n), customer])
    order_op = np.concatenate([arrival, repeat_op])
    order = np.lexsort((order_op, order_customer))
    return Population(
        region=region,
        arrival_op=arrival,
        rate=rate,
        dropout_p=dropout_p,
        spend=spend,
        taste=taste,
        dropout_op=dropout_op,
        order_customer=order_customer[order],
        order_op=order_op[order],
    )


def draw_tastes(
    n: int, category_share: np.ndarray, concentration: float, rng: np.random.Generator
) -> np.ndarray:
    """Dirichlet category tastes with mean ``category_share``; rows sum to 1 (guarded against underflow)."""
    alpha = concentration * category_share
    gammas = rng.gamma(np.broadcast_to(alpha, (n, alpha.size)))
    totals = gammas.sum(axis=1)
    empty = totals <= 0  # all draws underflowed (tiny alpha): give the customer one category
    if empty.any():
        pick = rng.choice(alpha.size, size=int(empty.sum()), p=category_share)
        gammas[empty] = 0.0
        gammas[np.flatnonzero(empty), pick] = 1.0
        totals = gammas.sum(axis=1)
    return gammas / totals[:, None]
