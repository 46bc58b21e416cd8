"""The BG/NBD model of repeat events (Fader, Hardie & Lee 2005, "Counting your customers the
easy way", Marketing Science 24(2)): while alive a user makes repeat events at a Poisson
rate (gamma across users: r, alpha); after each repeat event they leave for good with a
probability (beta across users: a, b). Its variant MBG/NBD (Batislam, Denizel & Filiztekin
2007, "Empirical validation and comparison of models for customer base analysis", IJRM
24(3); Hoppe & Wagner 2007) lets them leave after any event, the first included: a user
who never came back can have left, where BG/NBD holds them alive for certain. In the
formulas MBG/NBD is BG/NBD with one more chance to leave (``_extra``: b + x - 1 becomes
b + x, B(a, b + x) becomes B(a, b + x + 1)).

Every function takes one row per user (or per distinct summary, with ``weights``): ``x``
repeat events after the first, ``t_x`` the time from the first to the last, ``T`` the time
from the first to the end of the observation, in one time unit (the parameters' alpha is
in that unit). Fitted by maximum likelihood on the log-parameters (scipy), vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

from personae.errors import DataError

__all__ = ["VARIANTS", "BGNBDParams", "conditional_expected", "distinct", "fit_bgnbd",
           "log_likelihood", "p_alive", "unconditional_expected"]

VARIANTS = ("BG/NBD", "MBG/NBD")


#: Bounds of the log-parameters r, alpha, a, b. A log of users alike (no heterogeneity)
#: drives r and alpha up together without end; past r = e^8 (~3,000) the rate's gamma is a
#: point already, and scipy's 2F1 stops giving finite values further out.
LOG_BOUNDS = [(-10.0, 8.0), (-10.0, 16.0), (-10.0, 8.0), (-10.0, 8.0)]


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted parameters, the time unit alpha is in (days per unit) and the variant
    (``VARIANTS``: BG/NBD or MBG/NBD)."""

    r: float
    alpha: float
    a: float
    b: float
    unit_days: float = 7.0
    variant: str = "BG/NBD"

    def as_dict(self) -> dict[str, float]:
        """The numbers (the variant is the forecast document's ``model``)."""
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b,
                "unit_days": self.unit_days}


def _extra(variant: str) -> float:
    """The one more chance to leave MBG/NBD gives (after the first event): 0 or 1."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    return float(variant == "MBG/NBD")


def _left(a: float, b: float, x: np.ndarray, extra: float) -> tuple[np.ndarray, np.ndarray]:
    """Where a user can have left right after their last event (BG/NBD: only after a
    repeat event; MBG/NBD: after any) and the log of the odds' first factor a / (b+x-1+e)."""
    can = (x > 0) | (extra > 0)
    return can, np.log(a) - np.log(np.where(can, b + x - 1 + extra, 1.0))


def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                   variant: str = "BG/NBD") -> np.ndarray:
    """Each user's log-likelihood (the paper's equation 6; MBG/NBD: Batislam et al.'s), in
    logs so large x stays finite."""
    r, alpha, a, b = params
    extra = _extra(variant)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) \
        + betaln(a, b + x + extra) - betaln(a, b)
    stayed = -(r + x) * np.log(alpha + T)
    can, odds = _left(a, b, x, extra)
    left = np.where(can, odds - (r + x) * np.log(alpha + t_x), -np.inf)
    return head + np.logaddexp(stayed, left)


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, unit_days: float = 7.0,
              weights: np.ndarray | None = None, source: str = "events",
              variant: str = "BG/NBD") -> BGNBDParams:
    """Maximum-likelihood parameters of ``variant``. Summaries that cannot identify the
    model (nobody came back, no time observed) are refused with one line naming why."""
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    _check_summaries(x, t_x, T, source)
    total = w.sum()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):  # a step too far is a non-finite loss, refused
            value, gradient = _loss_and_gradient(np.exp(theta), x, t_x, T, w, variant)
        if not np.isfinite(value) or not np.isfinite(gradient).all():
            return 1e10, np.zeros(4)
        return value / total, gradient / total

    mean_T = max(float(np.average(T, weights=w)), 1e-3)
    best = None
    # the second start guards the rare flat first one (it runs only when the first fails)
    for start in ([0.0, np.log(mean_T), 0.0, 0.0],
                  [np.log(0.5), np.log(mean_T / 4), np.log(0.5), np.log(2.0)]):
        found = minimize(loss, np.asarray(start), jac=True, method="L-BFGS-B",
                         bounds=LOG_BOUNDS)
        if best is None or found.fun < best.fun:
            best = found
        if best.success and best.fun < 1e10:
            break
    assert best is not None
    r, alpha, a, b = np.exp(best.x)
    if not np.isfinite(best.fun) or best.fun >= 1e10:
        raise DataError("the repeat-event model found no fit for these users (every "
                        "likelihood was zero)", source=source)
    return BGNBDParams(float(r), float(alpha), float(a), float(b), float(unit_days), variant)


def _loss_and_gradient(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                       w: np.ndarray, variant: str = "BG/NBD") -> tuple[float, np.ndarray]:
    """The weighted negative log-likelihood and its gradient in the log-parameters
    (derived from ``log_likelihood`` term by term)."""
    r, alpha, a, b = params
    extra = _extra(variant)
    can, odds = _left(a, b, x, extra)
    stayed = -(r + x) * np.log(alpha + T)
    left = np.where(can, odds - (r + x) * np.log(alpha + t_x), -np.inf)
    both = np.logaddexp(stayed, left)
    ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x + extra) \
        - betaln(a, b) + both
    share_left = np.exp(left - both)
    share_stayed = 1.0 - share_left
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) \
        - share_stayed * np.log(alpha + T) - share_left * np.log(alpha + t_x)
    d_alpha = r / alpha - share_stayed * (r + x) / (alpha + T) \
        - share_left * (r + x) / (alpha + t_x)
    d_a = digamma(a + b) - digamma(a + b + x + extra) + share_left / a
    d_b = digamma(b + x + extra) - digamma(a + b + x + extra) - digamma(b) + digamma(a + b) \
        - share_left / np.where(can, b + x - 1 + extra, 1.0)
    gradient = np.array([np.dot(w, d) for d in (d_r, d_alpha, d_a, d_b)]) * params
    return -float(np.dot(w, ll)), -gradient


def _check_summaries(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, source: str) -> None:
    if len(x) == 0:
        raise DataError("no users to forecast", source=source)
    if not (np.isfinite(x).all() and np.isfinite(t_x).all() and np.isfinite(T).all()):
        raise DataError("a user's repeat count or times are missing", source=source)
    if (x < 0).any() or (t_x < 0).any() or (t_x > T + 1e-9).any():
        raise DataError("user summaries need 0 <= x and 0 <= t_x <= T", source=source)
    if T.max() <= 0:
        raise DataError("the history is a single day: no time to see anyone come back; "
                        "forecasts need events on at least two days", source=source)
    if x.max() == 0:
        raise DataError("nobody came back after their first day (no repeat events): a "
                        "repeat-event forecast has nothing to learn from", source=source)


def p_alive(params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
            ) -> np.ndarray:
    """P(still active at T | x, t_x, T). BG/NBD: 1 for users with no repeat event (it lets
    users leave only right after a repeat event); MBG/NBD: below 1 for everyone."""
    return 1.0 / (1.0 + _odds_left(params, np.asarray(x, float), np.asarray(t_x, float),
                                   np.asarray(T, float)))


def _odds_left(params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
               ) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    can, odds = _left(a, b, x, _extra(params.variant))
    log_odds = odds + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(can, np.exp(np.minimum(log_odds, 700.0)), 0.0)


def conditional_expected(params: BGNBDParams, t: float, x: np.ndarray, t_x: np.ndarray,
                         T: np.ndarray) -> np.ndarray:
    """Expected repeat events in (T, T + t] given the user's history (the paper's
    equation 10); ``t`` in the parameters' unit. Its ``((alpha+T)/(alpha+T+t))^(r+x)
    2F1(r+x, b+x; a+b+x-1; z)`` is computed in Pfaff's form, ``2F1(r+x, a-1; a+b+x-1;
    -t/(alpha+T))``: the same number without the power that overflows for large r
    (MBG/NBD: a+b+x in place of a+b+x-1)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    c = a + b - 1 + _extra(params.variant)
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    if t <= 0:
        return np.zeros(len(x))
    # 2F1 depends on x and T only, which users share far more often than t_x: once each
    codes, first = distinct(x, T)
    px, pT = x[first], T[first]
    hyp = _hyp2f1(r + px, np.full(len(px), a - 1), c + px, -t / (alpha + pT))[codes]
    expected = (c + x) / (a - 1) * (1 - hyp)
    return expected / (1.0 + _odds_left(params, x, t_x, T))


def distinct(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code among the distinct rows of ``columns``, and each code's first row
    (a hash grouping: numpy's unique over rows sorts, ten times slower at 1M)."""
    frame = pd.DataFrame({str(i): c for i, c in enumerate(columns)})
    codes = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    first = np.empty(int(codes.max()) + 1 if len(codes) else 0, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # the earliest row writes last
    return codes, first


def _hyp2f1(A: np.ndarray, B: np.ndarray, C: np.ndarray, w: np.ndarray) -> np.ndarray:
    """scipy's 2F1; where it gives no finite value (parameters in the thousands, as a
    fit drifting towards no heterogeneity reaches) and |w| < 1, the series summed."""
    with np.errstate(all="ignore"):
        out = np.asarray(hyp2f1(A, B, C, w), dtype=np.float64)
    redo = ~np.isfinite(out) & (np.abs(w) < 1)
    if redo.any():
        A, B, C, w = (np.broadcast_to(v, out.shape)[redo] for v in (A, B, C, w))
        term = np.ones(len(A))
        total = np.ones(len(A))
        for k in range(1_000):
            term = term * (A + k) * (B + k) / ((C + k) * (k + 1)) * w
            total += term
            if np.all(np.abs(term) <= 1e-15 * np.abs(total)):
                break
        out[redo] = total
    return out


def unconditional_expected(params: BGNBDParams, t: float) -> float:
    """Expected repeat events of a new user in their first ``t`` (the paper's
    equation 9; MBG/NBD: Batislam et al.'s)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if params.variant == "MBG/NBD":
        hyp = hyp2f1(r, b + 1, a + b, t / (alpha + t))
        return float(b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp))
    hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp))
