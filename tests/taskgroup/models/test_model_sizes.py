"""Parsing the `--sizes` option into SizeSpecs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskgroup.errors import InvalidInputError
from taskgroup.models import ENCODERS, SizeSpec, parse_size, parse_sizes
from taskgroup.models.sizes import MAX_WIDTH


def test_paper_sizes_are_xception_at_the_width_of_their_cost() -> None:
    full, half = parse_sizes("full=1.0,half=0.5")
    assert full == SizeSpec("full", encoder="xception", width=1.0, cost=1.0)
    assert half == SizeSpec("half", encoder="xception", width=0.5, cost=0.5)


def test_fixed_width_encoder_keeps_width_one_whatever_its_declared_cost() -> None:
    assert parse_size("r18=resnet18:1.0") == SizeSpec("r18", encoder="resnet18", width=1.0, cost=1.0)
    assert parse_size("r50=resnet50:2.5") == SizeSpec("r50", encoder="resnet50", width=1.0, cost=2.5)


def test_explicit_width_differs_from_declared_cost() -> None:
    assert parse_size(" small = xception:0.25@0.3 ") == SizeSpec("small", encoder="xception", width=0.3, cost=0.25)
    assert parse_size("tiny=0.1@0.2") == SizeSpec("tiny", encoder="xception", width=0.2, cost=0.1)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "comma-separated"),
        ("full=1.0,", "comma-separated"),
        ("full", "LABEL=[ENCODER:]COST"),
        ("=1.0", "LABEL=[ENCODER:]COST"),
        ("full=", "LABEL=[ENCODER:]COST"),
        ("full=abc", "cost 'abc' is not a number"),
        ("full=0", "positive"),
        ("full=-1", "positive"),
        ("full=nan", "must be a finite number"),
        ("full=inf", "must be a finite number"),
        ("full=1@x", "width 'x' is not a number"),
        ("full=1@0", "positive"),
        ("a=1@100", "size 'a=1@100': width must be at most 8"),  # ran out of memory (24 GB) in training
        ("a=1e308", "width must be at most 8"),  # the width is the cost when not given: overflowed in training
        ("full=vgg:1.0", "size 'full=vgg:1.0': unknown encoder 'vgg'"),  # the item, not only its label
        ("r18=resnet18:1.0@0.5", "size 'r18=resnet18:1.0@0.5': encoder 'resnet18' has a fixed width"),
        ("my size=1.0", "size label"),
        ("fü=1.0", "must be non-empty ASCII letters"),  # 'ü' is a letter: the message said letters only
        ("full=1.0,full=0.5", "'full' is given more than once"),
    ],
)
def test_bad_sizes_are_refused_with_a_message_naming_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_sizes(text)
    assert fragment in str(error.value)


def test_unknown_encoder_message_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_size("big=vgg16:2")
    for name in ("xception", "resnet18", "resnet34", "resnet50"):
        assert name in str(error.value)


def test_sizespec_refuses_bad_fields_directly() -> None:
    with pytest.raises(InvalidInputError, match="width"):
        SizeSpec("full", width=-0.5)
    with pytest.raises(InvalidInputError, match="unknown encoder"):
        SizeSpec("full", encoder="nope")


_labels = st.from_regex(r"[A-Za-z0-9_.\-]{1,12}", fullmatch=True)
_positive = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(label=_labels, encoder=st.sampled_from(ENCODERS.names()), cost=_positive,
       width=st.floats(min_value=1e-6, max_value=MAX_WIDTH, allow_nan=False, allow_infinity=False))
def test_a_size_written_back_as_text_parses_to_the_same_size(label: str, encoder: str, cost: float, width: float) -> None:
    if not ENCODERS.get(encoder).scales_with_width:
        width = 1.0
    size = SizeSpec(label, encoder=encoder, width=width, cost=cost)
    assert parse_size(str(size)) == size
