"""Argument types shared by the ``fusiongait`` sub-commands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse

__all__ = ["positive_number"]


def positive_number(text: str) -> float:
    """A number greater than 0 (seconds, speeds); refuses nan, zero and negatives with the text that came."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value
