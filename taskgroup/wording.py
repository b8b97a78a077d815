"""How messages count things, shared by the library's errors and the CLI's output."""

from __future__ import annotations


def counted(count: int, noun: str) -> str:
    """`1 network`, `2 networks`: a count with its noun in the right number."""
    return f"{count} {noun}" + ("" if count == 1 else "s")
