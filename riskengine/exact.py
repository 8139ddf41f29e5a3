"""Exact laws of scores that are linear in independent inputs, by FFT convolution.

When ``S = c0 + sum(c_i x_i)`` with independent ``x_i`` (the arithmetic model without
correlations, estimates inside their scales), S's distribution is the convolution of the
terms' distributions. Each term ``c_i x_i`` is discretised on one common grid of spacing ``h``
by its *cell probabilities* (differences of its CDF at the cell edges, so the Beta density's
infinite values at the ends never enter), the masses are convolved by FFT, and the result is a
piecewise-linear CDF on the grid. Mean and standard deviation come from the closed forms.

Discretising moves each term by less than ``h / 2`` with (nearly) zero mean, so percentiles
are off by a second-order amount, about ``k h^2 / (24 sigma)``: far below 1e-4 at the default
grid (tests/test_exact.py checks against closed forms).

Pure functions over numpy arrays; no knowledge of scenarios or of the scoring model.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from threading import Lock

import numpy as np
from numpy.typing import NDArray

from riskengine.scoring import BandRule, band_names, band_specs

FloatArray = NDArray[np.float64]

GRID = 1 << 14  # FFT length: the law of the sum lives on about this many cells
FIXED, PERT, TRIANGULAR, UNIFORM = 0, 1, 2, 3


@dataclass(frozen=True)
class Law:
    """A distribution given by its CDF at equally spaced edges ``start + i * step``.

    Between edges the CDF is linear (each cell's mass spread evenly over it). A point mass has
    ``step == 0`` and ``cdf == [0, 1]``.
    """

    start: float
    step: float
    cdf: FloatArray
    mean: float
    std: float
    support: tuple[float, float] = (-np.inf, np.inf)  # the true range; the grid's may be wider

    @property
    def edges(self) -> FloatArray:
        # not cached: a comparison of 1,000 scenarios holds 3,000 laws, and their edges would
        # double its memory for 20 microseconds saved per use
        return self.start + self.step * np.arange(self.cdf.size, dtype=float)

    @property
    def end(self) -> float:
        """The last edge."""
        return self.start + self.step * (self.cdf.size - 1)

    @cached_property
    def _areas(self) -> FloatArray:
        """The integral of the CDF from the first edge to each edge (it is linear between
        edges, so the trapezoids are exact)."""
        return np.concatenate([[0.0], np.cumsum((self.cdf[:-1] + self.cdf[1:])
                                                * (self.step / 2.0))])

    def integral_at(self, x: FloatArray) -> FloatArray:
        """G(x), the integral of the piecewise-linear CDF from minus infinity to x (0 below
        the first edge, rising by 1 per unit beyond the last), for a law with ``step > 0``.
        The grid is uniform, so each x finds its cell by arithmetic, not by a search."""
        last = self.cdf.size - 1
        u = (np.asarray(x, dtype=float) - self.start) / self.step
        out = np.zeros(u.shape)
        beyond = u >= last
        out[beyond] = self._areas[-1] + (u[beyond] - last) * self.step
        inside = (u > 0.0) & ~beyond
        out[inside] = self._inside(u[inside])
        return out

    def _inside(self, u: FloatArray) -> FloatArray:
        """G at positions ``u`` (in cells from the first edge, 0 < u < last): the area up to
        the cell's left edge plus the trapezoid within it."""
        cell = u.astype(np.intp)  # u > 0: truncation is the floor
        r = u - cell
        value = self._slopes[cell] * (r / 2.0)
        value += self.cdf[cell]
        value *= r
        value *= self.step
        value += self._areas[cell]
        return value

    @cached_property
    def _slopes(self) -> FloatArray:
        return np.diff(self.cdf)

    def forget_integrals(self) -> None:
        """Drop the cached integral tables (two arrays the size of the CDF): a comparison that
        has taken every pair a law is in needs them no more, and 1,000 laws' tables were
        two thirds of its memory."""
        vars(self).pop("_areas", None)
        vars(self).pop("_slopes", None)

    def integral_on_grid(self, start: float, step: float, size: int) -> FloatArray:
        """:meth:`integral_at` of the ``size`` points ``start + i * step`` (ascending): the
        points below the first edge and beyond the last are two runs at the ends, found by
        a search, so only the points inside take the cell arithmetic (what a comparison of
        thousands of laws spends its time on)."""
        last = self.cdf.size - 1
        u = np.arange(size, dtype=float)
        u *= step / self.step
        u += (start - self.start) / self.step
        out = np.zeros(size)
        lo = int(np.searchsorted(u, 0.0, side="right"))
        hi = int(np.searchsorted(u, float(last), side="left"))
        if hi < size:
            out[hi:] = self._areas[-1] + (u[hi:] - last) * self.step
        if lo < hi:
            out[lo:hi] = self._inside(u[lo:hi])
        return out

    def cdf_at(self, x: FloatArray | float) -> FloatArray:
        x = np.asarray(x, dtype=float)
        if self.step == 0.0:
            return np.where(x >= self.start, 1.0, 0.0)
        out = np.asarray(np.interp(x, self.edges, self.cdf, left=0.0, right=1.0))
        # in place on interp's fresh array: the values of the nested np.where, without its
        # two temporaries (a comparison calls this twice per pair of laws)
        out[x < self.support[0]] = 0.0
        out[x >= self.support[1]] = 1.0
        return out

    def quantile(self, p: FloatArray | float) -> FloatArray:
        """The least x with F(x) >= p (inverse of the piecewise-linear CDF)."""
        p = np.asarray(p, dtype=float)
        if self.step == 0.0:
            return np.full(p.shape, self.start)
        return np.clip(_invert(self.edges, self.cdf, p), *self.support)


def _invert(edges: FloatArray, cdf: FloatArray, p: FloatArray) -> FloatArray:
    i = np.clip(np.searchsorted(cdf, p, side="left"), 1, cdf.size - 1)
    lo, hi = cdf[i - 1], cdf[i]
    frac = np.where(hi > lo, (p - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
    return edges[i - 1] + np.clip(frac, 0.0, 1.0) * (edges[i] - edges[i - 1])


def raw_cdf(kind: int, low: float, mode: float, high: float, a: float, b: float,
            x: FloatArray) -> FloatArray:
    """CDF of one estimate (PERT as Beta(a, b) on [low, high], triangular, uniform)."""
    from scipy.special import betainc

    width = high - low
    z = np.clip((x - low) / width, 0.0, 1.0)
    if kind == PERT:
        return np.asarray(betainc(a, b, z), dtype=float)
    if kind == TRIANGULAR:
        c = (mode - low) / width
        with np.errstate(divide="ignore", invalid="ignore"):
            left = np.where(c > 0, z * z / c, 1.0)
            right = np.where(c < 1, 1.0 - (1.0 - z) ** 2 / (1.0 - c), 1.0)
        return np.where(z <= c, np.where(z <= 0, 0.0, left), right)
    return z


def linear_law(c0: float, coef: FloatArray, kind: NDArray[np.int8], low: FloatArray,
               mode: FloatArray, high: FloatArray, a: FloatArray, b: FloatArray,
               mean: float, std: float, grid: int = GRID) -> Law:
    """The law of ``c0 + sum(coef_i x_i)`` for independent estimates ``x_i``.

    ``mean`` and ``std`` are passed in from the closed forms; the CDF is computed here.
    """
    found = _convolved(c0, coef, kind, low, mode, high, a, b, grid)
    if isinstance(found, float):
        return Law(found, 0.0, np.array([0.0, 1.0]), found, 0.0)
    total = np.fft.irfft(found.spectrum, n=found.fft_length)[:found.size]
    np.clip(total, 0.0, None, out=total)  # FFT round-off can leave -1e-17
    cdf = np.empty(found.size + 1)
    cdf[0] = 0.0
    np.cumsum(total, out=cdf[1:])
    cdf /= cdf[-1]
    return Law(found.start, found.step, cdf, mean, std, found.support)


def linear_prob_positive(c0: float, coef: FloatArray, kind: NDArray[np.int8],
                         low: FloatArray, mode: FloatArray, high: FloatArray, a: FloatArray,
                         b: FloatArray, grid: int = GRID) -> tuple[float, float]:
    """:func:`prob_positive` of :func:`linear_law`'s law, read off the spectrum at the one
    point 0 instead of transforming the whole grid back (the odds of a pair within a
    partnership need that one number): the masses below 0 are a sum over the frequencies
    of the spectrum times a geometric series. The same law, so the same number but for
    rounding (tested to 1e-12)."""
    found = _convolved(c0, coef, kind, low, mode, high, a, b, grid)
    if isinstance(found, float):
        return float(found > 0), float(found == 0)
    if found.support[0] > 0.0:
        return 1.0, 0.0
    if found.support[1] <= 0.0:
        return 0.0, 0.0
    u = -found.start / found.step  # 0 in cells from the first edge
    if u <= 0.0:
        return 1.0, 0.0
    if u >= found.size:
        return 0.0, 0.0
    cell = int(u)
    below, mass = _masses_below(found.spectrum, found.fft_length, cell)
    cdf = (below + (u - cell) * max(mass, 0.0)) / found.spectrum[0].real
    return 1.0 - min(max(cdf, 0.0), 1.0), 0.0


def _masses_below(spectrum: NDArray[np.complex128], n: int, i: int) -> tuple[float, float]:
    """The sum of the first ``i`` of the ``n`` values whose real FFT is ``spectrum``, and
    value ``i`` itself. Value j is (1/n) sum_f X_f w_f^j with w_f = exp(2 pi i f / n), so
    the first i sum to (1/n) (X_0 i + sum_{f>0} X_f (1 - w_f^i) / (1 - w_f)); the
    frequencies above n/2 are the conjugates of those below."""
    f = np.arange(1, n // 2)
    # f i mod n in integers: the angle stays exact however large i is
    angle = (2.0 * np.pi / n) * ((f * i) % n)
    w_i = np.cos(angle) + 1j * np.sin(angle)
    x = spectrum[1:n // 2]
    series = x * (1.0 - w_i) * _GEOMETRIC.of(n)
    nyquist = spectrum[n // 2].real
    below = (spectrum[0].real * i + 2.0 * float(np.sum(series.real))
             + nyquist * (i % 2)) / n
    value = (spectrum[0].real + 2.0 * float(np.sum((x * w_i).real))
             + nyquist * (1.0 if i % 2 == 0 else -1.0)) / n
    return below, value


class _Geometric:
    """1 / (1 - w_f) for f = 1 .. n/2 - 1, by FFT length (a handful of lengths in a run)."""

    def __init__(self) -> None:
        self.items: dict[int, NDArray[np.complex128]] = {}

    def of(self, n: int) -> NDArray[np.complex128]:
        hit = self.items.get(n)
        if hit is None:
            f = np.arange(1, n // 2)
            hit = 1.0 / (1.0 - np.exp(2j * np.pi * f / n))
            self.items[n] = hit
        return hit


_GEOMETRIC = _Geometric()


@dataclass(frozen=True)
class _Convolved:
    """The spectrum of a sum's cell masses and where its grid lies."""

    spectrum: NDArray[np.complex128]
    fft_length: int
    size: int  # cells of the law (the spectrum's length covers them and zeros beyond)
    start: float  # the first edge
    step: float
    support: tuple[float, float]


def _convolved(c0: float, coef: FloatArray, kind: NDArray[np.int8], low: FloatArray,
               mode: FloatArray, high: FloatArray, a: FloatArray, b: FloatArray,
               grid: int) -> _Convolved | float:
    """The spectrum of ``c0 + sum(coef_i x_i)``'s cell masses, or the constant it is."""
    width = high - low
    spread = np.where(kind != FIXED, np.abs(coef) * width, 0.0)
    # terms whose spread is negligible next to the widest (no weight, or a 1e-300
    # coefficient) sit at their midpoint; fixed factors are drawn at their low
    # a spread below 1e-12 of the largest, or too small to be a number worth a grid cell
    # (a subnormal coefficient), is a constant
    on = spread > max(1e-12 * spread.max(initial=0.0), 1e-200)
    active = np.flatnonzero(on)
    rest = ~on  # a mask, not setdiff1d's sort: a law of a difference is often most terms
    at = np.where(kind[rest] == FIXED, low[rest], (low[rest] + high[rest]) / 2.0)
    shift = c0 + float(np.sum(coef[rest] * at))
    if active.size == 0:
        return shift
    t_lo = np.minimum(coef[active] * low[active], coef[active] * high[active])
    t_width = np.abs(coef[active]) * width[active]
    k = active.size
    step = float(t_width.sum()) / (grid - 2 * k - 2)
    cells = np.ceil(t_width / step).astype(int) + 1
    length = int(cells.sum())
    fft_length = 1 << int(np.ceil(np.log2(length)))
    # the terms' keys from whole columns (tolist gives Python floats in one pass; a float()
    # per field and term was a third of a law's time when its spectra are cached), and the
    # product taken in place: no stack of k spectra copied out of the cache first
    columns = zip(cells.tolist(), kind[active].tolist(), low[active].tolist(),
                  mode[active].tolist(), high[active].tolist(), a[active].tolist(),
                  b[active].tolist(), coef[active].tolist(), t_lo.tolist(), strict=True)
    spectrum: NDArray[np.complex128] | None = None
    for n_cells, code, lo, md, hi, aa, bb, c, t_start in columns:
        term: Term = (fft_length, step, n_cells, code, lo, md, hi, aa, bb, c)
        factor = _SPECTRA.get(term, t_start)
        if spectrum is None:
            spectrum = factor.copy()
        else:
            spectrum *= factor
    assert spectrum is not None  # active is not empty
    # mass J sits in the cell whose centre is the sum of the terms' cell centres
    start = shift + float(t_lo.sum()) + (k - 1) * step / 2.0
    support = (shift + float(t_lo.sum()), shift + float((t_lo + t_width).sum()))
    return _Convolved(spectrum, fft_length, length - k + 1, start, step, support)


Term = tuple[int, float, int, int, float, float, float, float, float, float]


def _term_spectrum(term: Term, t_lo: float) -> NDArray[np.complex128]:
    """The FFT of one term's cell probabilities on the law's grid."""
    fft_length, step, cells, kind, low, mode, high, a, b, coef = term
    masses = np.zeros(fft_length)
    edges = t_lo + step * np.arange(cells + 1, dtype=float)
    x = np.asarray(edges / coef, dtype=float)  # the raw values at the term's cell edges
    masses[:cells] = np.abs(np.diff(raw_cdf(kind, low, mode, high, a, b, x)))
    return np.fft.rfft(masses)


class _SpectrumCache:
    """The last terms' spectra, by everything that makes them (``t_lo`` follows from the
    coefficient and the estimate). A partnership's variants change a few estimates and keep
    the widths, so their laws share the grid and most terms with the baseline's: each such
    term is discretised and transformed once. Bounded: 256 spectra of a 2^14 grid is 34 MB."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.items: OrderedDict[Term, NDArray[np.complex128]] = OrderedDict()
        self.lock = Lock()

    def get(self, key: Term, t_lo: float) -> NDArray[np.complex128]:
        with self.lock:
            hit = self.items.get(key)
            if hit is not None:
                self.items.move_to_end(key)
                return hit
        value = _term_spectrum(key, t_lo)
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_SPECTRA = _SpectrumCache()


def band_probabilities(law: Law, bands: BandRule) -> dict[str, float]:
    """P(each band): a value is in the first band (from the top) whose min it reaches."""
    specs = band_specs(bands)
    mins = np.array([b.min for b in specs[:-1]], dtype=float)
    if law.step == 0.0:  # a point mass sits in the band its value is in (S >= threshold)
        below = (law.start < mins).astype(float)
    else:
        below = np.asarray(law.cdf_at(mins), dtype=float)
    # P(value < min_i) for each threshold, then the differences between thresholds
    cum = np.concatenate([[0.0], 1.0 - below, [1.0]])
    probs = np.diff(cum)
    return {b.name: float(max(p, 0.0)) for b, p in zip(specs, probs, strict=True)}


def mixture_quantile(laws: list[Law], weights: FloatArray, p: FloatArray) -> FloatArray:
    """Quantiles of the mixture ``sum(w_k F_k)``: its CDF is piecewise linear on the union of
    the laws' edges, so inverting it there is exact.

    The union of ten laws' grids is 160,000 edges to sort and read ten CDFs at, per outlook.
    Each quantile needs only the two union edges around it: a coarse grid brackets it (the
    mixture's CDF is monotone), and the union is built inside the bracket alone, with one
    edge of each law beyond each side; the same edges and CDF values, so the same numbers
    (tested against :func:`_mixture_quantile_whole`)."""
    p = np.asarray(p, dtype=float)
    if any(law.step == 0.0 for law in laws):
        return _mixture_quantile_whole(laws, weights, p)
    coarse = np.linspace(min(law.start for law in laws), max(law.end for law in laws),
                         BRACKETS + 1)
    at = _mixture_cdf(laws, weights, coarse)
    j = np.searchsorted(at, p, side="left")  # the first coarse point where F >= p
    if np.any(j < 1) or np.any(j > BRACKETS):
        return _mixture_quantile_whole(laws, weights, p)  # at the ends: the whole union
    out = np.empty(p.shape)
    for n, (pn, jn) in enumerate(zip(p.ravel().tolist(), j.ravel().tolist(), strict=True)):
        lo, hi = float(coarse[jn - 1]), float(coarse[jn])
        window = []
        for law in laws:
            # the law's edges in (lo, hi], with one more at or below lo and one above hi
            # (its last edge when it ends below lo, its first when it starts above hi)
            size = law.cdf.size
            a = min(max(int(np.floor((lo - law.start) / law.step)) - 1, 0), size - 1)
            b = min(max(int(np.ceil((hi - law.start) / law.step)) + 2, a + 1), size)
            window.append(law.start + law.step * np.arange(a, b, dtype=float))
        edges = np.unique(np.concatenate(window))
        out.flat[n] = _invert(edges, _mixture_cdf(laws, weights, edges), np.array([pn]))[0]
    return out


def _mixture_cdf(laws: list[Law], weights: FloatArray, x: FloatArray) -> FloatArray:
    """The CDF of the mixture ``sum(w_k F_k) / sum(w_k)`` at ``x``: one sum for every use, so
    the quantiles found in brackets read the same values as on the whole union."""
    cdf = sum(w * law.cdf_at(x) for w, law in zip(weights, laws, strict=True))
    return np.asarray(cdf, dtype=float) / float(np.sum(weights))


BRACKETS = 1024  # coarse points bracketing a mixture's quantiles


def _mixture_quantile_whole(laws: list[Law], weights: FloatArray, p: FloatArray
                            ) -> FloatArray:
    """:func:`mixture_quantile` on the whole union of the laws' edges."""
    edges = np.unique(np.concatenate([law.edges if law.step else np.array([law.start])
                                      for law in laws]))
    cdf = _mixture_cdf(laws, weights, edges)
    if edges.size == 1:
        return np.full(np.shape(p), edges[0])
    return _invert(edges, cdf, np.asarray(p, dtype=float))


def mixture_law(laws: list[Law], weights: FloatArray, grid: int = 2 * GRID) -> Law | None:
    """The mixture ``sum(w_k F_k)`` as one law on a uniform grid of ``grid`` cells spanning
    the laws' grids (None if one is a point mass): its CDF is exact at every new edge and
    linear between them, as each law's is on its own grid. Twice the laws' resolution keeps
    the interpolation error below theirs, and one integral against it replaces one per
    member: the odds between two outlooks of 10 scenarios each are 1 integral, not 100."""
    if not laws or any(law.step == 0.0 for law in laws):
        return None
    start = min(law.start for law in laws)
    step = (max(law.end for law in laws) - start) / grid
    edges = start + step * np.arange(grid + 1, dtype=float)
    cdf = _mixture_cdf(laws, weights, edges)
    cdf[-1] = 1.0  # every law's CDF is 1 at its last edge, which is at most this one
    total = float(np.sum(weights))
    mean = float(sum(w * law.mean for w, law in zip(weights, laws, strict=True))) / total
    second = float(sum(w * (law.std ** 2 + law.mean ** 2)
                       for w, law in zip(weights, laws, strict=True))) / total
    support = (min(law.support[0] for law in laws), max(law.support[1] for law in laws))
    return Law(start, step, cdf, mean, math.sqrt(max(second - mean * mean, 0.0)), support)


def mixture_band_probabilities(laws: list[Law], weights: FloatArray, bands: BandRule
                               ) -> dict[str, float]:
    total = float(np.sum(weights))
    out = dict.fromkeys(band_names(bands), 0.0)
    for w, law in zip(weights, laws, strict=True):
        for band, value in band_probabilities(law, bands).items():
            out[band] += w * value / total
    return out


def prob_greater(a: Law, b: Law) -> float:
    """P(A > B) for independent A and B with ``step > 0``: the integral of F_B against A's
    law, exact for the piecewise-linear CDFs. A's density is constant on each of its cells,
    so each cell contributes its mass times the mean of F_B over it, the difference of
    B's :meth:`Law.integral_at` across the cell over its width: one pass over A's edges, no
    merge of the two grids."""
    mean_f = np.diff(b.integral_on_grid(a.start, a.step, a.cdf.size)) / a.step
    # a sum of products, not np.dot: BLAS wakes its threads for a dot this size, which
    # costs 500 times the arithmetic when another process holds the other core
    return float(np.clip(np.sum(np.diff(a.cdf) * mean_f), 0.0, 1.0))


def prob_positive(law: Law) -> tuple[float, float]:
    """P(X > 0) and P(X == 0) (the latter non-zero only for a point mass)."""
    if law.step == 0.0:
        return float(law.start > 0), float(law.start == 0)
    return 1.0 - float(law.cdf_at(0.0)), 0.0
