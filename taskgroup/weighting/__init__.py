"""Loss-weighting and gradient methods for multi-task training, behind one registry.

Each method is one class in its own module, registered with ``@WEIGHTINGS.register(name)``;
importing this package imports every built-in module so their names are registered.
"""

from taskgroup.weighting import (  # noqa: F401  (importing a module registers its method)
    achievement,
    connection_strength,
    dtp,
    dwa,
    gradnorm,
    mgda,
    pcgrad,
    uncertainty,
    uniform,
)
from taskgroup.weighting.base import WEIGHTINGS, StepContext, WeightingMethod
from taskgroup.weighting.build import build_weighting

__all__ = ["WEIGHTINGS", "StepContext", "WeightingMethod", "build_weighting"]
