"""Loss-weighting and gradient methods for multi-task training, behind one registry.

Each method is one class in its own module of this package, registered with
``@WEIGHTINGS.register(name)``. Importing the package imports every module in it, so adding a
method is adding one file.
"""

import importlib
import pkgutil

from taskgroup.weighting.base import WEIGHTINGS, StepContext, WeightingMethod
from taskgroup.weighting.build import build_weighting

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
del _module

__all__ = ["WEIGHTINGS", "StepContext", "WeightingMethod", "build_weighting"]
