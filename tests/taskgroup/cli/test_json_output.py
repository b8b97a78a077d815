"""`--json` output is strict JSON that any parser reads: numbers that are not finite are `null`."""

from __future__ import annotations

import json
import math

import numpy as np

from taskgroup.cli.common import emit_json


def test_non_finite_numbers_and_numpy_scalars_become_plain_json(capsys):
    emit_json({"loss": math.nan, "budgets": [1.0, math.inf, np.float64(2.5)], "count": np.int64(3),
               "nested": ({"spread": -math.inf},), "name": "a"})
    text = capsys.readouterr().out
    parsed = json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))  # strict
    assert parsed == {"loss": None, "budgets": [1.0, None, 2.5], "count": 3, "nested": [{"spread": None}], "name": "a"}
