"""Backends that run worker slots; importing this package registers every built-in one.

A new backend is one module defining a `Backend` subclass decorated with
`@BACKENDS.register("name")`, imported below.
"""

from jobs.backends import local  # noqa: F401  (registration side effect)
from jobs.backends import ray  # noqa: F401  (registration side effect; Ray itself is imported lazily)
from jobs.backends.base import BACKENDS, Backend, WorkRequest, parse_devices

__all__ = ["BACKENDS", "Backend", "WorkRequest", "parse_devices"]
