"""riskengine: transparent partnership-stability scores for bilateral partnerships.

The public API, as a notebook or the CLI uses it::

    import riskengine as re
    catalogue = re.load_catalogue("factors/")
    scenario = re.load_scenario("scenarios/japan-turkey/baseline.yaml", catalogue)
    result = re.score(scenario)
    result.to_frame()

Names are imported on first use, so ``import riskengine`` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_catalogue": "riskengine.loading",
    "load_scenario": "riskengine.loading",
    "load_scenarios": "riskengine.loading",
    "Catalogue": "riskengine.loading",
    "load_project_scenarios": "riskengine.loading",
    "Loaded": "riskengine.loading",
    "find_project": "riskengine.project",
    "Project": "riskengine.project",
    "init_project": "riskengine.scaffold",
    "new_scenario": "riskengine.scaffold",
    "Scenario": "riskengine.models",
    "Factor": "riskengine.models",
    "score": "riskengine.scoring",
    "Result": "riskengine.scoring",
    "simulate": "riskengine.simulation",
    "simulate_many": "riskengine.simulation",
    "Simulation": "riskengine.simulation",
    "outlook": "riskengine.outlook",
    "sensitivity": "riskengine.sensitivity",
    "compare": "riskengine.compare",
    "sweep": "riskengine.parallel",
    "build_report": "riskengine.report",
    "InputError": "riskengine.problems",
    "Problem": "riskengine.problems",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'riskengine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """``riskengine.outlook`` is a function of the API and also a submodule. Importing the
    submodule (as compare and report do) makes Python set the package attribute to the module,
    which would shadow the function; this keeps the function the answer."""

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == value.__name__:
            function = getattr(value, name)
            super().__setattr__(name, function)
            return function
        return value


sys.modules[__name__].__class__ = _Package
