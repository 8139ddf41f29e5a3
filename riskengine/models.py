"""The data model: factors, estimates, scenarios, as strict pydantic models.

Two layers:

* the *file* models (``FactorFile``, ``ScenarioFile``, ``EstimateEntry``) say what a YAML file may
  contain; a child scenario may give partial entries, so estimate keys are optional there;
* the *resolved* models (``Estimate``, ``Scenario``) are what scoring consumes: inheritance applied,
  every estimate complete and checked against its factor's scale.

The JSON Schemas published for editors come from the file models.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

Kind = Literal["risk", "opportunity"]
Distribution = Literal["pert", "triangular", "uniform"]
Confidence = Literal["low", "medium", "high"]
Aggregation = Literal["arithmetic", "geometric"]

SNAKE_ID = r"^[a-z][a-z0-9_]*$"
SLUG = r"^[a-z0-9][a-z0-9-]*$"
SCENARIO_ID = r"^[a-z0-9][a-z0-9_-]*$"
# A scenario id names its file and `extends` looks a file up by it: bounded well below the
# 255-byte limit on file names, so a long one is a field error rather than an OSError.
MAX_ID_LENGTH = 128

# Numeric limits (MODEL.md "Limits"). Raw values are multiplied by 1 / (max - min) and variances
# by its square; within these bounds every intermediate is a finite, normal float64.
SCALE_LIMIT = 1e100  # |scale.min|, |scale.max| at most this
MIN_SPAN = 1e-100  # max - min at least this ...
MIN_RELATIVE_SPAN = 1e-9  # ... and at least this share of the larger of |min|, |max|
MAX_WEIGHT = 1e12  # weights are relative; a kind's sum of up to 10**6 of them stays finite

# Dates in YAML 1.2 are text; they are the one place where parsing a string is wanted.
Date = Annotated[dt.date, Field(strict=False)]
Number = Annotated[float, Field(allow_inf_nan=False)]
NonEmptyText = Annotated[str, Field(min_length=1)]
Weight = Annotated[float, Field(ge=0, le=MAX_WEIGHT, allow_inf_nan=False)]
ScenarioId = Annotated[str, Field(pattern=SCENARIO_ID, max_length=MAX_ID_LENGTH)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# The validation context under which the loader builds estimates and scenarios: it has already
# checked what their own validators would check, at the lines that wrote it. Checking again cost
# about a tenth of loading 5,000 files, the estimates' check twice over (pydantic re-runs it on
# every estimate of a scenario being validated).
LOADER_CHECKED = "riskengine.loader_checked"


def _loader_checked(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and info.context.get(LOADER_CHECKED) is True


class Scale(StrictModel):
    min: Number = Field(description="Raw value that means none of the factor.")
    max: Number = Field(description="Raw value that means the most of it; greater than min.")
    unit: NonEmptyText = Field(description="What the raw numbers measure.")

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if not self.max > self.min:
            raise ValueError(f"scale.max ({self.max:g}) must be greater than scale.min "
                             f"({self.min:g})")
        largest = max(abs(self.min), abs(self.max))
        if largest > SCALE_LIMIT:
            raise ValueError(f"scale.min and scale.max must lie within -{SCALE_LIMIT:g}.."
                             f"{SCALE_LIMIT:g} (got {self.min:g}..{self.max:g}); change the "
                             "unit")
        if not self.max - self.min >= max(MIN_SPAN, MIN_RELATIVE_SPAN * largest):
            raise ValueError(f"scale {self.min:g}..{self.max:g} is too narrow to tell values "
                             f"apart: max - min must be at least {MIN_SPAN:g} and at least "
                             f"{MIN_RELATIVE_SPAN:g} of the larger of |min|, |max|; change the "
                             "unit")
        return self


class Factor(StrictModel):
    """One factor of the catalogue, as written in ``factors/<id>.yaml``."""

    id: Annotated[str, Field(pattern=SNAKE_ID, description="snake_case; equals the file stem")]
    name: NonEmptyText
    kind: Kind
    group: Annotated[str, Field(pattern=SNAKE_ID)] = "general"
    about: Literal["a", "b", "pair"] | None = None
    description: NonEmptyText
    scale: Scale
    higher_means: Literal["more", "less"] = Field(
        description="Whether a higher raw value means more of this factor.")
    weight: Annotated[Weight, Field(description="Default weight within its kind.")]

    @field_validator("description", "name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


FactorFile = Factor


class Evidence(StrictModel):
    source: NonEmptyText
    date: Date
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    note: str | None = None
    grade: Annotated[str, Field(pattern=r"^[A-F][1-6]$",
                                description="Admiralty code: reliability A-F, credibility 1-6")
                     ] | None = None


class EstimateEntry(StrictModel):
    """A factor entry as written in a scenario file; a child's entry may be partial."""

    value: Number | None = None
    low: Number | None = None
    mode: Number | None = None
    high: Number | None = None
    shift: Number | None = Field(
        default=None, description="Move the parent's low, mode, high (or value) by this amount.")
    distribution: Distribution | None = None
    confidence: Confidence | None = None
    weight: Weight | None = None
    evidence: list[Evidence] | None = None
    note: str | None = None


class Bands(StrictModel):
    stable: Annotated[Number, Field(ge=0, le=100)] = 65.0
    fragile: Annotated[Number, Field(ge=0, le=100)] = 40.0

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if self.fragile > self.stable:
            raise ValueError(f"bands.fragile ({self.fragile:g}) must not exceed bands.stable "
                             f"({self.stable:g})")
        return self


class ModelSettings(StrictModel):
    aggregation: Aggregation = "arithmetic"
    risk_share: Annotated[Number, Field(ge=0, le=1)] = 0.5
    bands: Bands = Bands()


class ModelSettingsEntry(StrictModel):
    """Model settings as written in a file; absent keys are inherited or defaulted."""

    aggregation: Aggregation | None = None
    risk_share: Annotated[Number, Field(ge=0, le=1)] | None = None
    bands: Bands | None = None


class Correlation(StrictModel):
    """A rank correlation between two factors' draws, stated by the analyst."""

    factors: Annotated[list[Annotated[str, Field(pattern=SNAKE_ID)]],
                       Field(min_length=2, max_length=2)]
    rho: Annotated[Number, Field(ge=-1, le=1)]

    @model_validator(mode="after")
    def _two_factors(self) -> Correlation:
        if self.factors[0] == self.factors[1]:
            raise ValueError(f"a correlation needs two different factors, got "
                             f"{self.factors[0]!r} twice")
        return self


class ScenarioFile(StrictModel):
    """A scenario as written in ``scenarios/<partnership>/<id>.yaml``."""

    id: ScenarioId
    title: NonEmptyText
    partnership: Annotated[str, Field(pattern=SLUG)] | None = None
    parties: Annotated[list[NonEmptyText], Field(min_length=2, max_length=2)] | None = None
    as_of: Date | None = None
    probability: Annotated[Number, Field(ge=0, le=1)] | None = None
    extends: Annotated[ScenarioId | None, Field(
        description="The id of the parent scenario, a file in the same folder.")] = None
    description: str | None = None
    signposts: list[NonEmptyText] | None = None
    tree: Annotated[str, Field(pattern=SNAKE_ID, description="The id of a model tree "
                               "(models/<id>.yaml); default: MODEL.md's formula.")] | None = None
    model: ModelSettingsEntry | None = None
    factors: dict[Annotated[str, Field(pattern=SNAKE_ID)], EstimateEntry] = Field(
        default_factory=dict)
    correlations: list[Correlation] | None = None


class Estimate(StrictModel):
    """A complete estimate of one factor in a resolved scenario, on the factor's raw scale."""

    factor: Factor
    low: Number
    mode: Number
    high: Number
    distribution: Distribution = "pert"
    confidence: Confidence | None = None
    weight: Weight
    evidence: tuple[Evidence, ...] = ()
    fixed: bool = False  # given as a single `value`

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Estimate:
        # The loader reports these at the lines that wrote them; this keeps an estimate built
        # through the API from scoring as NaN.
        if _loader_checked(info):
            return self
        scale = self.factor.scale
        for name in ("low", "mode", "high"):
            value = getattr(self, name)
            if not scale.min <= value <= scale.max:
                raise ValueError(f"{self.factor.id}: {name} {value:g} is outside the scale "
                                 f"{scale.min:g}..{scale.max:g}")
        if not self.low <= self.mode <= self.high:
            raise ValueError(f"{self.factor.id}: estimate must satisfy low <= mode <= high "
                             f"(got {self.low:g}, {self.mode:g}, {self.high:g})")
        if self.fixed and not self.low == self.mode == self.high:
            raise ValueError(f"{self.factor.id}: a fixed estimate needs low == mode == high")
        if self.distribution == "uniform" and not self.fixed and not self.low < self.high:
            raise ValueError(f"{self.factor.id}: a uniform estimate needs low < high")
        return self

    @property
    def point(self) -> float:
        """The value the deterministic score uses: value, else mode, else the uniform midpoint."""
        if self.distribution == "uniform" and not self.fixed:
            return (self.low + self.high) / 2
        return self.mode


class Scenario(StrictModel):
    """A scenario after inheritance, ready to score."""

    id: str
    title: str
    partnership: str
    parties: tuple[str, str] | None = None
    as_of: dt.date | None = None
    probability: float | None = None
    extends: str | None = None
    description: str | None = None
    signposts: tuple[str, ...] = ()
    model: ModelSettings = ModelSettings()
    estimates: tuple[Estimate, ...]
    correlations: tuple[Correlation, ...] = ()
    source: str | None = None  # the file it was read from, for messages and reports
    tree: TreeFile | None = None  # None: the default tree of MODEL.md
    population: Population | None = None  # for leaves normalised over a population
    # where it was scored from, as shown to the user: the project root and its factors folder
    project: str | None = None
    catalogue: str | None = None

    @model_validator(mode="after")
    def _scorable(self, info: ValidationInfo) -> Scenario:
        # The loader reports these at the lines that wrote them; this keeps a scenario built
        # through the API from scoring as NaN.
        if _loader_checked(info):
            return self
        if not re.fullmatch(SCENARIO_ID, self.id):
            raise ValueError(f"id {self.id!r} must match {SCENARIO_ID}")
        if not re.fullmatch(SLUG, self.partnership):
            raise ValueError(f"partnership {self.partnership!r} must be a slug ({SLUG})")
        if self.probability is not None and not 0 <= self.probability <= 1:
            raise ValueError(f"probability {self.probability:g} must lie in 0..1")
        ids = [e.factor.id for e in self.estimates]
        if len(set(ids)) != len(ids):
            raise ValueError("each factor may be estimated once")
        # the default tree needs both kinds; a tree file says for itself what it combines
        problems = [message for message, _ in kind_problems(self.estimates)] \
            if self.tree is None else []
        problems += [message for _, message, _ in correlation_problems(ids, self.correlations)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def key(self) -> str:
        """``partnership/id``: unique across folders, used in tables and JSON."""
        return f"{self.partnership}/{self.id}"

    def estimate(self, factor_id: str) -> Estimate:
        for est in self.estimates:
            if est.factor.id == factor_id:
                return est
        raise KeyError(factor_id)


def kind_problems(estimates: Sequence[Estimate]) -> list[tuple[str, str]]:
    """(message, code) for each kind a scenario cannot score: none of it, or no weight."""
    problems = []
    for kind in ("risk", "opportunity"):
        weights = [e.weight for e in estimates if e.factor.kind == kind]
        if not weights:
            problems.append((f"the scenario uses no {kind} factor; it needs at least one of "
                             "each kind", "RE306"))
        elif not math.fsum(weights) > 0:
            problems.append((f"the {kind} factors' weights sum to 0; at least one must be "
                             "positive", "RE305"))
    return problems


def gaussian_correlation(rho: float) -> float:
    """The Gaussian copula's correlation that gives Spearman's ``rho``: invert
    rho = (6 / pi) asin(r / 2)."""
    return 2.0 * math.sin(math.pi * rho / 6.0)


# Below this a Cholesky pivot counts as zero: a matrix that close to singular is refused
# rather than left to whether LAPACK's rounding happens to accept it.
_PIVOT_TOLERANCE = 1e-10


def correlation_problems(ids: Sequence[str], correlations: Sequence[Correlation]
                         ) -> list[tuple[tuple[str | int, ...], str, str]]:
    """(location within ``correlations``, message, code) for each reason the stated correlations
    cannot be simulated: a factor not estimated, a pair given twice, or a set of
    correlations no joint distribution has (the copula's matrix is not positive definite).
    One function for the loader, for ``validate`` and for :class:`Scenario` itself."""
    problems: list[tuple[tuple[str | int, ...], str, str]] = []
    seen: dict[frozenset[str], int] = {}
    for i, corr in enumerate(correlations):
        for factor_id in corr.factors:
            if factor_id not in ids:
                problems.append(((i, "factors"), f"correlation names {factor_id!r}, which the "
                                 "scenario does not estimate", "RE301"))
        pair = frozenset(corr.factors)
        if pair in seen:
            problems.append(((i, "factors"), f"the correlation of {corr.factors[0]} and "
                             f"{corr.factors[1]} is already given in "
                             f"correlations[{seen[pair]}]", "RE102"))
        seen.setdefault(pair, i)
    if problems:
        return problems
    involved = sorted({f for corr in correlations for f in corr.factors})
    index = {f: i for i, f in enumerate(involved)}
    matrix = [[float(i == j) for j in range(len(involved))] for i in range(len(involved))]
    for corr in correlations:
        i, j = index[corr.factors[0]], index[corr.factors[1]]
        matrix[i][j] = matrix[j][i] = gaussian_correlation(corr.rho)
    if not _positive_definite(matrix):
        problems.append(((), "the stated correlations are inconsistent: no joint distribution "
                         "has them all (their matrix is not positive definite); weaken some",
                         "RE102"))
    return problems


def _positive_definite(matrix: list[list[float]]) -> bool:
    """Cholesky in plain Python: the matrices are small, and ``validate`` imports no numpy."""
    size = len(matrix)
    lower = [[0.0] * size for _ in range(size)]
    for i in range(size):
        for j in range(i + 1):
            rest = matrix[i][j] - math.fsum(lower[i][k] * lower[j][k] for k in range(j))
            if i == j:
                if not rest > _PIVOT_TOLERANCE:
                    return False
                lower[i][i] = math.sqrt(rest)
            else:
                lower[i][j] = rest / lower[j][j]
    return True


def json_schema(kind: Literal["factor", "scenario", "tree"]) -> dict[str, Any]:
    """The published JSON Schema of a factor, scenario or tree file (``schemas/*.schema.json``)."""
    models: dict[str, type[StrictModel]] = {"factor": FactorFile, "scenario": ScenarioFile,
                                            "tree": TreeFile}
    model = models[kind]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            **model.model_json_schema(),
            "title": f"riskengine {kind} file"}


# ---------------------------------------------------------------------------------------------
# model trees (MODEL.md, "Version 2 additions")

Method = Literal["arithmetic", "geometric", "geometric_complements", "max", "min"]
Normalisation = Literal["scale", "minmax", "zscore", "rank"]
NODE_ID = SNAKE_ID


MAX_DISPLAY = 1e12  # a display scale beyond this prints nothing a reader can use
MAX_TREE_WEIGHT = 1e12  # weights are relative: a larger one only risks overflow in their sum


class DisplayScale(StrictModel):
    """How a node's value in [0, 1] is printed: ``min + (max - min) * value``."""

    min: Number = 0.0
    max: Number = 100.0
    unit: str = "score"

    @model_validator(mode="after")
    def _ordered(self) -> DisplayScale:
        if not self.max > self.min:
            raise ValueError(f"scale.max ({self.max:g}) must be greater than scale.min "
                             f"({self.min:g})")
        if not math.isfinite(self.max - self.min) or abs(self.max) > MAX_DISPLAY or \
                abs(self.min) > MAX_DISPLAY:
            raise ValueError(f"the display scale must lie within ±{MAX_DISPLAY:g}")
        return self


class BandSpec(StrictModel):
    """A named band: a root value on the display scale gets the first band whose min it
    reaches, bands being listed from the top of the scale down."""

    name: Annotated[str, Field(pattern=SNAKE_ID)]
    min: Number


class Transform(StrictModel):
    """Applied to a leaf's raw value before it is normalised over the population."""

    log_offset: Annotated[Number, Field(
        description="Take log(x + log_offset) first; x + offset must stay positive.")] | None = None
    winsorise: Annotated[list[Annotated[Number, Field(ge=0, le=1)]], Field(
        min_length=2, max_length=2,
        description="Clip at these population quantiles, e.g. [0.05, 0.95].")] | None = None

    @field_validator("winsorise")
    @classmethod
    def _ordered_quantiles(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError(f"winsorise needs lower < upper quantile (got {value[0]:g}, "
                             f"{value[1]:g})")
        return value


class TreeLeaf(StrictModel):
    """A factor at the bottom of a tree."""

    factor: Annotated[str, Field(pattern=SNAKE_ID, description="A factor id of the catalogue.")]
    weight: Annotated[Number, Field(gt=0, le=MAX_TREE_WEIGHT, description=(
        "Relative to its siblings; for max/min a multiplier."))] = 1.0
    inverted: bool = Field(default=False, description="The parent sees 1 - value.")
    normalise: Normalisation = Field(
        default="scale", description="scale: the factor file's scale; minmax, zscore (mapped "
        "to [0, 1] by the normal CDF) or rank (mid-rank percentile) over the population.")
    transform: Transform | None = None


class TreeNode(StrictModel):
    """An inner node: combines its children's values in [0, 1] into one value in [0, 1]."""

    id: Annotated[str, Field(pattern=NODE_ID)]
    name: NonEmptyText | None = None
    method: Method = "arithmetic"
    weight: Annotated[Number, Field(gt=0, le=MAX_TREE_WEIGHT)] = 1.0
    inverted: bool = Field(default=False, description="The parent sees 1 - value.")
    eps: Annotated[Number, Field(ge=0, lt=1, description="Floor of geometric terms.")] = 0.001
    min_coverage: Annotated[Number, Field(
        ge=0, le=1, description="Share of the children's weight that must be present.")] = 0.0
    round: Annotated[int, Field(ge=0, le=12, description=(
        "Round the node's display value half up to this many decimals before its parent uses "
        "it, as some published indices do (INFORM: 1)."))] | None = None
    description: str | None = None
    children: list[TreeChild] = Field(min_length=1)

    @model_validator(mode="after")
    def _multipliers_keep_values_in_range(self) -> TreeNode:
        if self.method in ("max", "min"):
            big = [str(getattr(c, "factor", None) or getattr(c, "id", "?"))
                   for c in self.children if c.weight > 1]
            if big:
                raise ValueError(f"in a {self.method} node a child's weight is a multiplier "
                                 f"and must be at most 1, so the node stays in [0, 1] (too "
                                 f"large: {', '.join(big)})")
        return self

    @property
    def label(self) -> str:
        return self.name or self.id


def _child_kind(value: Any) -> str:
    """A child with a ``factor`` key is a leaf, any other a node: one set of messages, not
    pydantic's attempt at both."""
    if isinstance(value, TreeLeaf) or (isinstance(value, dict) and "factor" in value):
        return TREE_LEAF
    return TREE_NODE


# union tags; they appear in pydantic's error locations and are dropped from findings
TREE_NODE, TREE_LEAF = "tree-node", "tree-leaf"
TreeChild = Annotated[Annotated[TreeNode, Tag(TREE_NODE)] | Annotated[TreeLeaf, Tag(TREE_LEAF)],
                      Discriminator(_child_kind)]
TreeNode.model_rebuild()


class TreeFile(StrictModel):
    """A model tree as written in ``models/<id>.yaml``."""

    id: Annotated[str, Field(pattern=SNAKE_ID, description="snake_case; equals the file stem")]
    name: NonEmptyText
    description: NonEmptyText
    scale: DisplayScale = DisplayScale()
    bands: Annotated[list[BandSpec], Field(min_length=1)] | None = None
    higher_is: Literal["better", "worse"] = Field(
        default="better", description="Whether a higher root value is the better outcome "
        "(stability) or the worse one (a risk index).")
    root: TreeNode

    @model_validator(mode="after")
    def _bands_descending(self) -> TreeFile:
        if self.bands is not None:
            mins = [b.min for b in self.bands]
            if any(a <= b for a, b in itertools.pairwise(mins)):
                raise ValueError("bands must be listed from the top of the scale down, each "
                                 f"min below the one before (got {mins})")
            names = [b.name for b in self.bands]
            if len(set(names)) != len(names):
                raise ValueError(f"band names must be unique (got {names})")
        return self


class LeafStatistics(StrictModel):
    """A leaf's raw point values over a population, after its transform."""

    values: tuple[float, ...]  # sorted
    low: float  # after winsorising: the bounds min-max normalisation uses
    high: float
    mean: float
    std: float


class Population(StrictModel):
    """The scenarios normalised together: one folder's scenarios that name the same tree."""

    name: str
    size: int
    members: tuple[str, ...]
    leaves: dict[str, LeafStatistics]


Scenario.model_rebuild()
