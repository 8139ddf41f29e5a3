"""Monte Carlo scores: draw every factor's estimate, score each draw with the scoring module.

Draws are made in fixed *stream blocks* of :data:`STREAM_BLOCK` rows. Block ``b`` of a run with
seed ``s`` is drawn from ``numpy.random.SeedSequence(s, spawn_key=(b,))`` (under common random
numbers, each uncertain quantity's column from ``spawn_key=(b, *words of its draw key)``), so
the numbers depend only on the seed and ``n``, never on how many rows are scored at a time
(``chunk_size``), and memory stays at one block whatever ``n`` is.

Two ways to turn randomness into estimates:

* direct draws (``sampler="random"``, no correlations): numpy's own Beta, triangular and uniform
  generators, the fastest path;
* inverse CDFs of uniform numbers, for scrambled Sobol points (``sampler="sobol"``), for stated
  rank correlations (a Gaussian copula) and for common random numbers across scenarios
  (:func:`simulate_many`), where an uncertain quantity (:func:`draw_key`) gets the same
  uniforms in every scenario that estimates it.
"""

from __future__ import annotations

import math
import sys
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, fields
from functools import cached_property, lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from riskengine.models import Factor, Scenario
from riskengine.problems import InputError, Problem
from riskengine.scoring import (
    Affine,
    BandRule,
    FloatArray,
    ModelArrays,
    aggregate,
    band_index,
    band_names,
    has_sides,
    normalise,
    per_scenario,
    scenario_bands,
)

STREAM_BLOCK = 65_536
CHUNK_BYTES = 64 * 2**20  # one scoring piece's (rows x k) float64 matrix stays under this
# Direct draws are scored in pieces of this size, which the normalisation and the tree then
# read from cache, not memory (1e6 x 30 PERT: 0.98 of the time in 65,536-row pieces, median
# of 9 alternating pairs, quiet and with the other core busy). Pieces of shared uniforms stay
# large: each piece costs every member of a comparison a call.
PIECE_BYTES = 4 * 2**20
KEEP_BYTES = 48 * 2**20  # below this the per-draw outputs are kept instead of drawn again
HIST_BINS = 1 << 16  # histogram bins per output for the exact percentiles
COLLECT_CAP = 1 << 22  # values kept from one bin; a fuller bin is histogrammed again
MAX_LEVELS = 6
PERCENTILES = (5.0, 50.0, 95.0)

Sampler = Literal["random", "sobol"]
Progress = Callable[[int], None]


# ---------------------------------------------------------------------------------------------
# distributions on the raw scale


@dataclass(frozen=True)
class Marginals:
    """The estimates of one scenario's factors as arrays, with PERT's Beta parameters."""

    low: FloatArray
    mode: FloatArray
    high: FloatArray
    kind: NDArray[np.int8]  # 0 fixed, 1 pert, 2 triangular, 3 uniform

    FIXED, PERT, TRIANGULAR, UNIFORM = 0, 1, 2, 3

    @classmethod
    def of(cls, scenario: Scenario, arrays: ModelArrays | None = None) -> Marginals:
        """``arrays``: the scenario's :class:`ModelArrays`, whose (read-only) low, mode and
        high are these numbers; taken as they are, so a pickle of both holds them once."""
        codes = {"pert": cls.PERT, "triangular": cls.TRIANGULAR, "uniform": cls.UNIFORM}
        kind = np.array([cls.FIXED if e.fixed or e.low == e.high else codes[e.distribution]
                         for e in scenario.estimates], dtype=np.int8)
        if arrays is not None:
            return cls(low=arrays.low, mode=arrays.mode, high=arrays.high, kind=kind)
        return cls(low=np.array([e.low for e in scenario.estimates], dtype=float),
                   mode=np.array([e.mode for e in scenario.estimates], dtype=float),
                   high=np.array([e.high for e in scenario.estimates], dtype=float),
                   kind=kind)

    @property
    def width(self) -> FloatArray:
        return self.high - self.low

    def pert_ab(self) -> tuple[FloatArray, FloatArray]:
        """Beta parameters of MODEL.md's PERT: 1 + 4 (mode - low)/(high - low), and its mirror
        (read-only arrays, computed once: a comparison asks for them for every pair)."""
        return self._pert_ab

    @cached_property
    def _pert_ab(self) -> tuple[FloatArray, FloatArray]:
        width = np.where(self.width > 0, self.width, 1.0)
        a = 1.0 + 4.0 * (self.mode - self.low) / width
        b = 1.0 + 4.0 * (self.high - self.mode) / width
        a.flags.writeable = b.flags.writeable = False
        return a, b

    def mean(self) -> FloatArray:
        a, b = self.pert_ab()
        pert = self.low + self.width * a / (a + b)
        tri = (self.low + self.mode + self.high) / 3.0
        uni = (self.low + self.high) / 2.0
        return np.choose(self.kind, [self.mode, pert, tri, uni])

    def variance(self) -> FloatArray:
        a, b = self.pert_ab()
        pert = self.width**2 * a * b / ((a + b) ** 2 * (a + b + 1.0))
        lo, md, hi = self.low, self.mode, self.high
        tri = (lo**2 + md**2 + hi**2 - lo * md - lo * hi - md * hi) / 18.0
        uni = self.width**2 / 12.0
        return np.choose(self.kind, [np.zeros_like(lo), pert, tri, uni])

    def ppf(self, u: FloatArray) -> FloatArray:
        """Inverse CDFs, column by column: uniforms of shape (n, k) -> raw values (n, k)."""
        out = np.empty_like(u)
        for code in (self.FIXED, self.PERT, self.TRIANGULAR, self.UNIFORM):
            cols = np.flatnonzero(self.kind == code)
            if cols.size == 0:
                continue
            lo, md, hi, uu = self.low[cols], self.mode[cols], self.high[cols], u[:, cols]
            if code == self.FIXED:
                out[:, cols] = lo
            elif code == self.PERT:
                a, b = self.pert_ab()
                out[:, cols] = lo + (hi - lo) * beta_ppf(a[cols], b[cols], uu)
            elif code == self.TRIANGULAR:
                cut = (md - lo) / (hi - lo)
                left = lo + np.sqrt(uu * (hi - lo) * (md - lo))
                right = hi - np.sqrt((1.0 - uu) * (hi - lo) * (hi - md))
                out[:, cols] = np.where(uu < cut, left, right)
            else:
                out[:, cols] = lo + (hi - lo) * uu
        return out

    def column_ppf(self, j: int, u: FloatArray, ab: tuple[FloatArray, FloatArray]
                   ) -> FloatArray:
        """Column ``j`` of :meth:`ppf` from that column's uniforms ``u`` (rows,), with the
        same arithmetic element by element, so the same numbers to the last digit.
        ``ab``: :meth:`pert_ab`, computed once by the caller."""
        code = self.kind[j]
        lo, md, hi = self.low[j], self.mode[j], self.high[j]
        if code == self.FIXED:
            return np.full(u.shape, lo)
        if code == self.PERT:
            return self.from_standard(j, beta_table(float(ab[0][j]), float(ab[1][j]))(
                np.ascontiguousarray(u)))
        if code == self.TRIANGULAR:
            cut = (md - lo) / (hi - lo)
            left = lo + np.sqrt(u * (hi - lo) * (md - lo))
            right = hi - np.sqrt((1.0 - u) * (hi - lo) * (hi - md))
            return np.where(u < cut, left, right)
        return lo + (hi - lo) * u  # type: ignore[no-any-return]

    def from_standard(self, j: int, x: FloatArray) -> FloatArray:
        """Column ``j``'s values from standard Beta values ``x`` in [0, 1] (PERT)."""
        return self.low[j] + (self.high[j] - self.low[j]) * x  # type: ignore[no-any-return]

    def draw(self, rng: np.random.Generator, rows: int) -> FloatArray:
        """Direct draws of ``rows`` samples of every factor (the fast path)."""
        out: FloatArray | None = None
        k = self.kind.size
        for code in (self.FIXED, self.PERT, self.TRIANGULAR, self.UNIFORM):
            cols = np.flatnonzero(self.kind == code)
            if cols.size == 0:
                continue
            lo, md, hi = self.low[cols], self.mode[cols], self.high[cols]
            if code == self.FIXED:
                part = np.broadcast_to(lo, (rows, cols.size))
            elif code == self.PERT:
                a, b = self.pert_ab()
                part = rng.beta(a[cols], b[cols], size=(rows, cols.size))
                part *= hi - lo  # in place: the draws are the largest array of the run
                part += lo
            elif code == self.TRIANGULAR:
                part = rng.triangular(lo, md, hi, size=(rows, cols.size))
            else:
                part = rng.uniform(lo, hi, size=(rows, cols.size))
            if cols.size == k and code != self.FIXED:
                return part
            if out is None:
                out = np.empty((rows, k))
            out[:, cols] = part
        assert out is not None
        return out


PPF_CELLS = 1024  # cells of the directly indexed inverse-CDF table (cubic Hermite in u)
PPF_TAIL = 1.0 / 64.0  # below this (and above 1 minus it) a tail table in w = u**(1/a) is used
PPF_TAIL_CELLS = 256
_PPF_BUILD_NODES = 2049


@dataclass(frozen=True)
class BetaTable:
    """A directly indexed inverse of one Beta CDF: no search, one gather per value.

    The body is a cubic Hermite interpolant on a uniform grid in ``u`` (the cell is
    ``floor(u * M)``), built from the exact inverse and its derivative ``1 / pdf``. Near the
    ends the inverse behaves like ``u ** (1/a)`` (or ``1 - (1 - u) ** (1/b)``), whose
    derivatives blow up; there the table is a Hermite interpolant in ``w = u ** (1/a)``, in
    which the inverse is smooth. Within 1e-7 of ``scipy.special.betaincinv`` everywhere
    (tests/test_fast_paths.py checks this).
    """

    body: FloatArray  # (PPF_CELLS, 4) Horner coefficients per cell
    left: FloatArray  # (PPF_TAIL_CELLS, 4), in w = u**(1/a) over [0, left_end]
    left_end: float
    a: float
    right: FloatArray  # the left tail of Beta(b, a) in w = (1 - u)**(1/b)
    right_end: float
    b: float

    def __call__(self, u: FloatArray) -> FloatArray:
        x = _hermite(self.body, u, float(PPF_CELLS))
        low = np.flatnonzero(u < PPF_TAIL)
        if low.size:
            w = u[low] ** (1.0 / self.a)
            x[low] = _hermite(self.left, w, PPF_TAIL_CELLS / self.left_end)
        high = np.flatnonzero(u > 1.0 - PPF_TAIL)
        if high.size:
            w = (1.0 - u[high]) ** (1.0 / self.b)
            x[high] = 1.0 - _hermite(self.right, w, PPF_TAIL_CELLS / self.right_end)
        return x


def _hermite(coef: FloatArray, t: FloatArray, cells_per_unit: float) -> FloatArray:
    pos = t * cells_per_unit
    cell = np.minimum(pos.astype(np.intp), coef.shape[0] - 1)
    pos -= cell
    c = coef[cell]  # one gather of the cell's four coefficients
    out = c[:, 3] * pos
    out += c[:, 2]
    out *= pos
    out += c[:, 1]
    out *= pos
    out += c[:, 0]
    return out


def _hermite_coefficients(x: FloatArray, dx: FloatArray) -> FloatArray:
    """Per-cell cubic coefficients from node values and node slopes (per unit cell)."""
    delta = np.diff(x)
    d0, d1 = dx[:-1], dx[1:]
    return np.column_stack([x[:-1], d0, 3.0 * delta - 2.0 * d0 - d1, d0 + d1 - 2.0 * delta])


def _beta_inverse_nodes(a: float, b: float, u: FloatArray) -> FloatArray:
    """The exact inverse at the table nodes: a fine forward table inverted, then polished
    by two Newton steps (much faster than betaincinv at thousands of nodes)."""
    from scipy.special import betainc

    nodes = (1.0 - np.cos(np.pi * np.linspace(0.0, 1.0, _PPF_BUILD_NODES))) / 2.0
    x = np.interp(u, betainc(a, b, nodes), nodes)
    for _ in range(2):
        pdf = _beta_pdf(x, a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(pdf > 0, (betainc(a, b, x) - u) / pdf, 0.0)
        x = np.clip(x - step, 0.0, 1.0)
    x[u <= 0.0], x[u >= 1.0] = 0.0, 1.0
    return x


def _beta_pdf(x: FloatArray, a: float, b: float) -> FloatArray:
    from scipy.special import betaln, xlog1py, xlogy

    return np.exp(xlogy(a - 1.0, x) + xlog1py(b - 1.0, -x) - betaln(a, b))


def _left_tail(a: float, b: float) -> tuple[FloatArray, float]:
    from scipy.special import beta as beta_fn

    end = PPF_TAIL ** (1.0 / a)
    w = np.linspace(0.0, end, PPF_TAIL_CELLS + 1)
    x = _beta_inverse_nodes(a, b, w**a)
    # dx/dw = a B(a,b) (w/x)^(a-1) / (1-x)^(b-1); w/x -> (a B)^(-1/a) as w -> 0
    k = (a * beta_fn(a, b)) ** (1.0 / a)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(x > 0, w / x, 1.0 / k)
    slope = a * beta_fn(a, b) * ratio ** (a - 1.0) / (1.0 - x) ** (b - 1.0)
    return _hermite_coefficients(x, slope * (end / PPF_TAIL_CELLS)), end


@lru_cache(maxsize=4096)
def beta_table(a: float, b: float) -> BetaTable:
    """The table of Beta(a, b)'s inverse CDF, built once per parameter pair and cached."""
    u = np.linspace(0.0, 1.0, PPF_CELLS + 1)
    x = _beta_inverse_nodes(a, b, u)
    with np.errstate(divide="ignore"):
        slope = 1.0 / _beta_pdf(x, a, b)
    slope[~np.isfinite(slope)] = 0.0  # only at the ends, which the tail tables cover
    body = _hermite_coefficients(x, slope / PPF_CELLS)
    left, left_end = _left_tail(a, b)
    right, right_end = _left_tail(b, a)
    return BetaTable(body, left, left_end, a, right, right_end, b)


def beta_ppf(a: FloatArray, b: FloatArray, u: FloatArray) -> FloatArray:
    """Inverse Beta CDFs of uniforms ``u`` (n, k), column j with parameters a[j], b[j]."""
    out = np.empty_like(u)
    for j in range(u.shape[1]):  # one pass per factor, vectorised over all samples
        out[:, j] = beta_table(float(a[j]), float(b[j]))(np.ascontiguousarray(u[:, j]))
    return out


def copula_factor(scenario: Scenario) -> FloatArray | None:
    """Cholesky factor of the Gaussian copula that gives the stated rank correlations."""
    if not scenario.correlations:
        return None
    ids = [e.factor.id for e in scenario.estimates]
    matrix = np.eye(len(ids))
    for corr in scenario.correlations:
        i, j = ids.index(corr.factors[0]), ids.index(corr.factors[1])
        # Spearman's rho of a Gaussian pair is (6/pi) asin(r/2); invert it.
        matrix[i, j] = matrix[j, i] = 2.0 * math.sin(math.pi * corr.rho / 6.0)
    try:
        return np.asarray(np.linalg.cholesky(matrix), dtype=float)
    except np.linalg.LinAlgError:
        raise InputError([Problem(scenario.source or scenario.id, None, None, "correlations",
                                  "the stated correlations are inconsistent (their matrix is "
                                  "not positive definite)", "RE102")]) from None


@dataclass(frozen=True)
class Copula:
    """The copula restricted to the factors that take part in a correlation.

    A factor in no correlation has a unit row and column in the matrix, so its row of the
    Cholesky factor is a unit row too: its uniforms pass through unchanged, and only the
    correlated columns pay for the normal transforms.
    """

    cols: NDArray[np.intp]
    chol: FloatArray

    @classmethod
    def of(cls, scenario: Scenario) -> Copula | None:
        full = copula_factor(scenario)
        if full is None:
            return None
        off = full - np.eye(full.shape[0])
        cols = np.flatnonzero(np.any(off != 0, axis=0) | np.any(off != 0, axis=1))
        return cls(cols, full[np.ix_(cols, cols)])


def correlate(u: FloatArray, chol: FloatArray | Copula | None) -> FloatArray:
    """Impose the copula's dependence on independent uniforms (columns keep their margins)."""
    if chol is None:
        return u
    from scipy.special import ndtr, ndtri

    eps = np.finfo(float).eps
    if isinstance(chol, Copula):
        out = np.array(u, copy=True)
        out[:, chol.cols] = ndtr(ndtri(np.clip(u[:, chol.cols], eps, 1.0 - eps)) @ chol.chol.T)
        return out
    return ndtr(ndtri(np.clip(u, eps, 1.0 - eps)) @ chol.T)


# ---------------------------------------------------------------------------------------------
# the uniform streams


def block_rng(seed: int, block: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(seed, spawn_key=(block, *key))))


def uniform_blocks(n: int, dims: int, seed: int, sampler: Sampler
                   ) -> Any:
    """Yield (start, uniforms) blocks of shape (<= STREAM_BLOCK, dims) covering n rows."""
    source = _UniformSource(SourceSpec(dims), seed, sampler)
    for block, start in enumerate(range(0, n, STREAM_BLOCK)):
        rows = min(STREAM_BLOCK, n - start)
        source.start_block(block)
        yield start, source.take(rows)


DrawKey = tuple[str, str]


@dataclass(frozen=True)
class SourceSpec:
    """One source of uniforms in a run: ``width`` columns, and for a common-random-numbers
    source the :func:`draw_key` of each column."""

    width: int
    keys: tuple[DrawKey, ...] = ()


@lru_cache(maxsize=1 << 16)
def _key_words(key: DrawKey) -> tuple[int, ...]:
    """A draw key as four 32-bit words of a seed's spawn key (a stable hash: the same words in
    every process and on every machine, unlike ``hash``)."""
    import hashlib

    digest = hashlib.blake2b("\x1f".join(key).encode(), digest_size=16,
                             person=b"riskengine-key").digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


class _UniformSource:
    """One stream of uniforms in stream blocks; a block can be taken in row pieces, which give
    the same numbers as taking it whole (every generator is sequential).

    With the pseudo-random sampler, a source of draw keys gives each key its own generator per
    block, seeded by (seed, block, key): a quantity's uniforms are then the same numbers in
    every run that draws it, whatever else the run holds, so the scores of scenarios simulated
    in different runs keep their common random numbers (compare counts P(A beats B) across
    partnerships from the runs' own draws). Scrambled Sobol points are one joint sequence, so
    a Sobol source is one stream over all its columns.
    """

    def __init__(self, spec: SourceSpec, seed: int, sampler: Sampler) -> None:
        self.dims, self.keys, self.seed, self.sampler = spec.width, spec.keys, seed, sampler
        self.engine: Any = None
        self.rng: np.random.Generator | None = None
        self.rngs: list[np.random.Generator] = []

    def start_block(self, block: int) -> None:
        if self.sampler == "sobol":
            if block == 0 or self.engine is None:
                from scipy.stats import qmc

                self.engine = qmc.Sobol(self.dims, scramble=True,
                                        seed=np.random.default_rng(self.seed))
                if block:
                    # a worker that starts at block b: skip the points of the earlier blocks
                    # (the same points as drawing them: checked in tests/test_parallel.py)
                    self.engine.fast_forward(block * STREAM_BLOCK)
        elif self.keys:
            self.rngs = [block_rng(self.seed, block, *_key_words(key)) for key in self.keys]
        else:
            self.rng = block_rng(self.seed, block)

    def take(self, rows: int) -> FloatArray:
        if self.sampler == "sobol":
            # Blocks are powers of two; only a final partial block loses the balance property,
            # which costs some of the variance reduction, not correctness.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*balance properties.*")
                return self.engine.random(rows)  # type: ignore[no-any-return]
        if self.keys:
            # column-major: each key's column is contiguous, as the inverse CDFs read it
            out = np.empty((self.dims, rows))
            for rng, column in zip(self.rngs, out, strict=True):
                rng.random(out=column)
            return out.T
        assert self.rng is not None
        return self.rng.random((rows, self.dims))


# ---------------------------------------------------------------------------------------------
# scoring: the one place where a block of raw draws becomes S, R and O


def _score_into(out: FloatArray, raw: FloatArray, arrays: ModelArrays,
                affine: Affine | None = None) -> None:
    """Score raw draws (rows, k) into ``out`` (3, rows): stability, risk and opportunity index.

    Every Monte Carlo path and the exact method's linearity probe call this and nothing else.
    ``raw`` is scratch: it is normalised in place. ``affine``: ``raw`` holds direct draws as
    :meth:`_Member.draw_direct` gives them, normalised by this map.
    """
    out[0], out[1], out[2] = aggregate(normalise(raw, arrays, out=raw, affine=affine), arrays)
    if not arrays.has_sides:
        out[1:] = 0.0  # a tree without risk and opportunity nodes: nothing to report there


# ---------------------------------------------------------------------------------------------
# members: one scenario's share of a run


@dataclass(frozen=True)
class CompiledScenario:
    """What a run needs of one scenario, without the scenario: its scoring arrays, its
    estimates' marginals, its copula and each estimate's :func:`draw_key`.

    Built in the caller's process (the arrays are cached per scenario object there, and the
    caller scores the same scenarios), and shipped to a worker instead of the pydantic model,
    whose pickle is larger and slower to rebuild (a partnership of 10 generated scenarios:
    60 kB and 2.8 ms of CPU to unpickle, compiled 22 kB and 1.3 ms; benchmarks/bench_ship.py).
    The pickled state holds only numpy arrays, plain dataclasses and strings: the tree's bands
    and display scale (small pydantic models) travel as their fields and are rebuilt
    unvalidated on arrival.
    """

    arrays: ModelArrays
    marginals: Marginals
    copula: Copula | None
    keys: tuple[DrawKey, ...]

    @classmethod
    def of(cls, scenario: Scenario) -> CompiledScenario:
        arrays = ModelArrays.of(scenario)
        return cls(arrays, Marginals.of(scenario, arrays), Copula.of(scenario),
                   draw_keys(scenario))

    def __getstate__(self) -> dict[str, Any]:
        arrays, tree = self.arrays, self.arrays.tree
        return {"arrays": {f.name: getattr(arrays, f.name) for f in fields(arrays)
                           if f.name not in ("bands", "tree")},
                "bands": _plain_bands(arrays.bands),
                "tree": {f.name: getattr(tree, f.name) for f in fields(tree)
                         if f.name not in ("bands", "scale")},
                "tree_bands": _plain_bands(tree.bands),
                "scale": tree.scale.model_dump(),
                "marginals": self.marginals, "copula": self.copula, "keys": self.keys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        from riskengine.models import BandSpec, DisplayScale
        from riskengine.tree import CompiledTree

        def bands(plain: list[dict[str, Any]]) -> tuple[BandSpec, ...]:
            # the fields of models validated where they were built: not checked again
            return tuple(BandSpec.model_construct(**b) for b in plain)

        tree = CompiledTree(**state["tree"], bands=bands(state["tree_bands"]),
                            scale=DisplayScale.model_construct(**state["scale"]))
        # a frozen dataclass: its fields are set through object's own setattr
        object.__setattr__(self, "arrays", ModelArrays(
            **state["arrays"], bands=bands(state["bands"]), tree=tree))
        for name in ("marginals", "copula", "keys"):
            object.__setattr__(self, name, state[name])


def _plain_bands(bands: Sequence[Any]) -> list[dict[str, Any]]:
    return [b.model_dump() for b in bands]


def compiled(scenarios: Iterable[Scenario | CompiledScenario]) -> tuple[CompiledScenario, ...]:
    """Each scenario as a run needs it (:class:`CompiledScenario`); compiled ones as they
    are."""
    return tuple(s if isinstance(s, CompiledScenario) else CompiledScenario.of(s)
                 for s in scenarios)


@dataclass(frozen=True)
class _Member:
    arrays: ModelArrays
    marginals: Marginals
    copula: Copula | None
    source: int | None  # index of a shared uniform source, or None for direct draws
    cols: NDArray[np.intp] | None  # that source's columns holding this scenario's factors
    # direct draws only: how draw_direct's values are normalised (None: they are raw values)
    affine: Affine | None = None

    @property
    def k(self) -> int:
        return len(self.arrays.ids)

    def draw_direct(self, rngs: list[np.random.Generator], rows: int) -> FloatArray:
        """Direct draws, one generator per distribution kind, so a stream block can be drawn
        in row pieces and still give the same numbers. With :attr:`affine`, a PERT column
        holds its standard Beta draws, which that map normalises; otherwise raw values."""
        m = self.marginals
        out = np.empty((rows, self.k))
        for code, rng in zip((m.PERT, m.TRIANGULAR, m.UNIFORM), rngs, strict=True):
            cols = np.flatnonzero(m.kind == code)
            if cols.size == 0:
                continue
            lo, md, hi = m.low[cols], m.mode[cols], m.high[cols]
            if code == m.PERT:
                a, b = m.pert_ab()
                part = rng.beta(a[cols], b[cols], size=(rows, cols.size))
                if self.affine is None:
                    part *= hi - lo
                    part += lo
            elif code == m.TRIANGULAR:
                part = rng.triangular(lo, md, hi, size=(rows, cols.size))
            else:
                part = rng.uniform(lo, hi, size=(rows, cols.size))
            if cols.size == self.k:
                return part
            out[:, cols] = part
        fixed = np.flatnonzero(m.kind == m.FIXED)
        out[:, fixed] = m.low[fixed]
        return out


def direct_affine(arrays: ModelArrays, m: Marginals) -> Affine | None:
    """How direct draws become normalised values in one multiply-add over the draws.

    A PERT column is left as its standard Beta draws ``v`` in [0, 1] and normalised as
    ``v * (slope * (high - low)) + (slope * low + intercept)``: scaling the draws to the raw
    range first was two more passes over the largest matrix of a run (with the clip this
    saves: 0.97 of the kernel's time, median of 9 alternating pairs).
    The other columns keep the raw values' map. None when a column is normalised over a
    population by a rule that needs the raw values.
    """
    if arrays.transforms:
        return None
    pert = m.kind == m.PERT
    slope = np.where(pert, arrays.slope * (m.high - m.low), arrays.slope)
    intercept = np.where(pert, arrays.slope * m.low + arrays.intercept, arrays.intercept)
    # Rounding is monotone, so a column's normalised values lie between the images (by the
    # same multiply, then add) of its least and greatest drawn values: where every such image
    # is in [0, 1], clipping changes nothing and its pass is saved. A triangular or uniform
    # draw may round a hair past its range: those are clipped.
    bounded = pert | (m.kind == m.FIXED)
    ends = np.stack([np.where(pert, 0.0, m.low), np.where(pert, 1.0, m.low)]) * slope
    ends += intercept
    inside = bool(np.all((ends >= 0.0) & (ends <= 1.0)))
    return Affine(slope, intercept, clip=not (bounded.all() and inside))


def draw_key(scenario: Scenario, factor: Factor) -> tuple[str, str]:
    """The uncertain quantity a factor's estimate describes, which keys its common random
    numbers (MODEL.md, "Shared draws").

    A factor ``about`` party ``a`` or ``b`` describes that party: the key is (factor id, the
    party's name from the scenario's ``parties``), so Turkey's Russia balancing is one quantity
    in Japan–Turkey and Indonesia–Turkey and another than the UK's in Japan–UK. A factor about
    the pair (or saying nothing) describes the partnership: (factor id, partnership). Without
    ``parties`` a party factor is known only within its partnership. Party names are compared
    case- and space-insensitively ("Turkey" and "turkey " are one party; "Türkiye" is not).
    """
    # interned: a run's scenarios share their keys, and a pickle of a run (a worker's task)
    # then holds each once
    if factor.about in ("a", "b") and scenario.parties is not None:
        name = scenario.parties[0 if factor.about == "a" else 1]
        return factor.id, sys.intern("party:" + " ".join(name.split()).casefold())
    return factor.id, sys.intern("partnership:" + scenario.partnership)


def draw_keys(scenario: Scenario) -> tuple[DrawKey, ...]:
    """Each estimate's :func:`draw_key`, in the scenario's order, found once per scenario
    object (a run, a comparison's pairs and its partnerships all ask for them)."""
    return per_scenario(_KEYS, scenario, lambda s: tuple(draw_key(s, e.factor)
                                                         for e in s.estimates))


_KEYS: dict[int, tuple[weakref.ref[Scenario], tuple[DrawKey, ...]]] = {}


def _members(scenarios: Sequence[Scenario | CompiledScenario], shared: bool, sampler: Sampler
             ) -> tuple[list[_Member], list[SourceSpec]]:
    """The members of a run and their uniform sources.

    ``shared``: one source for all (common random numbers, one column per uncertain quantity,
    :func:`draw_key`: scenarios estimating the same quantity get the same uniforms, different
    quantities independent ones); otherwise each scenario has its own source, or direct draws
    when it has no correlations and the sampler is random.
    """
    members: list[_Member] = []
    sources: list[SourceSpec] = []
    parts = compiled(scenarios)
    if shared:
        keys = sorted({key for c in parts for key in c.keys})
        column = {key: i for i, key in enumerate(keys)}
        sources.append(SourceSpec(len(keys), tuple(keys)))
    for c in parts:
        arrays, marginals, copula = c.arrays, c.marginals, c.copula
        if shared:
            cols = np.array([column[key] for key in c.keys], dtype=np.intp)
            members.append(_Member(arrays, marginals, copula, 0, cols))
        elif sampler == "random" and copula is None:
            members.append(_Member(arrays, marginals, None, None, None,
                                   direct_affine(arrays, marginals)))
        else:
            members.append(_Member(arrays, marginals, copula, len(sources), None))
            sources.append(SourceSpec(len(arrays.ids)))
    return members, sources


@dataclass(frozen=True)
class _SharedColumns:
    """How the members of a common-random-numbers run turn their source's uniforms into raw
    values, one distinct column at a time.

    Scenarios that share a factor's uniforms often share its estimate too (variants change a
    few of their baseline's factors), and then their raw values are the same numbers. Each
    distinct (source column, estimate) is put through its inverse CDF once per piece, into
    one table; a member's raw values are a gather of its columns from that table. A column
    that a member's copula moves is that member's own.
    """

    origin: tuple[tuple[int, int], ...]  # per distinct column: the (member, column) giving it
    index: tuple[NDArray[np.intp] | None, ...]  # per member: its columns in the table
    ab: tuple[tuple[FloatArray, FloatArray] | None, ...]  # per member: PERT's parameters

    @classmethod
    def of(cls, members: Sequence[_Member]) -> _SharedColumns:
        place: dict[tuple[Any, ...], int] = {}
        origin: list[tuple[int, int]] = []
        index: list[NDArray[np.intp] | None] = []
        ab: list[tuple[FloatArray, FloatArray] | None] = []
        for i, member in enumerate(members):
            m, cols = member.marginals, member.cols
            if cols is None:
                index.append(None)
                ab.append(None)
                continue
            moved = set() if member.copula is None else {int(c) for c in member.copula.cols}
            mine = []
            for j in range(member.k):
                key: tuple[Any, ...] = ((i, j) if j in moved else
                                        (int(cols[j]), int(m.kind[j]), float(m.low[j]),
                                         float(m.mode[j]), float(m.high[j])))
                if key not in place:
                    place[key] = len(origin)
                    origin.append((i, j))
                mine.append(place[key])
            index.append(np.array(mine, dtype=np.intp))
            ab.append(m.pert_ab())
        return cls(tuple(origin), tuple(index), tuple(ab))

    @property
    def width(self) -> int:
        return len(self.origin)

    def table(self, members: Sequence[_Member], uniforms: Sequence[FloatArray], rows: int
              ) -> FloatArray:
        """The piece's distinct raw columns (rows, width), each computed from the uniforms
        exactly as the member giving it would have (so the same numbers)."""
        table = np.empty((rows, self.width))
        correlated: dict[int, FloatArray] = {}
        # a variant that shifts or rescales an estimate keeps its PERT shape (a, b): the
        # costly Beta inverse of a column is shared by every estimate of that shape, and
        # each scales it to its own range as column_ppf does
        shapes: dict[tuple[int, float, float], FloatArray] = {}
        for d, (i, j) in enumerate(self.origin):
            member = members[i]
            assert member.cols is not None and member.source is not None
            u = uniforms[member.source]
            m, ab = member.marginals, self.ab[i]
            assert ab is not None
            if member.copula is not None and j in member.copula.cols:
                if i not in correlated:
                    correlated[i] = correlate(u[:, member.cols], member.copula)
                column = correlated[i][:, j]
            elif m.kind[j] == m.PERT:
                key = (int(member.cols[j]), float(ab[0][j]), float(ab[1][j]))
                if key not in shapes:
                    shapes[key] = beta_table(key[1], key[2])(
                        np.ascontiguousarray(u[:, member.cols[j]]))
                table[:, d] = m.from_standard(j, shapes[key])
                continue
            else:
                column = u[:, member.cols[j]]
            table[:, d] = m.column_ppf(j, column, ab)
        return table


def _chunk_rows(members: Sequence[_Member], sources: Sequence[SourceSpec], chunk_size: int
                ) -> int:
    """Rows scored at a time: a (rows x width) float64 matrix stays within CHUNK_BYTES, and
    direct draws within PIECE_BYTES."""
    width = max([m.k for m in members] + [s.width for s in sources] + [1])
    limit = PIECE_BYTES if not sources else CHUNK_BYTES
    return max(1, min(chunk_size, STREAM_BLOCK, limit // (8 * width)))


def _stream(members: Sequence[_Member], sources: Sequence[SourceSpec], n: int, seed: int,
            sampler: Sampler, chunk_rows: int, progress: Progress | None = None,
            blocks: range | None = None) -> Iterator[list[FloatArray]]:
    """Per stream block, each member's (3, rows) outputs. The numbers depend only on the seed,
    the sampler and n: a block is drawn in pieces of ``chunk_rows`` with the same result."""
    # The (rows x k) @ (k x 2) product in the scoring is too small for BLAS threads: waking a
    # second thread costs more than it saves, and far more when the other core is busy.
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield from _stream_blocks(members, sources, n, seed, sampler, chunk_rows, progress,
                                  blocks if blocks is not None else range(n_blocks(n)))


_controller: tuple[int, Any] | None = None


def _blas_controller() -> Any:
    """threadpoolctl's view of this process's thread pools. Finding them lists and reads every
    loaded library (about 0.9 ms), which ``threadpool_limits`` did on every call, a fifth of
    `run` over 5,000 scenarios; so the view is kept until an import (which may load another
    BLAS, as scipy's does) grows ``sys.modules``."""
    global _controller
    if _controller is None or _controller[0] != len(sys.modules):
        from threadpoolctl import ThreadpoolController

        _controller = (len(sys.modules), ThreadpoolController())
    return _controller[1]


def n_blocks(n: int) -> int:
    return -(-n // STREAM_BLOCK)


def _stream_blocks(members: Sequence[_Member], specs: Sequence[SourceSpec], n: int, seed: int,
                   sampler: Sampler, chunk_rows: int, progress: Progress | None,
                   blocks: range) -> Iterator[list[FloatArray]]:
    sources = [_UniformSource(spec, seed, sampler) for spec in specs]
    shared = _SharedColumns.of(members)
    if shared.width:  # a piece's uniforms and its table of distinct columns, together
        chunk_rows = max(1, min(chunk_rows, CHUNK_BYTES // (8 * (shared.width + sum(
            spec.width for spec in specs)))))
    for block in blocks:
        start = block * STREAM_BLOCK
        rows = min(STREAM_BLOCK, n - start)
        for source in sources:
            source.start_block(block)
        # only members that draw directly need their generators (a run of many members
        # sharing uniforms would otherwise seed three unused ones each per block)
        direct = [[block_rng(seed, block, code) for code in (1, 2, 3)]
                  if member.source is None else [] for member in members]
        outs = [np.empty((3, rows)) for _ in members]
        for lo in range(0, rows, chunk_rows):
            piece = min(chunk_rows, rows - lo)
            uniforms = [source.take(piece) for source in sources]
            table = shared.table(members, uniforms, piece) if shared.width else None
            for member, rngs, out, index in zip(members, direct, outs, shared.index,
                                                strict=True):
                if member.source is None:
                    raw = member.draw_direct(rngs, piece)
                elif index is not None:
                    assert table is not None
                    raw = table[:, index]
                else:
                    u = uniforms[member.source]
                    if member.cols is not None:
                        u = u[:, member.cols]
                    raw = member.marginals.ppf(correlate(u, member.copula))
                _score_into(out[:, lo:lo + piece], raw, member.arrays, member.affine)
            if progress is not None:
                progress(piece * len(members))
        yield outs


# ---------------------------------------------------------------------------------------------
# exact order statistics in memory independent of n


def inverted_cdf_rank(n: int, q: float) -> int:
    """0-based index of numpy's ``percentile(..., q, method="inverted_cdf")`` in n sorted values
    (numpy's own arithmetic, so the same value is picked)."""
    virtual = n * np.true_divide(q, 100) - 1
    below = math.floor(virtual)
    return max(0, below if virtual == below else below + 1)


OUTPUT_RANGES = ((0.0, 100.0), (0.0, 1.0), (0.0, 1.0))  # S, R, O: where their values lie


@dataclass
class _Level:
    """One histogram level of a target: values v with ``bin(v) == chosen`` go deeper."""

    lo: float
    scale: float
    chosen: int = -1

    def bins(self, v: FloatArray) -> NDArray[np.intp]:
        # truncation is monotone, so bins keep the order of the values; under- and
        # overflow land in the first and last bin
        idx = ((v - self.lo) * self.scale + 1.0).astype(np.intp)
        return np.clip(idx, 0, HIST_BINS + 1, out=idx)


@dataclass
class _Target:
    """A weighted quantile: the least value whose cumulative weight reaches ``threshold``.

    A plain percentile is the member's values with weight 1 and threshold rank + 1."""

    output: int
    weights: dict[int, float]  # member -> weight of each of its values
    threshold: float
    levels: list[_Level] = field(default_factory=list)
    below: float = 0.0  # weight of the values below the current window
    value: float | None = None
    collect: bool = False
    bounds: list[float] = field(default_factory=lambda: [math.inf, -math.inf])

    def inside(self, v: FloatArray, bins: Callable[[_Level], NDArray[np.intp]] | None = None
               ) -> NDArray[np.bool_] | None:
        """Which of ``v`` lie in the chosen bins so far; ``bins(level)``: ``level.bins(v)``,
        perhaps shared with other targets over the same values."""
        mask = None
        for level in self.levels[:-1] if not self.collect else self.levels:
            hit = (level.bins(v) if bins is None else bins(level)) == level.chosen
            mask = hit if mask is None else mask & hit
        return mask


@dataclass
class _Accumulator:
    """Streaming moments, range, histograms and band counts of one member's outputs."""

    bands: BandRule
    count: int = 0
    mean: FloatArray = field(default_factory=lambda: np.zeros(3))
    m2: FloatArray = field(default_factory=lambda: np.zeros(3))
    low: FloatArray = field(default_factory=lambda: np.full(3, np.inf))
    high: FloatArray = field(default_factory=lambda: np.full(3, -np.inf))
    hist: NDArray[np.int64] = field(
        default_factory=lambda: np.zeros((3, HIST_BINS + 2), dtype=np.int64))
    band_counts: NDArray[np.int64] = field(init=False)

    def __post_init__(self) -> None:
        self.band_counts = np.zeros(len(band_names(self.bands)), dtype=np.int64)

    def add(self, out: FloatArray, histograms: int = 3) -> None:
        """Take one block's outputs; the percentile histograms of the first ``histograms``
        outputs only (a caller that keeps every draw reads its percentiles off them, and needs
        S's histogram only for an outlook mixture)."""
        self.merge(_moments(out))
        hist, bands = _counts(out, self.bands, self.band_counts.size, histograms)
        self.hist[:histograms] += hist
        self.band_counts += bands

    def merge(self, moments: Moments) -> None:
        """Chan et al.: combine one block's moments with the running ones. Always called in
        block order, so the sums are the same whoever computed the blocks."""
        rows, mean, m2, low, high = moments
        total = self.count + rows
        delta = mean - self.mean
        self.m2 += m2 + delta**2 * (self.count * rows / total)
        self.mean += delta * (rows / total)
        self.count = total
        np.minimum(self.low, low, out=self.low)
        np.maximum(self.high, high, out=self.high)

    def std(self) -> FloatArray:
        return np.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else np.zeros(3)


Moments = tuple[int, FloatArray, FloatArray, FloatArray, FloatArray]


def _moments(out: FloatArray) -> Moments:
    """One block's count, means, sums of squared deviations, minima and maxima."""
    mean = out.mean(axis=1)
    m2 = ((out - mean[:, None]) ** 2).sum(axis=1)
    return out.shape[1], mean, m2, out.min(axis=1), out.max(axis=1)


def _counts(out: FloatArray, bands: BandRule, n_bands: int, histograms: int = 3
            ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """One block's histogram counts of its first ``histograms`` outputs (histograms, bins)
    and band counts: integers, so their sums do not depend on the order in which blocks are
    added."""
    hist = np.array([np.bincount(level.bins(out[j]), minlength=HIST_BINS + 2)
                     for j, level in enumerate(_first_levels()[:histograms])],
                    dtype=np.int64).reshape(histograms, HIST_BINS + 2)
    return hist, np.bincount(band_index(out[0], bands), minlength=n_bands).astype(np.int64)


def _first_levels() -> list[_Level]:
    return [_Level(lo, HIST_BINS / (hi - lo)) for lo, hi in OUTPUT_RANGES]


Partial = list[list[tuple[Any, ...]]]  # per pending target, per member: what one block adds
Scan = Callable[[list["_Target"]], Iterable[Partial]]


def _partials(pending: Sequence[_Target], outs: Sequence[FloatArray]) -> Partial:
    """What one block adds to each pending target: ``(w, values)`` for a collecting target,
    ``(w, counts, min, max)`` (integer bin counts) for one that narrows further."""
    result: Partial = []
    # the targets of one member and output (its three percentiles) start from the same
    # first level: its bins of the block's values are computed once
    shared: dict[tuple[int, int, float, float], NDArray[np.intp]] = {}

    def bins_of(m: int, output: int, v: FloatArray) -> Callable[[_Level], NDArray[np.intp]]:
        def bins(level: _Level) -> NDArray[np.intp]:
            key = (m, output, level.lo, level.scale)
            if key not in shared:
                shared[key] = level.bins(v)
            return shared[key]
        return bins

    for t in pending:
        items: list[tuple[Any, ...]] = []
        for m, w in t.weights.items():
            v = outs[m][t.output]
            mask = t.inside(v, bins_of(m, t.output, v))
            v = v if mask is None else v[mask]
            if not v.size:
                continue
            if t.collect:
                items.append((w, v))
            else:
                items.append((w, np.bincount(t.levels[-1].bins(v), minlength=HIST_BINS + 2),
                              float(v.min()), float(v.max())))
        result.append(items)
    return result


def _resolve(targets: list[_Target], accs: Sequence[_Accumulator], scan: Scan) -> None:
    """Find each target's value exactly: narrow it to one histogram bin, then (in further
    passes over the same draws) keep only the values in that bin and select among them.
    Memory: the bins plus the values in the chosen bins, never all n.

    ``scan(pending)`` yields each block's :func:`_partials`, in block order; they are combined
    in that order, so the result is the same however the blocks were computed."""
    masses = {}
    first: dict[tuple[Any, ...], FloatArray] = {}  # a member's percentiles share their mass
    for t in targets:
        t.levels.append(_first_levels()[t.output])
        key = (t.output, *t.weights.items())
        if key not in first:
            first[key] = sum(w * accs[m].hist[t.output].astype(float)  # type: ignore[assignment]
                             for m, w in t.weights.items())
        masses[id(t)] = first[key]
        t.bounds = [min(accs[m].low[t.output] for m in t.weights),
                    max(accs[m].high[t.output] for m in t.weights)]
    for _ in range(MAX_LEVELS + 1):
        sums: dict[int, FloatArray] = {}  # cumulative sums of the masses shared by targets
        for t in targets:
            if t.value is None and not t.collect:
                mass = masses[id(t)]
                if id(mass) not in sums:
                    sums[id(mass)] = np.cumsum(mass)
                _choose(t, mass, sums[id(mass)])
        pending = [t for t in targets if t.value is None]
        if not pending:
            return
        found: dict[int, list[tuple[FloatArray, FloatArray]]] = {id(t): [] for t in pending}
        sub = {id(t): np.zeros(HIST_BINS + 2) for t in pending if not t.collect}
        span = {id(t): [math.inf, -math.inf] for t in pending}
        for partial in scan(pending):
            for t, items in zip(pending, partial, strict=True):
                for item in items:
                    if t.collect:
                        w, v = item
                        found[id(t)].append((v, np.full(v.size, w)))
                    else:
                        w, counts, v_min, v_max = item
                        sub[id(t)] += w * counts
                        span[id(t)] = [min(span[id(t)][0], v_min), max(span[id(t)][1], v_max)]
        for t in pending:
            if t.collect:
                values = np.concatenate([v for v, _ in found[id(t)]])
                weights = np.concatenate([w for _, w in found[id(t)]])
                order = np.argsort(values, kind="stable")
                reached = t.below + np.cumsum(weights[order]) >= t.threshold
                pick = int(np.argmax(reached)) if reached.any() else values.size - 1
                t.value = float(values[order][pick])
            else:
                lo, hi = span[id(t)]
                if lo == hi:  # every value in the window is the same number
                    t.value = lo
                    continue
                t.bounds = [lo, hi]
                masses[id(t)] = sub[id(t)]
    raise AssertionError("quantile selection did not converge")  # pragma: no cover


def _choose(t: _Target, mass: FloatArray, summed: FloatArray | None = None) -> None:
    """Pick the bin holding the target at the newest level, and set up the next step.
    ``summed``: ``np.cumsum(mass)`` if the caller has it."""
    level = t.levels[-1]
    cumulative = t.below + (np.cumsum(mass) if summed is None else summed)
    # masses are not negative, so the sums do not decrease: the first bin reaching the
    # threshold is a binary search away
    first = int(np.searchsorted(cumulative, t.threshold, side="left"))
    chosen = first if first < cumulative.size else int(np.flatnonzero(mass)[-1])
    level.chosen = chosen
    t.below = float(cumulative[chosen] - mass[chosen])
    if mass[chosen] <= COLLECT_CAP or len(t.levels) > MAX_LEVELS:
        t.collect = True
        return
    # too many values in one bin: histogram it again, finer, over its own range
    edge_lo = t.bounds[0] if chosen == 0 else max(
        t.bounds[0], level.lo + (chosen - 1) / level.scale)
    edge_hi = t.bounds[1] if chosen == HIST_BINS + 1 else min(
        t.bounds[1], level.lo + chosen / level.scale)
    width = edge_hi - edge_lo
    t.levels.append(_Level(edge_lo, HIST_BINS / width if width > 0 else 1.0))


# ---------------------------------------------------------------------------------------------
# results


def _order_statistics(values: FloatArray, ranks: Sequence[int]) -> FloatArray:
    """Each row's values of the given ascending 0-based ranks, (rows, len(ranks)): a partition
    at the middle rank, then each side at its own ranks (numpy's partition at several ranks
    at once is three times slower)."""
    middle = len(ranks) // 2
    at = ranks[middle]
    parted = np.partition(values, at, axis=1)
    out = np.empty((values.shape[0], len(ranks)))
    out[:, middle] = parted[:, at]
    if middle:
        out[:, :middle] = _order_statistics(parted[:, :at], ranks[:middle]) if \
            ranks[middle - 1] < at else _order_statistics(parted[:, :at + 1], ranks[:middle])
    if middle + 1 < len(ranks):
        rest = [r - at - 1 for r in ranks[middle + 1:]]
        out[:, middle + 1:] = (_order_statistics(parted[:, at + 1:], rest) if rest[0] >= 0
                               else _order_statistics(parted[:, at:], [r + 1 for r in rest]))
    return out


def stats(values: FloatArray) -> dict[str, float]:
    # inverted CDF: the p-th percentile is a drawn value with at least p % of draws at or
    # below it, the same definition the weighted outlook mixture uses
    p5, p50, p95 = np.percentile(values, PERCENTILES, method="inverted_cdf")
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if values.size > 1
            else 0.0, "p5": float(p5), "p50": float(p50), "p95": float(p95)}


def band_probabilities(stability: FloatArray, bands: BandRule,
                       weights: FloatArray | None = None) -> dict[str, float]:
    names = band_names(bands)
    counts = np.bincount(band_index(stability, bands).ravel(), weights=weights,
                         minlength=len(names))
    total = counts.sum()
    return {band: float(counts[i] / total) for i, band in enumerate(names)}


@dataclass(frozen=True)
class Summary:
    """mean, std and p5/p50/p95 of S, R and O (rows), and S's band probabilities."""

    moments: tuple[dict[str, float], dict[str, float], dict[str, float]]
    band_probabilities: dict[str, float]


@dataclass(frozen=True)
class Simulation:
    """The simulated S, R and O of one scenario.

    The summary is computed while drawing (Monte Carlo) or from the exact law; the per-draw
    arrays (``stability`` etc.) are drawn again on first use, the same numbers for the same
    seed, so a large run never holds them unless asked.
    """

    scenario: str
    partnership: str
    n: int
    seed: int
    sampler: str
    bands: BandRule
    stats: Summary = field(repr=False)  # moments of S, R, O and band odds
    method: str = "mc"
    draws: Callable[[], FloatArray] | None = field(default=None, repr=False, compare=False)
    sides: bool = True  # the tree has risk and opportunity nodes: R and O are reported

    @property
    def key(self) -> str:
        return f"{self.partnership}/{self.scenario}"

    @cached_property
    def _arrays(self) -> FloatArray:
        assert self.draws is not None
        return self.draws()

    @property
    def stability(self) -> FloatArray:
        return self._arrays[0]

    @property
    def risk_index(self) -> FloatArray:
        return self._arrays[1]

    @property
    def opportunity_index(self) -> FloatArray:
        return self._arrays[2]

    def to_dict(self) -> dict[str, Any]:
        """MODEL.md's ``simulation`` section: statistics of S, band odds; R and O nested."""
        s, r, o = self.stats.moments
        out = {"n": self.n, "seed": self.seed, "sampler": self.sampler, "method": self.method,
               **s, "band_probabilities": dict(self.stats.band_probabilities)}
        if self.sides:
            out |= {"risk_index": dict(r), "opportunity_index": dict(o)}
        return out

    def summary(self) -> Any:
        """mean, std and p5/p50/p95 of S, R and O as a pandas DataFrame (rows)."""
        return self.frame()

    def to_frame(self) -> Any:
        """The summary as a DataFrame: one row each for S, R and O (as every result type's
        ``to_frame``)."""
        return self.frame()

    def frame(self) -> Any:
        import pandas as pd

        s, r, o = self.stats.moments
        if not self.sides:
            return pd.DataFrame({"score": s}).T
        return pd.DataFrame({"stability": s, "risk_index": r, "opportunity_index": o}).T

    def _repr_html_(self) -> str:
        probs = self.stats.band_probabilities
        odds = ", ".join(f"{band} {p:.0%}" for band, p in probs.items())
        how = (f"exact law ({self.method})" if self.method == "exact" else
               f"{self.n:,} draws ({self.sampler}, seed {self.seed})")
        return (f"<p><b>{self.key}</b>: {how}; {odds}</p>"
                + self.frame().to_html(float_format=lambda v: f"{v:.3f}"))


# ---------------------------------------------------------------------------------------------
# the exact method


class MethodError(ValueError):
    """``method="exact"`` asked for a model the exact law does not cover."""

    usage_error = True  # the CLI reports it as a usage error (exit 2)


Method = Literal["auto", "exact", "mc"]
LINEAR_TOLERANCE = 1e-9


def linear_form(scenario: Scenario) -> tuple[FloatArray, FloatArray] | None:
    """``(c0, c)`` with S, R, O = c0 + c @ x exactly, if the model is linear in independent
    inputs; else None.

    Needs independent inputs (no correlations) and a linear tree; the coefficients are
    read off the scoring function itself (each factor moved from its low to its high), and
    the linearity is checked at random interior points, so a nonlinear model (or an active
    clip) is never treated as linear. Found once per scenario object (read-only arrays): a
    comparison asks for it for the laws and again for the laws of differences.
    """
    return per_scenario(_FORMS, scenario, _linear_form)


_FORMS: dict[int, tuple[weakref.ref[Scenario], tuple[FloatArray, FloatArray] | None]] = {}


def _linear_form(scenario: Scenario) -> tuple[FloatArray, FloatArray] | None:
    if scenario.correlations:
        return None
    arrays, marginals = ModelArrays.of(scenario), Marginals.of(scenario)
    if not arrays.is_linear:
        return None
    k = len(arrays.ids)
    width = marginals.width
    probes = np.tile(marginals.low, (k + 1, 1))
    probes[1:][np.diag_indices(k)] = marginals.high
    rng = np.random.default_rng(0)
    checks = marginals.low + width * rng.random((8, k))
    rows = np.concatenate([probes, checks])
    out = np.empty((3, rows.shape[0]))
    _score_into(out, rows.copy(), arrays)
    with np.errstate(invalid="ignore", divide="ignore"):
        coef = np.where(width > 0, (out[:, 1:k + 1] - out[:, :1]) / np.where(
            width > 0, width, 1.0), 0.0)
    c0 = out[:, 0] - coef @ marginals.low
    predicted = c0[:, None] + coef @ checks.T
    if not np.allclose(predicted, out[:, k + 1:], rtol=0.0,
                       atol=LINEAR_TOLERANCE * (1.0 + np.abs(out).max())):
        return None
    c0.flags.writeable = coef.flags.writeable = False
    return c0, coef


def _law(c0: float, coef: FloatArray, marginals: Marginals, grid: int | None = None) -> Any:
    """The exact law of ``c0 + coef @ x``, on :data:`riskengine.exact.GRID` cells unless
    ``grid`` is given (a benchmark measures the default's error against a finer one)."""
    from riskengine import exact

    a, b = marginals.pert_ab()
    return exact.linear_law(c0, coef, marginals.kind, marginals.low, marginals.mode,
                            marginals.high, a, b, mean=c0 + float(coef @ marginals.mean()),
                            std=math.sqrt(float(coef**2 @ marginals.variance())),
                            grid=exact.GRID if grid is None else grid)


def exact_laws(scenario: Scenario) -> list[Any] | None:
    """The exact laws of S, R and O (:class:`riskengine.exact.Law`), or None if not linear."""
    form = linear_form(scenario)
    if form is None:
        return None
    marginals = Marginals.of(scenario)
    return [_law(float(form[0][j]), form[1][j], marginals) for j in range(3)]


def choose_method(scenarios: Sequence[Scenario], method: Method) -> list[list[Any] | None]:
    """Each scenario's exact laws when the method uses them (None: Monte Carlo)."""
    if method not in ("auto", "exact", "mc"):
        raise MethodError(f"unknown method {method!r}: use auto, exact or mc")
    if method == "mc":
        return [None] * len(scenarios)
    return [_laws_for(s, method) for s in scenarios]


def _laws_for(s: Scenario, method: Method) -> list[Any] | None:
    """The scenario's exact laws, None when it is not linear; an error if the method is
    ``exact`` and it is not."""
    laws = exact_laws(s)
    if laws is None and method == "exact":
        raise MethodError(f"--method exact: scenario {s.partnership}/{s.id} is not linear in "
                          "independent inputs (it has correlations or the geometric model); "
                          "use --method auto or mc")
    return laws


ExactResult = tuple[tuple[Any], Summary] | None  # (the law of S,), the summary of S, R, O


def exact_results(scenarios: Sequence[Scenario], method: Method) -> list[ExactResult]:
    """:func:`choose_method` for a caller that needs only the law of S after the summaries:
    each scenario's laws of R and O go into its summary at once and are dropped, so a
    comparison of thousands of scenarios holds one law a scenario, not three. (Top level:
    picklable, for executors that share the scenarios out in chunks.)"""
    choose_method([], method)  # an unknown method fails here
    if method == "mc":
        return [None] * len(scenarios)
    out: list[ExactResult] = []
    for s in scenarios:
        laws = _laws_for(s, method)
        out.append(None if laws is None else
                   ((laws[0],), exact_summary(laws, scenario_bands(s))))
    return out


def exact_summary(laws: Sequence[Any], bands: BandRule) -> Summary:
    from riskengine import exact

    moments = tuple({"mean": law.mean, "std": law.std,
                     **dict(zip(("p5", "p50", "p95"),
                                (float(v) for v in law.quantile(np.array(PERCENTILES) / 100)),
                                strict=True))} for law in laws)
    return Summary(moments, exact.band_probabilities(laws[0], bands))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# simulation


def _check(n: int, chunk_size: int) -> None:
    if n < 1 or chunk_size < 1:
        raise ValueError("n and chunk_size must be positive")


@dataclass(frozen=True)
class RunResult:
    """What one streaming pass over several members found."""

    summaries: list[Summary]
    pairs: dict[tuple[int, int], tuple[float, float]]  # (i, j) -> (P(S_i > S_j), P(tie))
    mixture: dict[str, Any] | None
    stability: dict[int, FloatArray] = field(default_factory=dict)  # S of the members asked for


@dataclass(frozen=True)
class StreamSpec:
    """Everything a worker needs to draw and score any stream block of a run (picklable):
    the members compiled (:class:`CompiledScenario`, no pydantic model), the run's
    settings."""

    members: tuple[CompiledScenario, ...]
    n: int
    seed: int
    sampler: Sampler
    shared: bool
    chunk_size: int

    @classmethod
    def of(cls, scenarios: Iterable[Scenario | CompiledScenario], n: int, seed: int,
           sampler: Sampler, shared: bool, chunk_size: int = STREAM_BLOCK) -> StreamSpec:
        return cls(compiled(scenarios), n, seed, sampler, shared, chunk_size)

    def open(self) -> tuple[list[_Member], list[SourceSpec], int]:
        members, sources = _members(self.members, self.shared, self.sampler)
        return members, sources, _chunk_rows(members, sources, self.chunk_size)

    def stream(self, blocks: range | None = None, progress: Progress | None = None,
               ) -> Iterator[list[FloatArray]]:
        members, sources, rows = self.open()
        return _stream(members, sources, self.n, self.seed, self.sampler, rows, progress, blocks)


@dataclass(frozen=True)
class StreamPart:
    """What one worker found over a range of blocks: per-block moments (combined in block
    order by the caller), summed integer counts, and the outputs themselves when kept."""

    moments: list[list[Moments]]  # [block][member]
    hist: list[NDArray[np.int64]]  # [member] (3, bins)
    band_counts: list[NDArray[np.int64]]
    pair_counts: list[NDArray[np.int64]]  # in the order of the pairs asked for
    outs: list[list[FloatArray]] | None
    stability: list[list[FloatArray]] = field(default_factory=list)  # [block][wanted member]


def stream_part(spec: StreamSpec, blocks: range, pairs: Sequence[tuple[int, int]],
                keep: bool, want: Sequence[int] = ()) -> StreamPart:
    """Worker: draw and score ``blocks`` of a run and summarise them (top level: picklable)."""
    bands = [c.arrays.bands for c in spec.members]
    n_bands = [len(band_names(b)) for b in bands]
    part = StreamPart([], [np.zeros((3, HIST_BINS + 2), dtype=np.int64) for _ in bands],
                      [np.zeros(k, dtype=np.int64) for k in n_bands],
                      [np.zeros(2, dtype=np.int64) for _ in pairs], [] if keep else None)
    for outs in spec.stream(blocks):
        part.moments.append([_moments(out) for out in outs])
        for m, out in enumerate(outs):
            hist, band = _counts(out, bands[m], n_bands[m])
            part.hist[m] += hist
            part.band_counts[m] += band
        for counts, (i, j) in zip(part.pair_counts, pairs, strict=True):
            counts += [np.count_nonzero(outs[i][0] > outs[j][0]),
                       np.count_nonzero(outs[i][0] == outs[j][0])]
        if part.outs is not None:
            part.outs.append(outs)
        elif want:
            part.stability.append([outs[m][0].copy() for m in want])
    return part


def scan_part(spec: StreamSpec, blocks: range, pending: list[_Target]) -> list[Partial]:
    """Worker: one exact-percentile pass over ``blocks`` (top level: picklable)."""
    return [_partials(pending, outs) for outs in spec.stream(blocks)]


def run_task(spec: StreamSpec, pairs: Sequence[tuple[int, int]],
             mixture: Sequence[float] | None, want: Sequence[int], keep: bool
             ) -> tuple[RunResult, list[FloatArray] | None]:
    """Worker: a whole run in one process (top level: picklable), for callers that share out
    many runs rather than the blocks of one; with ``keep``, each member's (3, n) outputs too
    (the caller's budget for held draws decides)."""
    result, arrays_of = run_members(spec.members, spec.n, spec.seed, spec.sampler,
                                    spec.shared, spec.chunk_size, pairs=pairs,
                                    mixture=mixture, want=want)
    return result, [arrays_of(m) for m in range(len(spec.members))] if keep else None


def block_ranges(n: int, parts: int = 32) -> list[range]:
    """The run's blocks in at most ``parts`` contiguous ranges (the work items of a pool).
    Any split gives the same numbers; this one only balances the load."""
    total = n_blocks(n)
    size = max(1, -(-total // parts))
    return [range(b, min(b + size, total)) for b in range(0, total, size)]


def run_members(scenarios: Sequence[Scenario | CompiledScenario], n: int, seed: int,
                sampler: Sampler, shared: bool, chunk_size: int = STREAM_BLOCK,
                progress: Progress | None = None,
                pairs: Sequence[tuple[int, int]] = (), mixture: Sequence[float] | None = None,
                executor: Executor | None = None, want: Sequence[int] = (),
                ) -> tuple[RunResult, Callable[[int], FloatArray]]:
    """Monte Carlo summaries of several scenarios in one streaming pass (plus the passes the
    exact percentiles need), and a function that draws one member's arrays again.
    ``want``: members whose stability draws the result carries (taken in the first pass).

    With an ``executor`` (any :class:`concurrent.futures.Executor`: a process pool, a Dask
    client's) the stream blocks are drawn by its workers; every partial result is combined in
    block order, so the numbers are the same to the last digit as without one."""
    spec = StreamSpec.of(scenarios, n, seed, sampler, shared, chunk_size)
    members, sources, rows = spec.open()
    accs = [_Accumulator(m.arrays.bands) for m in members]
    keep = 3 * n * len(members) * 8 <= KEEP_BYTES
    kept: list[list[FloatArray]] = []
    pair_counts = {p: np.zeros(2, dtype=np.int64) for p in pairs}
    wanted: list[list[FloatArray]] = []  # [block][k]: S of want[k], when not kept whole
    # with every draw kept, the members' percentiles are read off the draws; only the outlook
    # mixture's are found through the histograms
    histograms = 3 if not keep else 1 if mixture is not None else 0
    if executor is not None and len(block_ranges(n)) < 2:
        executor = None  # one block: nothing to share out, and the same numbers
    if executor is None:
        for outs in _stream(members, sources, n, seed, sampler, rows, progress):
            for acc, out in zip(accs, outs, strict=True):
                acc.add(out, histograms)
            for (i, j), counts in pair_counts.items():
                counts += [np.count_nonzero(outs[i][0] > outs[j][0]),
                           np.count_nonzero(outs[i][0] == outs[j][0])]
            if keep:
                kept.append(outs)
            elif want:
                wanted.append([outs[m][0].copy() for m in want])
    else:
        ranges = block_ranges(n)
        futures = [executor.submit(stream_part, spec, blocks, list(pairs), keep, list(want))
                   for blocks in ranges]
        for blocks, future in zip(ranges, futures, strict=True):
            part: StreamPart = future.result()
            for block_moments in part.moments:
                for acc, moments in zip(accs, block_moments, strict=True):
                    acc.merge(moments)
            for m, acc in enumerate(accs):
                acc.hist += part.hist[m]
                acc.band_counts += part.band_counts[m]
            for counts, more in zip(pair_counts.values(), part.pair_counts, strict=True):
                counts += more
            if part.outs is not None:
                kept.extend(part.outs)
            wanted.extend(part.stability)
            if progress is not None:
                done = min(n, blocks.stop * STREAM_BLOCK) - blocks.start * STREAM_BLOCK
                progress(done * len(members))

    def scan(pending: list[_Target]) -> Iterable[Partial]:
        if keep:
            return (_partials(pending, outs) for outs in kept)
        if executor is None:
            return (_partials(pending, outs)
                    for outs in _stream(members, sources, n, seed, sampler, rows))
        futures = [executor.submit(scan_part, spec, blocks, pending)
                   for blocks in block_ranges(n)]
        return (partial for future in futures for partial in future.result())

    targets = [_Target(j, {m: 1.0}, inverted_cdf_rank(n, q) + 1.0)
               for m in range(len(members)) for j in range(3) for q in PERCENTILES]
    mix_targets = []
    if mixture is not None:
        # the weighted outlook percentile: each draw of scenario m weighs p_m / n
        mix_targets = [_Target(0, {m: p / n for m, p in enumerate(mixture)}, q / 100.0 - 1e-12)
                       for q in PERCENTILES]
    if keep:
        for m in range(len(members)):
            values = np.concatenate([outs[m] for outs in kept], axis=1)
            # numpy's inverted-CDF percentiles are these order statistics
            found = _order_statistics(values, [inverted_cdf_rank(n, q) for q in PERCENTILES])
            for j in range(3):
                for t, value in zip(targets[9 * m + 3 * j:9 * m + 3 * j + 3], found[j],
                                    strict=True):
                    t.value = float(value)
        _resolve(mix_targets, accs, scan)
    else:
        _resolve(targets + mix_targets, accs, scan)
    summaries = []
    for m, acc in enumerate(accs):
        std = acc.std()
        summary_moments = tuple({"mean": float(acc.mean[j]), "std": float(std[j]),
                                 **{f"p{q:g}": targets[9 * m + 3 * j + i].value
                                    for i, q in enumerate(PERCENTILES)}} for j in range(3))
        odds = {band: float(acc.band_counts[i] / n)
                for i, band in enumerate(band_names(acc.bands))}
        summaries.append(Summary(summary_moments, odds))  # type: ignore[arg-type]
    mix = None
    if mixture is not None:
        counts = np.sum([p * acc.band_counts / n for p, acc in zip(mixture, accs, strict=True)],
                        axis=0)
        total = float(np.sum(counts))
        mix = {"mean": float(sum(p * acc.mean[0] for p, acc in zip(mixture, accs,
                                                                     strict=True))),
               **{f"p{q:g}": t.value for q, t in zip(PERCENTILES, mix_targets, strict=True)},
               "band_probabilities": {band: float(counts[i] / total)
                                      for i, band in enumerate(band_names(accs[0].bands))}}
    stability = {m: np.concatenate([outs[m][0] for outs in kept]) if keep else
                 np.concatenate([block[k] for block in wanted]) for k, m in enumerate(want)}
    result = RunResult(summaries, {p: (float(c[0] / n), float(c[1] / n))
                                   for p, c in pair_counts.items()}, mix, stability)

    def arrays_of(m: int) -> FloatArray:
        if keep:
            return np.concatenate([outs[m] for outs in kept], axis=1)
        return np.concatenate([outs[m] for outs in _stream(members, sources, n, seed, sampler,
                                                           rows)], axis=1)

    return result, arrays_of


def simulate(scenario: Scenario, n: int = 10_000, seed: int = 0, sampler: Sampler = "random",
             chunk_size: int = STREAM_BLOCK, progress: Progress | None = None,
             method: Method = "auto", executor: Executor | None = None) -> Simulation:
    """Summarise S, R and O of ``scenario`` under its estimates' uncertainty.

    ``method``: ``"exact"`` computes the exact law (linear models with independent inputs,
    :mod:`riskengine.exact`), ``"mc"`` draws ``n`` samples, ``"auto"`` the exact law when it
    applies. The summary's memory does not grow with ``n``. ``executor``: draw the stream
    blocks on its workers (the same numbers, see :func:`run_members`).
    """
    _check(n, chunk_size)
    (laws,) = choose_method([scenario], method)
    arrays = ModelArrays.of(scenario)
    if laws is not None:
        def draws() -> FloatArray:
            return run_members([scenario], n, seed, sampler, False, chunk_size)[1](0)

        if progress is not None:
            progress(n)
        return Simulation(scenario.id, scenario.partnership, n, seed, sampler, arrays.bands,
                          exact_summary(laws, arrays.bands), "exact", draws,
                          arrays.has_sides)
    result, arrays_of = run_members([scenario], n, seed, sampler, False, chunk_size, progress,
                                    executor=executor)
    return Simulation(scenario.id, scenario.partnership, n, seed, sampler, arrays.bands,
                      result.summaries[0], "mc", lambda: arrays_of(0), arrays.has_sides)


def simulate_many(scenarios: Sequence[Scenario], n: int = 10_000, seed: int = 0,
                  sampler: Sampler = "random", progress: Progress | None = None,
                  pairs: Sequence[tuple[int, int]] = (), executor: Executor | None = None,
                  ) -> list[Simulation]:
    """Simulate several scenarios with common random numbers (Monte Carlo).

    Every uncertain quantity (:func:`draw_key`: a factor of one party, or of one partnership)
    gets one column of uniforms, shared by all scenarios that estimate it, so
    differences between scenarios come from their estimates, not from sampling noise: the right
    basis for "probability that A scores above B". Use :func:`run_members` for the pair
    counts of ``pairs``, computed while drawing.
    """
    _check(n, 1)
    result, arrays_of = run_members(scenarios, n, seed, sampler, True, progress=progress,
                                    pairs=pairs, executor=executor)
    return [Simulation(s.id, s.partnership, n, seed, sampler, scenario_bands(s),
                       result.summaries[m], "mc", _bind(arrays_of, m), has_sides(s))
            for m, s in enumerate(scenarios)]


def _bind(func: Callable[[int], FloatArray], m: int) -> Callable[[], FloatArray]:
    return lambda: func(m)
