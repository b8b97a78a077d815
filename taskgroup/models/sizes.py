"""Network sizes: what a size label of a study (`full`, `half`, ...) means as an encoder, width and cost.

A study lists its sizes once, e.g. ``--sizes full=1.0,half=0.5``. Each item is

    LABEL=[ENCODER:]COST[@WIDTH]

- ``LABEL`` names the size in results and reports (ASCII letters, digits, ``_``, ``-``, ``.``);
- ``ENCODER`` is a registered encoder (default ``xception``);
- ``COST`` is the declared relative inference cost (the paper's unit: one full-size
  single-task network is 1.0);
- ``WIDTH`` is the encoder's width multiplier. It defaults to ``COST`` for encoders that scale
  with a width (``half=0.5`` is the Xception encoder at width 0.5, as in the paper) and to 1.0
  for fixed-width ones (``r18=resnet18:1.0``).

Examples: ``full=1.0``, ``half=0.5``, ``r18=resnet18:1.0``, ``small=xception:0.25@0.3``
(declared cost 0.25, built at width 0.3).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from taskgroup.errors import InvalidInputError
from taskgroup.models.encoders import ENCODERS
from taskgroup.numbers import finite_number

_LABEL = re.compile(r"^[A-Za-z0-9_.\-]+$")


MAX_WIDTH = 8.0
"""8x the full encoder's channels is 64x its convolutions' work; far wider only fails later, out of memory."""


@dataclass(frozen=True)
class SizeSpec:
    """One size of a study: its label, the encoder and width it is built with, and its declared cost."""

    label: str
    encoder: str = "xception"
    width: float = 1.0
    cost: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not _LABEL.match(self.label):
            raise InvalidInputError(
                f"size label {self.label!r} must be non-empty ASCII letters, digits, '_', '-' or '.'"
            )
        problem = _problem(self.encoder, self.width, self.cost)
        if problem:
            raise InvalidInputError(f"size {self.label!r}: {problem}")
        object.__setattr__(self, "width", float(self.width))
        object.__setattr__(self, "cost", float(self.cost))

    def __str__(self) -> str:
        """The item in `--sizes` syntax that parses back to this size."""
        return f"{self.label}={self.encoder}:{self.cost!r}@{self.width!r}"


def parse_size(item: str) -> SizeSpec:
    """Parse one `LABEL=[ENCODER:]COST[@WIDTH]` item (see the module docstring)."""
    text = item.strip()
    label, sep, rest = text.partition("=")
    if not sep or not label.strip() or not rest.strip():
        raise InvalidInputError(
            f"size {item!r} is not LABEL=[ENCODER:]COST[@WIDTH] (e.g. full=1.0, r18=resnet18:1.0)"
        )
    label, rest = label.strip(), rest.strip()
    encoder, colon, numbers = rest.rpartition(":")
    encoder = encoder.strip() if colon else "xception"
    cost_text, at, width_text = numbers.partition("@")
    cost = _number(cost_text, "cost", text)
    if encoder not in ENCODERS:
        raise InvalidInputError(f"size {text!r}: {_unknown_encoder(encoder)}")
    if at:
        width = _number(width_text, "width", text)
    else:
        width = cost if ENCODERS.get(encoder).scales_with_width else 1.0
    problem = _problem(encoder, width, cost)
    if problem:
        raise InvalidInputError(f"size {text!r}: {problem}")
    return SizeSpec(label=label, encoder=encoder, width=width, cost=cost)


def parse_sizes(text: str) -> tuple[SizeSpec, ...]:
    """Parse a comma-separated `--sizes` value, e.g. ``full=1.0,half=0.5``; labels must be unique."""
    items = text.split(",")
    if not text.strip() or any(not part.strip() for part in items):
        raise InvalidInputError(f"sizes {text!r}: expected comma-separated LABEL=[ENCODER:]COST[@WIDTH] items")
    sizes = tuple(parse_size(part) for part in items)
    labels = [size.label for size in sizes]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise InvalidInputError(f"sizes {text!r}: label {duplicates[0]!r} is given more than once")
    return sizes


def _problem(encoder: str, width: float, cost: float) -> str | None:
    """What is wrong with a size's encoder, width and cost, if anything (the caller names the size)."""
    for field, value in (("cost", cost), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value > 0):
            return f"{field} must be a positive number, got {value!r}"
    if width > MAX_WIDTH:
        return f"width must be at most {MAX_WIDTH:g} (the encoder's channels times it), got {width:g}"
    if encoder not in ENCODERS:
        return _unknown_encoder(encoder)
    if not ENCODERS.get(encoder).scales_with_width and width != 1.0:
        return f"encoder {encoder!r} has a fixed width; width must be 1.0, got {width}"
    return None


def _unknown_encoder(name: str) -> str:
    return f"unknown encoder {name!r} (known: {', '.join(ENCODERS.names())})"


def _number(text: str, field: str, item: str) -> float:
    value = finite_number(text, f"size {item!r}: {field}")
    if value <= 0:
        raise InvalidInputError(f"size {item!r}: {field} must be a positive number, got {text.strip()!r}")
    return value
