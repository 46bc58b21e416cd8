"""The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV:
using iso-value curves for customer base analysis", JMR 42(4); Colombo & Jiang 1999): each
user's spends are gamma(p, nu) around their own mean, nu gamma(q, gamma) across users.

Fitted on users with at least one repeat purchase (``x`` purchases after the first,
``mean_spend`` their mean); a user's expected spend per purchase shrinks their own mean
towards the population's, the more so the fewer purchases they made. Spend must be
positive: users whose repeat purchases had no positive spend get the population's mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from personae.errors import DataError

__all__ = ["GammaGammaParams", "expected_spend", "fit_gamma_gamma"]

#: Fewest users with a repeat purchase for a spend model (below, no expected_value).
MIN_REPEAT_BUYERS = 10


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean(self) -> float:
        """The expected spend per purchase of a user with no repeat purchase yet."""
        return self.p * self.gamma / (self.q - 1)


def log_likelihood(params: np.ndarray, x: np.ndarray, mean_spend: np.ndarray) -> np.ndarray:
    p, q, gamma = params
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
            + (px - 1) * np.log(mean_spend) + px * np.log(x)
            - (px + q) * np.log(x * mean_spend + gamma))


def fit_gamma_gamma(x: np.ndarray, mean_spend: np.ndarray, *, source: str = "events"
                    ) -> GammaGammaParams:
    """Maximum-likelihood p, q, gamma from the users with a repeat purchase."""
    x = np.asarray(x, dtype=np.float64)
    mean_spend = np.asarray(mean_spend, dtype=np.float64)
    # a mean of zero or less is no spend to model (the summaries never give one)
    used = (x > 0) & np.isfinite(mean_spend) & (mean_spend > 0)
    if used.sum() < MIN_REPEAT_BUYERS:
        raise DataError(f"fewer than {MIN_REPEAT_BUYERS} users made a repeat purchase with "
                        "positive spend: too few to learn spend per purchase", source=source)
    x, m = x[used], mean_spend[used]
    scale = float(np.mean(m))  # fitted in units of the mean spend, so gamma starts near 1

    m = m / scale

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):  # a step too far is a non-finite loss, refused
            params = np.exp(theta)
            value = -np.mean(log_likelihood(params, x, m))
            gradient = -_gradient(params, x, m)
        if not np.isfinite(value) or not np.isfinite(gradient).all():
            return 1e10, np.zeros(3)
        return float(value), gradient

    found = minimize(loss, np.zeros(3), jac=True, method="L-BFGS-B",
                     bounds=[(-12.0, 12.0)] * 3)
    p, q, gamma = np.exp(found.x)
    if q <= 1:
        raise DataError("spend per purchase varies too much across users for a finite mean "
                        f"(Gamma-Gamma q = {q:.3g} <= 1)", source=source)
    return GammaGammaParams(float(p), float(q), float(gamma * scale))


def _gradient(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The mean log-likelihood's gradient in the log-parameters."""
    p, q, gamma = params
    px = p * x
    shared = digamma(px + q)
    total = np.log(x * m + gamma)
    d_p = np.mean(x * (shared - digamma(px) + np.log(m) + np.log(x) - total))
    d_q = np.mean(shared - digamma(q) + np.log(gamma) - total)
    d_gamma = np.mean(q / gamma - (px + q) / (x * m + gamma))
    return np.array([d_p, d_q, d_gamma]) * params


def expected_spend(params: GammaGammaParams, x: np.ndarray, mean_spend: np.ndarray
                   ) -> np.ndarray:
    """Expected spend per purchase: the population mean for users without a repeat
    purchase with positive spend, else their mean shrunk towards it (the paper's
    equation 5)."""
    m = np.asarray(mean_spend, dtype=np.float64)
    seen = np.isfinite(m) & (m > 0)
    x = np.where(seen, np.asarray(x, dtype=np.float64), 0.0)
    return params.p * (params.gamma + x * np.where(seen, m, 0.0)) / (params.p * x + params.q - 1)
