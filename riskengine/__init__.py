"""riskengine: transparent partnership-stability scores for bilateral partnerships.

The public API, as a notebook or the CLI uses it::

    import riskengine as rk
    catalogue = rk.load_catalogue("factors/")
    scenario = rk.load_scenario("scenarios/japan-turkey/baseline.yaml", catalogue)
    result = rk.score(scenario)
    result.to_frame()
    comparison = rk.compare(rk.load_scenarios("scenarios/", catalogue), catalogue=catalogue)
    comparison.to_frame()           # scenarios; comparison.outlooks_frame(): partnerships

Every result type (:class:`Result`, :class:`Simulation`, :class:`Outlook`,
:class:`Sensitivity`, :class:`Comparison`, :class:`Validation`, :class:`Diff`) has
``to_dict()`` (the JSON contract) and ``to_frame()`` (a pandas DataFrame).

Names are imported on first use, so ``import riskengine`` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # The exported functions named like their submodules: without these a type checker takes
    # rk.compare for the module, where _Package gives the function (other names are Any).
    from riskengine.compare import compare as compare
    from riskengine.diff import diff_paths as diff  # noqa: F401 (exported by _EXPORTS)
    from riskengine.outlook import outlook as outlook
    from riskengine.sensitivity import sensitivity as sensitivity

__version__ = "0.1.0"

_EXPORTS = {
    "load_catalogue": "riskengine.loading",
    "load_scenario": "riskengine.loading",
    "load_scenarios": "riskengine.loading",
    "Catalogue": "riskengine.loading",
    "load_project_scenarios": "riskengine.loading",
    "apply_project_scenarios": "riskengine.loading",
    "apply_scenarios": "riskengine.loading",
    "Loaded": "riskengine.loading",
    "find_project": "riskengine.project",
    "Project": "riskengine.project",
    "init_project": "riskengine.scaffold",
    "new_scenario": "riskengine.scaffold",
    "Scenario": "riskengine.models",
    "Factor": "riskengine.models",
    "score": "riskengine.scoring",
    "score_many": "riskengine.scoring",
    "Result": "riskengine.scoring",
    "simulate": "riskengine.simulation",
    "simulate_many": "riskengine.simulation",
    "Simulation": "riskengine.simulation",
    "outlook": "riskengine.outlook",
    "Outlook": "riskengine.outlook",
    "sensitivity": "riskengine.sensitivity",
    "Sensitivity": "riskengine.sensitivity",
    "compare": "riskengine.compare",
    "Comparison": "riskengine.compare",
    "validate": "riskengine.validation",
    "Validation": "riskengine.validation",
    # riskengine.diff is also a submodule: "module:attribute" names the function it exports
    "diff": "riskengine.diff:diff_paths",
    "diff_git": "riskengine.diff",
    "Diff": "riskengine.diff",
    "sweep": "riskengine.parallel",
    "build_report": "riskengine.report",
    "export_estimates": "riskengine.sheets",
    "import_estimates": "riskengine.sheets",
    "Workbook": "riskengine.sheets",
    "ImportResult": "riskengine.sheets",
    "InputError": "riskengine.problems",
    "Problem": "riskengine.problems",
}

__all__ = ["__version__", *_EXPORTS]


def _where(name: str) -> tuple[str, str] | None:
    """The module and attribute an exported name comes from."""
    spec = _EXPORTS.get(name)
    if spec is None:
        return None
    module, _, attribute = spec.partition(":")
    return module, attribute or name


def __getattr__(name: str) -> Any:
    where = _where(name)
    if where is None:
        raise AttributeError(f"module 'riskengine' has no attribute {name!r}")
    value = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """``riskengine.outlook`` (and ``diff``) is a function of the API and also a submodule.
    Importing the submodule (as compare and report do) makes Python set the package attribute
    to the module, which would shadow the function; this keeps the function the answer."""

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        where = _where(name) if isinstance(value, types.ModuleType) else None
        if where is not None and where[0] == value.__name__:
            function = getattr(value, where[1])
            super().__setattr__(name, function)
            return function
        return value


sys.modules[__name__].__class__ = _Package
